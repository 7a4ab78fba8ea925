"""Four rule-based objectives written as a user would write their own, after the out-of-sample check of research log
section 56, to test the library as it stands on objectives no run has scored (section 57). Fixed, with this file and
the pairs below committed, before any run scored them; each returns a score in [0, 1] per answer, higher is better,
and imports nothing from peft_pblora (the sentence split is section 29's, from `unseen_objectives`, so its folder goes
on PYTHONPATH). Before fixing them only the shipped candidates were read, to keep objectives the unguided model
shows on some prompts and not on others (a fifth, an answer that opens without a filler, was dropped there: 81% of
the candidates already score its top). The pairs to run, seed 0 first, then seeds 1 and 2:

    reasons against conciseness, timing against positivity, colons against plain words, comparisons against
    questions

    PYTHONPATH=research/runs/objectives-after-fresh-prompts:research/runs/unseen-objectives:\
        research/runs/rare-features \
        python scripts/steering_benchmark.py --preset cpu --test_prompts 48 --seeds 0 \
        --recipe log-ratio-forms-from-pairs-train-again \
        --pairs new_objectives:Reasons,conciseness ...
"""

from __future__ import annotations

import re

from unseen_objectives import sentence_share

REASON = re.compile(
    r"\b(?:because|since|due to|so that|in order to|which means|that's why|this is why|the reason|thanks to)\b",
    re.IGNORECASE,
)
COMPARISON = re.compile(r"\b(?:than|compared|comparison|more|less|better|worse|fewer|rather|instead)\b", re.IGNORECASE)
COLON_OR_SEMICOLON = re.compile(r"[:;]")
TIME_OR_ROUTINE = re.compile(
    r"\b(?:daily|every day|days?|weeks?|weekly|minutes?|hours?|mornings?|evenings?|nights?|today|tomorrow|schedule|"
    r"routine|before|after|during|while)\b",
    re.IGNORECASE,
)


class Reasons:
    """Explanation: the share of sentences that give a reason ("because", "due to", "so that", "which means")."""

    name = "reasons"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, REASON.search) for answer in responses]


class Comparisons:
    """Reasoning by contrast: the share of sentences that compare ("than", "more", "better", "instead")."""

    name = "comparisons"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, COMPARISON.search) for answer in responses]


class Colons:
    """Punctuation: the share of sentences (and lines) holding a colon or a semicolon."""

    name = "colons"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, COLON_OR_SEMICOLON.search) for answer in responses]


class Timing:
    """Planning: the share of sentences that say when ("daily", "before bed", "for ten minutes", "a routine")."""

    name = "timing"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, TIME_OR_ROUTINE.search) for answer in responses]


__all__ = ["Colons", "Comparisons", "Reasons", "Timing"]
