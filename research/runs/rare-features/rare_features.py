"""Three more rule-based objectives written as a user would write their own, after the strength search stopped
weakening an objective the probe cannot judge (research log section 30), to test it and the recipe on objectives
nobody ran before. Fixed, with this file and the pairs below committed, before any run scored them; each returns a
score in [0, 1] per answer, higher is better, and imports nothing from peft_pblora (its sentence split is section
29's, from `unseen_objectives`, so both folders go on PYTHONPATH). The pairs to run:

    questions against hedging, parentheses against short sentences, first person against exclamation,
    questions against parentheses

    PYTHONPATH=research/runs/rare-features:research/runs/unseen-objectives python scripts/steering_benchmark.py \
        --preset cpu --pairs rare_features:Questions,unseen_objectives:Hedging ...
"""

from __future__ import annotations

import re

from unseen_objectives import sentence_share

PARENTHETICAL = re.compile(r"\([^()]*[A-Za-z][^()]*\)")
FIRST_PERSON = re.compile(r"\b(?:I|I'm|I've|I'd|me|my|mine|we|we're|us|our|ours)\b", re.IGNORECASE)


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
