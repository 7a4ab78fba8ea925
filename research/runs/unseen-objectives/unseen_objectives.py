"""Four rule-based objectives written as a user would write their own, to test the library's recipe on objectives
it was never run on (research log section 29). They were fixed, with this file committed, before any run scored
them; each returns a score in [0, 1] per answer, higher is better, and imports nothing from peft_pblora.

    PYTHONPATH=research/runs/unseen-objectives python scripts/steering_benchmark.py --preset cpu \
        --pairs unseen_objectives:Hedging,unseen_objectives:Numbers ...
"""

from __future__ import annotations

import re

SENTENCE = re.compile(r"[^.!?\n]*[A-Za-z][^.!?\n]*[.!?]*")
HEDGE = re.compile(
    r"\b(?:may|might|could|perhaps|possibly|often|usually|generally|typically|likely|sometimes)\b", re.IGNORECASE
)
DIGIT = re.compile(r"\d")


def answer_sentences(answer: str) -> list[str]:
    """The answer's sentences (and lines without an end mark) that hold a letter."""
    return [piece.strip() for piece in SENTENCE.findall(answer) if piece.strip()]


def sentence_share(answer: str, holds) -> float:
    """The share of the answer's sentences for which `holds(sentence)` is true; 0 for an answer without one."""
    parts = answer_sentences(answer)
    return sum(1 for part in parts if holds(part)) / len(parts) if parts else 0.0


class Hedging:
    """Epistemic tone: the share of sentences that hedge ("may", "often", "typically", ...)."""

    name = "hedging"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, HEDGE.search) for answer in responses]


class Numbers:
    """Specificity: the share of sentences that give a number (hold a digit)."""

    name = "numbers"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, DIGIT.search) for answer in responses]


class Exclamation:
    """Enthusiasm in punctuation: the share of sentences that end with an exclamation mark."""

    name = "exclamation"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, lambda part: part.endswith("!")) for answer in responses]


class ShortSentences:
    """Rhythm: 1 where the sentences average at most 6 words, 0 at 26 or more, linear between; 0 without one."""

    name = "short_sentences"

    def __call__(self, prompts, responses):
        scores = []
        for answer in responses:
            parts = answer_sentences(answer)
            if not parts:
                scores.append(0.0)
                continue
            mean_words = sum(len(part.split()) for part in parts) / len(parts)
            scores.append(min(1.0, max(0.0, (26 - mean_words) / 20)))
        return scores
