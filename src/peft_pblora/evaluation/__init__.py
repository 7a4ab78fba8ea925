"""Evaluation of a preference sweep: scorers, Pareto metrics (hypervolume, MIP, Spearman) and plots."""

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

__all__ = [
    "Conciseness",
    "PromptRelevance",
    "Scorer",
    "SequenceClassifierScorer",
    "Thoroughness",
    "VaderPositivity",
    "hypervolume",
    "linearly_supported",
    "mean_inner_product",
    "non_dominated",
    "normalise",
    "pareto_plot",
    "preference_grid",
    "spearman_over_resampled_prompts",
]
