"""Pairs that differ by one sentence: an answer preferred to itself without the sentence that earns its score.

A best-against-worst pair contrasts two whole answers, so a feature written in a few scattered words (a word of the
senses in one sentence of five) is one difference among many, and the sequence-level reward may learn whatever else
tells the two answers apart. An answer and itself less one sentence share every other token, so the reward's margin
can only come from that sentence and the text right after it. Per prompt, each answer of the objective's pairs loses
each of its sentences but the last in turn (a removed last sentence would leave the answer's beginning, a contrast of
length like a first-sentence variant's); the version whose loss lowers the objective's score most is paired below the
whole answer. Where no loss lowers the score (an objective that prefers fewer sentences), the prompt gets no pair.

A sentence ends at ".", "!" or "?" before white space (`SENTENCE_END`), so a line without one belongs to the sentence
it runs into, and a list number ("1.") is a piece of its own that stays when the item after it is removed: a list's
edit pair sets it against itself with one item reduced to its bare number.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from datasets import Dataset, DatasetDict

from ..evaluation.scorers import SENTENCE_END, Scorer
from .added_pairs import with_added_pairs

LETTER = re.compile(r"[^\W\d_]")
TRAILING_SPACE = re.compile(r"\s*")


def sentence_pieces(text: str) -> list[str]:
    """The text cut after each sentence end and the white space that follows it; joined, the pieces are the text.

    Example:
        >>> sentence_pieces("One. Two!\\nThree")
        ['One. ', 'Two!\\n', 'Three']
    """
    pieces, start = [], 0
    for match in SENTENCE_END.finditer(text):
        end = TRAILING_SPACE.match(text, match.end()).end()
        pieces.append(text[start:end])
        start = end
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def one_sentence_removals(text: str) -> list[str]:
    """The text without each of its sentences but the last in turn (those with a letter: a list number such as
    "1." is no sentence, and stays where it is), stripped; none for a text of one sentence.

    Example:
        >>> one_sentence_removals("One. 2. Two! Three")
        ['2. Two! Three', 'One. 2. Three']
    """
    pieces = sentence_pieces(text)
    return [
        "".join(pieces[:index] + pieces[index + 1 :]).strip()
        for index, piece in enumerate(pieces[:-1])
        if LETTER.search(piece)
    ]


def is_sentence_edit(chosen: str, rejected: str) -> bool:
    """Whether one answer of a pair is the other without one sentence but the last: a pair of this module, whose
    length difference is the removed sentence and says nothing of how the objective's labels follow length. A
    first-sentence variant is its sample's beginning, which no removal gives unless the sample repeats its first
    sentence."""
    longer, shorter = (chosen, rejected) if len(chosen) >= len(rejected) else (rejected, chosen)
    return shorter.strip() in one_sentence_removals(longer)


def sentence_edit_rows(pairs: Dataset, scorer: Scorer) -> dict[str, list]:
    """One objective's sentence-edit pairs for its `pairs`: per prompt, among the answers of its pairs, the answer
    and one-sentence removal whose score `scorer` lowers most, where it lowers it; the score drop is the gap."""
    answers_per_prompt: dict[str, dict[str, None]] = {}  # each prompt's distinct answers, in order
    for prompt, chosen, rejected in zip(pairs["prompt"], pairs["chosen"], pairs["rejected"], strict=True):
        answers_per_prompt.setdefault(prompt, {}).update(dict.fromkeys((chosen, rejected)))
    versions = [
        (prompt, answer, removal)
        for prompt, answers in answers_per_prompt.items()
        for answer in answers
        for removal in one_sentence_removals(answer)
    ]
    rows: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "score_gap": []}
    if not versions:
        return rows
    wholes = list(dict.fromkeys((prompt, answer) for prompt, answer, _ in versions))  # each answer scored once
    whole_scores = dict(zip(wholes, scorer([p for p, _ in wholes], [answer for _, answer in wholes]), strict=True))
    removed_scores = scorer([prompt for prompt, _, _ in versions], [removal for _, _, removal in versions])
    best: dict[str, tuple[float, str, str]] = {}
    for (prompt, answer, removal), removed in zip(versions, removed_scores, strict=True):
        drop = float(whole_scores[prompt, answer] - removed)
        if drop > best.get(prompt, (0.0,))[0]:
            best[prompt] = (drop, answer, removal)
    for prompt, (drop, answer, removal) in best.items():
        rows["prompt"].append(prompt)
        rows["chosen"].append(answer)
        rows["rejected"].append(removal)
        rows["score_gap"].append(drop)
    return rows


def with_sentence_edit_pairs(
    data: DatasetDict, scorers: Sequence[Scorer], matched: Collection[str] = ()
) -> DatasetDict:
    """`data` (objective -> pairs with `prompt`, `chosen`, `rejected`, `score_gap`) with each objective's
    sentence-edit pairs (`sentence_edit_rows`) appended, scored by its scorer in `scorers`; the `matched` objectives
    (length- or score-matched) get none, as a removed sentence changes the length and may change the other scores."""
    return with_added_pairs(data, scorers, sentence_edit_rows, "the sentence-edit pairs", matched)
