"""Pairs against the empty answer: per prompt, the objective's chosen answer preferred to ending at once.

Sampled candidates are never empty, so no pair shows the PARM an answer that ends at its first token, though guided
decoding at a short-answer objective's vertex ends some answers there. Where the objective's scorer scores the empty
answer below the chosen one, one such pair per prompt adds that verdict to training; where it does not (an objective
that prefers silence), no pair is added. What it changes on the steering benchmark is in docs/results.md: trained on
plain-text prompts it does not remove the empty answers at full strength; like two pairs per prompt, more training
makes them common enough for the probe to weaken the objective.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from datasets import Dataset, DatasetDict

from ..evaluation.scorers import Scorer
from .added_pairs import with_added_pairs

NON_ANSWER = ""


def has_empty_answer(chosen: str, rejected: str) -> bool:
    """Whether a pair holds an answer of no words: it compares answering with not answering, not two answers."""
    return not chosen.strip() or not rejected.strip()


def non_answer_rows(pairs: Dataset, scorer: Scorer) -> dict[str, list]:
    """The pairs against the empty answer for one objective's `pairs`: per prompt, the chosen answer of its first
    pair (the largest gap) against `NON_ANSWER`, where `scorer` scores the empty answer lower; the score gap too."""
    first_chosen: dict[str, str] = {}
    for prompt, chosen in zip(pairs["prompt"], pairs["chosen"], strict=True):
        first_chosen.setdefault(prompt, chosen)
    prompts, answers = list(first_chosen), list(first_chosen.values())
    rows: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "score_gap": []}
    if not prompts:
        return rows
    answer_scores = scorer(prompts, answers)
    empty_scores = scorer(prompts, [NON_ANSWER] * len(prompts))
    for prompt, answer, high, low in zip(prompts, answers, answer_scores, empty_scores, strict=True):
        if high > low:
            rows["prompt"].append(prompt)
            rows["chosen"].append(answer)
            rows["rejected"].append(NON_ANSWER)
            rows["score_gap"].append(float(high - low))
    return rows


def with_non_answer_pairs(data: DatasetDict, scorers: Sequence[Scorer], matched: Collection[str] = ()) -> DatasetDict:
    """`data` (objective -> pairs with `prompt`, `chosen`, `rejected`, `score_gap`) with each objective's pairs
    against the empty answer (`non_answer_rows`) appended, scored by the objective's scorer in `scorers`; the
    `matched` objectives (length- or score-matched) get none, as an empty answer matches no answer's length or
    scores."""
    return with_added_pairs(data, scorers, non_answer_rows, "the pairs against the empty answer", matched)
