"""Three more rule-based objectives written as a user would write their own, after the strength search stopped
weakening an objective the probe cannot judge (research log section 30), to test it and the recipe on objectives
nobody ran before. Fixed, with this file and the pairs below committed, before any run scored them; each returns a
score in [0, 1] per answer, higher is better, and imports nothing from peft_pblora. The pairs to run, each with one
of section 29's objectives:

    questions against hedging, parentheses against short sentences, first person against exclamation,
    questions against parentheses

    PYTHONPATH=research/runs/rare-features:research/runs/unseen-objectives python scripts/steering_benchmark.py \
        --preset cpu --pairs rare_features:Questions,unseen_objectives:Hedging ...
"""

from __future__ import annotations

import re

SENTENCE = re.compile(r"[^.!?\n]*[A-Za-z][^.!?\n]*[.!?]*")
PARENTHETICAL = re.compile(r"\([^()]*[A-Za-z][^()]*\)")
FIRST_PERSON = re.compile(r"\b(?:I|I'm|I've|I'd|me|my|mine|we|we're|us|our|ours)\b", re.IGNORECASE)


def answer_sentences(answer: str) -> list[str]:
    """The answer's sentences (and lines without an end mark) that hold a letter."""
    return [piece.strip() for piece in SENTENCE.findall(answer) if piece.strip()]


def sentence_share(answer: str, holds) -> float:
    """The share of the answer's sentences for which `holds(sentence)` is true; 0 for an answer without one."""
    parts = answer_sentences(answer)
    return sum(1 for part in parts if holds(part)) / len(parts) if parts else 0.0


class Questions:
    """Engagement: the share of sentences that are questions (end with a question mark)."""

    name = "questions"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, lambda part: part.endswith("?")) for answer in responses]


class Parentheses:
    """Asides: the share of sentences holding a parenthetical with a word in it."""

    name = "parentheses"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, PARENTHETICAL.search) for answer in responses]


class FirstPerson:
    """Voice: the share of sentences in the first person (I, me, my, we, us, our, ...)."""

    name = "first_person"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, FIRST_PERSON.search) for answer in responses]
