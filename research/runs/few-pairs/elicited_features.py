"""Parentheses with an eliciting system prompt: the same scorer as `rare_features.Parentheses`, declaring a system turn
under which the model writes asides in parentheses, so that its candidates differ on the feature in more prompts
(research log section 43). Both `rare-features` and `unseen-objectives` go on PYTHONPATH with this folder:

    PYTHONPATH=research/runs/few-pairs:research/runs/rare-features:research/runs/unseen-objectives \
        python scripts/steering_benchmark.py --preset cpu --test_prompts 48 --seeds 1 \
        --recipe log-ratio-forms-from-pairs-train-again --pairs elicited_features:ElicitedParentheses,relevance
"""

from __future__ import annotations

from rare_features import Parentheses


class ElicitedParentheses(Parentheses):
    """Asides, as `Parentheses`; its candidates are also sampled under `eliciting_system_prompt`."""

    eliciting_system_prompt = (
        "You are a helpful assistant. In your answers, add short clarifying asides in parentheses (like this one)."
    )
