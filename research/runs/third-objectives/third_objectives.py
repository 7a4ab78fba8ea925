"""Three more rule-based objectives written as a user would write their own, to test the library as it stands after
research log section 32 on objectives no run has scored (section 33). Fixed, with this file and the pairs below
committed, before any run scored them; each returns a score in [0, 1] per answer, higher is better, and imports
nothing from peft_pblora (the sentence split is section 29's, from `unseen_objectives`, so both folders go on
PYTHONPATH). The pairs to run, seeds 0 and 1:

    long words against short sentences, examples against exclamation, quotes against long words,
    examples against quotes

    PYTHONPATH=research/runs/third-objectives:research/runs/unseen-objectives python scripts/steering_benchmark.py \
        --preset cpu --pairs third_objectives:LongWords,unseen_objectives:ShortSentences ...
"""

from __future__ import annotations

import re

from unseen_objectives import sentence_share

WORD = re.compile(r"[A-Za-z]+")
EXAMPLE = re.compile(r"\b(?:for example|for instance|e\.g\.|such as|say,)", re.IGNORECASE)
QUOTED = re.compile(r"[\"\u201c][^\"\u201c\u201d]*[A-Za-z][^\"\u201c\u201d]*[\"\u201d]")
LONG_WORD_LETTERS = 8
LONG_WORD_SHARE_AT_FULL_SCORE = 0.3


class LongWords:
    """Vocabulary: the share of words with 8 or more letters, scaled so that 30% of them scores 1; 0 without a
    word."""

    name = "long_words"

    def __call__(self, prompts, responses):
        scores = []
        for answer in responses:
            words = WORD.findall(answer)
            share = sum(len(word) >= LONG_WORD_LETTERS for word in words) / len(words) if words else 0.0
            scores.append(min(1.0, share / LONG_WORD_SHARE_AT_FULL_SCORE))
        return scores


class Examples:
    """Concreteness: the share of sentences that give an example ("for example", "for instance", "e.g.", "such
    as")."""

    name = "examples"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, EXAMPLE.search) for answer in responses]


class Quotes:
    """Quotation: the share of sentences holding a phrase in double quotes with a word in it."""

    name = "quotes"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, QUOTED.search) for answer in responses]
