"""Which objectives' preference labels follow the answer's length, read from the pairs themselves.

A summed log-probability reward adds one term per answer token, so on pairs whose chosen answer is mostly the longer
(or mostly the shorter) one its margin measures length before anything else: the frozen model's summed
log-probability alone puts such pairs tens of nats apart. The mean log-probability per token does not. The end-to-end
run gives the mean to exactly the objectives whose pairs follow length by this rule, the built-in ones included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from datasets import Dataset

from .non_answer_pairs import has_empty_answer
from .sentence_edit_pairs import is_sentence_edit


def word_count(text: str) -> int:
    """Words separated by whitespace: the length that length signs and length-matched pairs compare."""
    return len(text.split())


LENGTH_FOLLOWING_SIGN = 0.5
"""The |length sign| from which an objective's labels follow length: without ties, the chosen answer is the longer
(or the shorter) one in three pairs of four. The built-in objectives' pairs from the shipped candidates lie at |0.96|
to |1.00| (conciseness, thoroughness) or at most |0.32| (the other six, paired on whole samples)."""


def length_sign(chosen: Sequence[str], rejected: Sequence[str], sentence_edits_added: bool = False) -> float:
    """The share of pairs whose chosen answer has more words than the rejected one minus the share with fewer:
    +1 or -1 where the label follows length, near 0 where it ignores length. A pair with an empty answer (a pair
    against the empty answer, `data.non_answer_pairs`) compares answering with not answering and is left out; so,
    where `sentence_edits_added`, is a pair of an answer and itself less one sentence (`data.sentence_edit_pairs`),
    longer by construction.

    Args:
        chosen (Sequence[str]): each pair's chosen answer.
        rejected (Sequence[str]): each pair's rejected answer, in the same order.
        sentence_edits_added (bool): whether sentence-edit pairs were added to these pairs.

    Example:
        >>> length_sign(["a short answer", "yes", "one two three"], ["no", "a longer answer here", "four five six"])
        0.0
        >>> length_sign(["yes", "no"], ["yes, and more", "no, because"])
        -1.0
        >>> length_sign(["yes", "no"], ["yes, and more", ""])
        -1.0
    """
    if len(chosen) != len(rejected):
        raise ValueError(f"{len(chosen)} chosen answers but {len(rejected)} rejected ones")
    pairs = zip(chosen, rejected, strict=True)
    answered = [
        (first, second)
        for first, second in pairs
        if not has_empty_answer(first, second) and not (sentence_edits_added and is_sentence_edit(first, second))
    ]
    if not answered:
        raise ValueError("no pairs of two non-empty answers (but sentence edits) to measure a length sign on")
    longer = [word_count(first) - word_count(second) for first, second in answered]
    return float(np.mean(np.sign(longer)))


def length_signs(pairs: Mapping[str, Dataset], sentence_edits_added: bool = False) -> dict[str, float]:
    """Each objective's `length_sign` over its preference pairs (`chosen` and `rejected` columns)."""
    return {name: length_sign(data["chosen"], data["rejected"], sentence_edits_added) for name, data in pairs.items()}


def follows_length(sign: float, threshold: float = LENGTH_FOLLOWING_SIGN) -> bool:
    """Whether a length sign is far enough from 0 for the summed reward to measure length first.

    Args:
        sign (float): a `length_sign`.
        threshold (float, optional): the |sign| from which labels follow length (`LENGTH_FOLLOWING_SIGN`).

    Example:
        >>> follows_length(-0.88), follows_length(0.29)
        (True, False)
    """
    return abs(sign) >= threshold
