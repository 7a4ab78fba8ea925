"""Evaluation of a preference sweep: scorers, Pareto metrics (hypervolume, MIP, Spearman), a sweep's summary, the
answers' likelihood under the base, and plots."""

from .answer_quality import content_words, is_repetitive, is_wordless, response_quality, text_quality
from .base_likelihood import answer_nll, mean_nll
from .metrics import (
    hypervolume,
    linearly_supported,
    mean_inner_product,
    non_dominated,
    normalise,
    preference_grid,
    spearman_over_resampled_prompts,
)
from .plots import pareto_plot
from .scorers import (
    Conciseness,
    PromptRelevance,
    Scorer,
    SequenceClassifierScorer,
    Thoroughness,
    VaderPositivity,
)
from .steering_verdicts import steering_effects, steering_verdict, steering_verdicts
from .sweep_metrics import front_alphas_no_linear_weighting_picks, summarise_sweep
from .weight_curves import (
    base_at_highest_score,
    leaves_little_room,
    levels_off,
    paired_difference,
    rises_late,
    standard_error,
    steepest_falls,
)

__all__ = [
    "Conciseness",
    "PromptRelevance",
    "Scorer",
    "SequenceClassifierScorer",
    "Thoroughness",
    "VaderPositivity",
    "answer_nll",
    "base_at_highest_score",
    "front_alphas_no_linear_weighting_picks",
    "hypervolume",
    "linearly_supported",
    "mean_inner_product",
    "non_dominated",
    "normalise",
    "paired_difference",
    "pareto_plot",
    "preference_grid",
    "content_words",
    "is_repetitive",
    "is_wordless",
    "leaves_little_room",
    "levels_off",
    "mean_nll",
    "response_quality",
    "rises_late",
    "spearman_over_resampled_prompts",
    "standard_error",
    "steepest_falls",
    "steering_effects",
    "steering_verdict",
    "steering_verdicts",
    "summarise_sweep",
    "text_quality",
]
