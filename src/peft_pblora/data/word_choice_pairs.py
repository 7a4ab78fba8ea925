"""Pairs that differ by one word: an answer's beginning up to the word that earns its score, against the same
beginning followed by what the frozen base would have written there instead.

A pair of two whole answers differs in a hundred tokens, so a feature written in a few scattered words (the senses)
is one difference among many, and the reward learns whatever else tells the answers apart. Per distinct answer of
an objective's pairs, the word (not the first) whose removal lowers the objective's score most; the pair is the answer
up to and including that word, against the same beginning, cut at the last token boundary before the word, followed
by the base's most likely next token, among its `ALTERNATIVES` most likely, whose text scores lower and is another
word (`is_another_word`: not only spaces, nor the word's own beginning, after which the base could still write the
word). The two share every token but the last, so the margin can only come from the word, and the alternative is
fluent, so the margin cannot be won by lowering a token the base never writes. Each such pair differs in a token or
two where a whole-answer pair differs in a hundred, so it is learned to about a tenth of their margin;
`WORD_CHOICE_PAIR_WEIGHT` gives it the loss weight of ten pairs (the `weight` column).
Made `unfinished`, the two sides are an answer's beginning that no end-of-answer token follows (the `unfinished`
column): otherwise the margin can also be won by ending the answer right after the word.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from datasets import Dataset, DatasetDict, Value

from ..evaluation.scorers import Scorer
from ..trainer.preference_data import UNFINISHED_COLUMN, WEIGHT_COLUMN, PreferenceTokenizer, is_loss_weight
from .added_pairs import with_added_pairs, with_default_columns

logger = logging.getLogger(__name__)
WORD = re.compile(r"\S+")
ALTERNATIVES = 10  # the base's most likely next tokens an alternative is chosen from
WORD_CHOICE_PAIR_WEIGHT = 10.0  # each pair's loss weight: its margin reaches a tenth of a whole-answer pair's


def objectives_left_without(counts: dict[str, int]) -> list[str]:
    """The objectives that got no word-choice pair where another got some (`counts`: objective -> pairs added). On
    the steering benchmark such an objective stopped steering against one with them in 3 of 3 runs (conciseness
    against emphasis and against relevance: the other objective's pairs lifted it at its own vertex), so the run
    warns of them.

    Args:
        counts (dict[str, int]): objective -> how many word-choice pairs it got.

    Example:
        >>> objectives_left_without({"conciseness": 0, "relevance": 141}), objectives_left_without({"a": 0, "b": 0})
        (['conciseness'], [])
    """
    return [name for name, count in counts.items() if not count] if any(counts.values()) else []


def left_without_advice(names: Sequence[str]) -> str:
    """What to do about objectives `objectives_left_without` names."""
    return (
        f"{', '.join(names)} got no word-choice pair while the other objectives did; on the steering benchmark an "
        "objective without them stopped steering against one with them in 3 of 3 runs, the others' pairs making "
        "their objective score well at its vertex too (docs/results.md): if it does not steer, run again without "
        "--word_choice_pairs"
    )


def warn_of_objectives_left_without(counts: dict[str, int]) -> None:
    """Log `left_without_advice` where some objectives got word-choice pairs and others none."""
    left_without = objectives_left_without(counts)
    if left_without:
        logger.warning("%s.", left_without_advice(left_without))


def check_word_choice_weight_share(share: Any) -> None:
    """Raises ValueError unless `share` can bound the word-choice pairs' loss weight (None, or a finite number > 0)."""
    if share is not None and not (is_loss_weight(share) and share > 0):
        raise ValueError(f"word_choice_weight_share must be None or a finite number > 0, got {share!r}")


def bounded_pair_weight(weight: float, other_weight: float, added: int, share: float | None) -> float:
    """Each of an objective's `added` word-choice pairs' loss weight: `weight`, lowered where together they would
    weigh more than `share` times its other pairs' loss weight (`other_weight`); None bounds nothing. One objective
    can get far more such pairs than another (1 to 141 on the steering benchmark), and at weight 10 the most of them
    stopped both objectives of their run.

    Args:
        weight (float): each word-choice pair's loss weight before the bound.
        other_weight (float): the objective's other pairs' loss weights, summed.
        added (int): how many word-choice pairs the objective got.
        share (float | None): the most the word-choice pairs may weigh together, in multiples of `other_weight`.

    Example:
        >>> bounded_pair_weight(10.0, 95.0, 141, 5.0), bounded_pair_weight(10.0, 44.0, 10, 5.0)
        (3.368794326241135, 10.0)
    """
    if share is None or not added:
        return weight
    return min(weight, share * other_weight / added)


def word_choice_pair_weights(data: DatasetDict, counts: dict[str, int]) -> dict[str, float]:
    """The loss weight of each objective's word-choice pairs in `data` (its last rows), where `counts` says it got
    some: what `pairing.json` records after `bounded_pair_weight`.

    Args:
        data (DatasetDict): objective -> its pairs, the word-choice pairs last, with a `weight` column.
        counts (dict[str, int]): objective -> how many word-choice pairs were appended.

    Example:
        >>> from datasets import Dataset, DatasetDict
        >>> data = DatasetDict({"a": Dataset.from_dict({"weight": [1.0, 6.5]}),
        ...                     "b": Dataset.from_dict({"weight": [1.0]})})
        >>> word_choice_pair_weights(data, {"a": 1, "b": 0})
        {'a': 6.5}
    """
    return {name: data[name][WEIGHT_COLUMN][-1] for name, count in counts.items() if count}


def check_word_choice_pair_weight(weight: Any) -> None:
    """Raises ValueError unless `weight` can weigh the word-choice pairs' loss (a finite number >= 0)."""
    if not is_loss_weight(weight):
        raise ValueError(f"word_choice_pair_weight must be a finite number >= 0, got {weight!r}")


def word_removals(answer: str) -> list[tuple[int, int, str]]:
    """(start, end, the answer without that word and the spaces before it) for each word but the first; the line
    breaks before a word stay, as they stay in the pair's beginning.

    Example:
        >>> word_removals("We see it"), word_removals("Tips:\\n\\n**Rest**")
        ([(3, 6, 'We it'), (7, 9, 'We see')], [(7, 15, 'Tips:\\n\\n')])
    """
    spans = [match.span() for match in WORD.finditer(answer)]
    return [(start, end, answer[:start].rstrip(" ") + answer[end:]) for start, end in spans[1:]]


@dataclass(frozen=True)
class BeforeWord:
    """What the base reads just before an answer's word: the prompt's ids as training renders them, the answer's
    tokens that lie wholly before the word, their text, and the token the answer goes on with (the word's first)."""

    prompt_ids: list[int]
    answer_ids: list[int]
    text: str
    word_first_id: int


class NextTokens:
    """The frozen base's most likely next tokens after a prompt and an answer's beginning, rendered as training
    renders a pair (`PreferenceTokenizer`; the prompt as a user turn where training uses the chat template)."""

    def __init__(self, model: Any, tokenizer: Any, chat_prompts: bool) -> None:
        self.model, self.tokenizer, self.chat_prompts = model, tokenizer, chat_prompts
        self.rendering = PreferenceTokenizer(tokenizer, None, None)
        self.device = next(model.parameters()).device

    @cached_property
    def special_ids(self) -> set[int]:
        """The tokenizer's special token ids (EOS and the like), read once."""
        return set(self.tokenizer.all_special_ids)

    def before_word(self, prompt: str, with_word: str, start: int) -> BeforeWord | None:
        """The answer `with_word` (up to and including the word at `start`) cut at the last token boundary before
        the word, so that the base is asked from the tokens it reads there in training (a blank line may be two
        tokens there and one alone); None where no token lies wholly before the word."""
        shown = [{"role": "user", "content": prompt}] if self.chat_prompts else prompt
        prompt_ids, answer_ids = self.rendering.answer_ids(shown, with_word, "word choice")
        for count in range(len(answer_ids) - 1, 0, -1):
            text = self.tokenizer.decode(answer_ids[:count])
            if with_word[:start].startswith(text) and text.strip():
                return BeforeWord(prompt_ids, answer_ids[:count], text, answer_ids[count])
        return None

    def ranking(self, before: BeforeWord) -> list[int]:
        """The `ALTERNATIVES` most likely next token ids after `before`, most likely first."""
        ids = torch.tensor([before.prompt_ids + before.answer_ids], device=self.device)
        with torch.no_grad():
            logits = self.model(input_ids=ids).logits[0, -1]
        return logits.topk(ALTERNATIVES).indices.tolist()

    def alternatives(self, before: BeforeWord) -> list[str]:
        """The texts the base's likeliest next tokens add after `before`, decoded in context (a SentencePiece token
        decodes its leading space only there), most likely first; the word's own first token and the special tokens
        (EOS: an end of the answer, no word) left out."""
        texts = []
        for token in self.ranking(before):
            if token == before.word_first_id or token in self.special_ids:
                continue
            continued = self.tokenizer.decode(before.answer_ids + [token])
            if continued.startswith(before.text):
                texts.append(continued[len(before.text) :])
        return texts


def is_another_word(text: str, word_text: str) -> bool:
    """Whether an alternative's `text` is a word other than `word_text`: not only spaces, nor the word's own
    beginning (a space or "**" before "**bold**", " can" before " cannot"), after which the base could still write
    the word.

    Args:
        text (str): what the alternative adds after the shared beginning.
        word_text (str): what the word adds there, its spaces or line breaks included.

    Example:
        >>> is_another_word(" Know", " **Research**:"), is_another_word(" **", "**Research**:")
        (True, False)
    """
    return bool(text.strip()) and not word_text.lstrip().startswith(text.lstrip())


def word_choice_rows(
    pairs: Dataset, scorer: Scorer, next_tokens: NextTokens, unfinished: bool = False
) -> dict[str, list]:
    """One objective's word-choice pairs for its `pairs` (see the module docstring), each, where `unfinished`, marked
    as an answer's beginning (no EOS after it); the score drop of the word's removal is the gap. Their loss weight is
    `with_word_choice_pairs`'s to set, once it knows how many there are."""
    answers: dict[tuple[str, str], None] = {}  # each prompt's distinct answers, in order
    for prompt, chosen, rejected in zip(pairs["prompt"], pairs["chosen"], pairs["rejected"], strict=True):
        answers.update(dict.fromkeys(((prompt, chosen), (prompt, rejected))))
    rows: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "score_gap": []}
    for prompt, answer in answers:
        removals = word_removals(answer)
        if not removals:
            continue
        whole = scorer([prompt], [answer])[0]
        scores = scorer([prompt] * len(removals), [removal for _, _, removal in removals])
        drops = [whole - score for score in scores]
        drop, (start, end, _) = max(zip(drops, removals, strict=True), key=lambda item: item[0])
        with_word = answer[:end]
        before = next_tokens.before_word(prompt, with_word, start) if drop > 0 else None
        if before is None:
            continue
        target = scorer([prompt], [with_word])[0]
        for text in next_tokens.alternatives(before):
            if not is_another_word(text, with_word[len(before.text) :]):
                continue
            alternative = before.text + text
            if scorer([prompt], [alternative])[0] >= target:
                continue
            for column, value in zip(rows, (prompt, with_word, alternative, float(drop)), strict=True):
                rows[column].append(value)
            break
    if unfinished:
        rows[UNFINISHED_COLUMN] = [True] * len(rows["prompt"])
    return rows


