"""Four rule-based objectives written as a user would write their own, after every rule of the recipe so far (research
log section 48), to test the library as it stands on objectives no run has scored. Fixed, with this file and the pairs
below committed, before any run scored them; each returns a score in [0, 1] per answer, higher is better, and imports
nothing from peft_pblora (the sentence split is section 29's, from `unseen_objectives`, so both folders go on
PYTHONPATH). The pairs to run at seed 0, in this order:

    connectives against emphasis, caution against affirmative, connectives against caution,
    emphasis against affirmative, affirmative against contractions, caution against positivity

    PYTHONPATH=research/runs/late-objectives:research/runs/unseen-objectives:research/runs/fresh-objectives \
        python scripts/steering_benchmark.py --preset cpu --test_prompts 48 --seeds 0 \
        --recipe log-ratio-forms-from-pairs-train-again \
        --pairs late_objectives:Connectives,late_objectives:Emphasis ...
"""

from __future__ import annotations

import re

from unseen_objectives import sentence_share

CONNECTIVE_OPENING = re.compile(
    r"^\W*(?:however|also|additionally|first(?:ly)?|second(?:ly)?|third(?:ly)?|next|then|finally|furthermore|"
    r"moreover|therefore|thus|instead|meanwhile|similarly|overall|lastly|besides|otherwise|"
    r"for (?:example|instance)|in addition|as a result|in fact|on the other hand|in short|in summary)\b",
    re.IGNORECASE,
)
EMPHASIS_SPAN = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
FULL_SCORE_EMPHASIS_SPANS = 3
CAUTION = re.compile(
    r"\b(?:safe(?:ly|ty)?|careful(?:ly)?|caution|risks?|risky|dangers?|dangerous|consult|doctor|professional|"
    r"warning|harm(?:ful)?|injur(?:y|ies))\b",
    re.IGNORECASE,
)
NEGATION = re.compile(r"\b(?:not|no|never|none|nothing|nobody|neither|nor|cannot|without)\b|n't\b", re.IGNORECASE)


class Connectives:
    """Discourse style: the share of sentences that open with a connective ("However", "For example", "Finally",
    ...)."""

    name = "connectives"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, CONNECTIVE_OPENING.search) for answer in responses]


class Emphasis:
    """Format: bold markdown spans (`**...**` or `__...__`), 0 for none rising to 1 at three or more."""

    name = "emphasis"

    def __call__(self, prompts, responses):
        return [min(1.0, len(EMPHASIS_SPAN.findall(answer)) / FULL_SCORE_EMPHASIS_SPANS) for answer in responses]


class Caution:
    """Content: the share of sentences that speak of safety or risk ("safe", "careful", "consult a doctor", ...)."""

    name = "caution"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, CAUTION.search) for answer in responses]


class Affirmative:
    """Tone: the share of sentences without a negation ("not", "never", "don't", "without", ...); an answer without a
    sentence scores 0."""

    name = "affirmative"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, lambda sentence: not NEGATION.search(sentence)) for answer in responses]


__all__ = ["Affirmative", "Caution", "Connectives", "Emphasis"]
