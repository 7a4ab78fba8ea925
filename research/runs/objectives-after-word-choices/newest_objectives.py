"""Four rule-based objectives written as a user would write their own, after research log section 79, to test the
library as it stands, with and without the word-choice pairs, on objectives no run has scored (section 80). Fixed,
with this file and the pairs below committed, before any run scored them; each returns a score in [0, 1] per answer,
higher is better, and imports nothing from peft_pblora (the sentence split is section 29's, from `unseen_objectives`,
so its folder goes on PYTHONPATH). Before fixing them only the shipped candidates were read, to keep objectives the
unguided model shows on some prompts and not on others, and of kinds no earlier objective is: tense, a topic, a
grammatical person used with the reader, and clause structure. The pairs to run, at seed 0, with each recipe:

    future against conciseness, health against list format, inclusive voice against second person, commas against
    short sentences

    PYTHONPATH=research/runs/objectives-after-word-choices:research/runs/unseen-objectives \
        python scripts/steering_benchmark.py --preset cpu --test_prompts 48 --seeds 0 \
        --recipe log-ratio-forms-from-pairs-train-again \
        --pairs newest_objectives:Future,conciseness ...
"""

from __future__ import annotations

import re

from unseen_objectives import answer_sentences, sentence_share

FUTURE = re.compile(r"\b(?:will|won't|shall|going to|\w+'ll)\b", re.IGNORECASE)
HEALTH = re.compile(
    r"\b(?:health|healthy|healthier|sleep|exercise|body|stress|diet|nutrition|energy|mental|physical|well-?being)\b",
    re.IGNORECASE,
)
INCLUSIVE = re.compile(r"\b(?:we|us|our|ours|ourselves|let's)\b", re.IGNORECASE)


class Future:
    """Forward-looking tense: the share of sentences in a future form ("will", "going to", "you'll")."""

    name = "future"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, FUTURE.search) for answer in responses]


class Health:
    """A topic: the share of sentences about health ("sleep", "exercise", "stress", "energy")."""

    name = "health"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, HEALTH.search) for answer in responses]


class InclusiveVoice:
    """Speaking with the reader: the share of sentences in the first person plural ("we", "our", "let's")."""

    name = "inclusive_voice"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, INCLUSIVE.search) for answer in responses]


class Commas:
    """Clause structure: commas per sentence, 1 at two or more, 0 without a sentence."""

    name = "commas"

    def __call__(self, prompts, responses):
        scores = []
        for answer in responses:
            parts = answer_sentences(answer)
            scores.append(min(1.0, sum(part.count(",") for part in parts) / len(parts) / 2) if parts else 0.0)
        return scores


__all__ = ["Commas", "Future", "Health", "InclusiveVoice"]