def with_float_weights(pairs: Dataset) -> Dataset:
    """`pairs` with its `weight` column as floats, so that a fractional weight added after whole ones is kept."""
    if pairs.features[WEIGHT_COLUMN] == Value("float64"):
        return pairs
    return pairs.cast_column(WEIGHT_COLUMN, Value("float64"))


def with_word_choice_pairs(
    data: DatasetDict,
    scorers: Sequence[Scorer],
    model: Any,
    tokenizer: Any,
    chat_prompts: bool = False,
    weight: float = WORD_CHOICE_PAIR_WEIGHT,
    matched: Collection[str] = (),
    unfinished: bool = False,
    weight_share: float | None = None,
) -> DatasetDict:
    """`data` with each objective's word-choice pairs (`word_choice_rows`) appended at loss weight `weight` (lowered
    to fit `weight_share`, with a warning where that leaves 0), every other pair at weight 1 (the `weight` column);
    where `unfinished`, the added pairs end with no EOS and every other pair as a whole answer (the `unfinished`
    column).

    Args:
        data (DatasetDict): objective -> its pairs, with `prompt`, `chosen`, `rejected` and `score_gap` columns.
        scorers (Sequence[Scorer]): one scorer per objective, found by its `name`.
        model: the frozen base, which proposes each word's alternative.
        tokenizer: the base's tokenizer.
        chat_prompts (bool): whether training renders each prompt as a user turn (`train_in_chat_format`).
        weight (float): each added pair's loss weight, a finite number >= 0.
        matched (Collection[str]): the length- or score-matched objectives, which get none.
        unfinished (bool): whether each added pair's two sides are an answer's beginning, followed by no EOS.
        weight_share (float | None): where given, an objective's added pairs weigh together at most this many times
            its other pairs (`bounded_pair_weight`).

    Example:
        >>> import torch
        >>> from datasets import Dataset, DatasetDict
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
        >>> _ = torch.manual_seed(0)
        >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
        ...                                      num_hidden_layers=1, num_attention_heads=2)).eval()
        >>> backend = Tokenizer(models.WordLevel({"<pad>": 0, "</s>": 1, **{f"w{i}": i for i in range(2, 64)}},
        ...                                      unk_token="<pad>"))
        >>> backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>")
        >>> class CountW5:  # the objective: how often the answer says w5
        ...     name = "w5"
        ...     def __call__(self, prompts, responses):
        ...         return [float(response.split().count("w5")) for response in responses]
        >>> pairs = Dataset.from_dict({"prompt": ["w3 w4"], "chosen": ["w7 w5 w8"], "rejected": ["w7 w8"],
        ...                            "score_gap": [1.0]})
        >>> extended = with_word_choice_pairs(DatasetDict({"w5": pairs}), [CountW5()], model, tokenizer)
        >>> added = extended["w5"][:]  # the made pair, then the answer up to w5 against the base's alternative
        >>> added["chosen"], added["weight"]
        (['w7 w5 w8', 'w7 w5'], [1.0, 10.0])
    """
    check_word_choice_pair_weight(weight)
    check_word_choice_weight_share(weight_share)
    if not isinstance(unfinished, bool):
        raise TypeError(f"unfinished must be True or False, got {unfinished!r}")
    columns = [WEIGHT_COLUMN, UNFINISHED_COLUMN] if unfinished else [WEIGHT_COLUMN]
    weighted = DatasetDict(
        {name: with_float_weights(with_default_columns(pairs, columns)) for name, pairs in data.items()}
    )
    next_tokens = NextTokens(model, tokenizer, chat_prompts)

    def rows_of(pairs: Dataset, scorer: Scorer) -> dict[str, list]:
        rows = word_choice_rows(pairs, scorer, next_tokens, unfinished)
        added = len(rows["prompt"])
        other_weight = sum(pairs[WEIGHT_COLUMN])
        bounded = bounded_pair_weight(weight, other_weight, added, weight_share)
        if added and weight > 0 and bounded == 0:
            logger.warning(
                "word_choice_weight_share: %s's other pairs weigh %s in total, so its word-choice pairs (%d) weigh 0 "
                "and train nothing",
                scorer.name,
                other_weight,
                added,
            )
        return {**rows, WEIGHT_COLUMN: [bounded] * added}

    return with_added_pairs(weighted, scorers, rows_of, "the word-choice pairs", matched)
