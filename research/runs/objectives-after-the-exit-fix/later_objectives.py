"""Four rule-based objectives written as a user would write their own, after research log section 59, to test the
library as it stands on objectives no run has scored (section 60). Fixed, with this file and the pairs below
committed, before any run scored them; each returns a score in [0, 1] per answer, higher is better, and imports
nothing from peft_pblora (the sentence split is section 29's, from `unseen_objectives`, so its folder goes on
PYTHONPATH). Before fixing them only the shipped candidates were read, to keep objectives the unguided model shows on
some prompts and not on others. The pairs to run, seed 0 first, then seeds 1 and 2:

    certainty against hedging, intensifiers against conciseness, people against second person, senses against list
    format

    PYTHONPATH=research/runs/objectives-after-the-exit-fix:research/runs/unseen-objectives \
        python scripts/steering_benchmark.py --preset cpu --test_prompts 48 --seeds 0 \
        --recipe log-ratio-forms-from-pairs-train-again \
        --pairs later_objectives:Certainty,unseen_objectives:Hedging ...
"""

from __future__ import annotations

import re

from unseen_objectives import sentence_share

CERTAINTY = re.compile(
    r"\b(?:definitely|certainly|clearly|surely|absolutely|always|never|undoubtedly|without a doubt|guaranteed|"
    r"for sure|of course|no doubt|proven)\b",
    re.IGNORECASE,
)
INTENSIFIER = re.compile(
    r"\b(?:very|really|extremely|incredibly|highly|truly|super|deeply|especially|particularly|remarkably|so much)\b",
    re.IGNORECASE,
)
PEOPLE = re.compile(
    r"\b(?:friends?|family|families|people|others|someone|everyone|together|community|partners?|colleagues?|"
    r"loved ones?|parents?|children|kids|neighbou?rs?|team(?:mates?)?)\b",
    re.IGNORECASE,
)
SENSES = re.compile(
    r"\b(?:see|seeing|hear|hearing|smell|taste|touch|sounds?|look(?:s|ing)?|bright|colou?rs?|quiet|noise|warm|cool|"
    r"soft|fresh|scent|light|sunlight|breathe|breathing)\b",
    re.IGNORECASE,
)


class Certainty:
    """Confident tone: the share of sentences that assert without hedging ("definitely", "always", "of course")."""

    name = "certainty"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, CERTAINTY.search) for answer in responses]


class Intensifiers:
    """Emphatic style: the share of sentences with an intensifier ("very", "really", "extremely", "especially")."""

    name = "intensifiers"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, INTENSIFIER.search) for answer in responses]


class People:
    """Social content: the share of sentences that bring in other people ("friends", "family", "together")."""

    name = "people"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, PEOPLE.search) for answer in responses]


class Senses:
    """Vivid description: the share of sentences with a word of the senses ("see", "hear", "warm", "breathe")."""

    name = "senses"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, SENSES.search) for answer in responses]


__all__ = ["Certainty", "Intensifiers", "People", "Senses"]
