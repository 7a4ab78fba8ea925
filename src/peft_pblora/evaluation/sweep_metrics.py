"""The numbers of a preference sweep: HV, MIP, Spearman correlations, and, from `steering_verdicts` and
`answer_quality`, whether alpha steers each objective and what its answers are like.

A sweep (the pipeline's sweep.json) holds, per swept preference alpha, each objective's mean score, its per-prompt
scores and the answers; `summarise_sweep` turns it into the run's metrics.json.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import spearmanr

from .answer_quality import base_nll_at_vertices, degenerate_share, degenerate_shares_at_vertices
from .metrics import (
    hypervolume,
    linearly_supported,
    mean_inner_product,
    non_dominated,
    normalise,
    spearman_over_resampled_prompts,
)
from .steering_verdicts import steering_effects, steering_verdicts
from .weight_curves import base_at_highest_score, has_per_prompt_scores, levels_off, rises_late, steepest_falls


def front_alphas_no_linear_weighting_picks(alphas: Sequence[Sequence[float]], points: np.ndarray) -> list:
    """The preferences whose sweep point is Pareto-optimal among the sweep's points but maximises no weighted sum of
    the scores: the non-convex parts of the front the sweep reached (per-objective rescaling changes neither).

    Examples:
        >>> import numpy as np
        >>> from peft_pblora.evaluation import front_alphas_no_linear_weighting_picks
        >>> alphas = [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
        >>> front_alphas_no_linear_weighting_picks(alphas, np.array([[1.0, 0.0], [0.4, 0.4], [0.0, 1.0]]))
        [[0.5, 0.5]]
    """
    unsupported = non_dominated(points) & ~linearly_supported(points)
    return [list(alpha) for alpha, flag in zip(alphas, unsupported, strict=True) if flag]


def summarise_sweep(sweep: dict) -> dict:
    """HV, MIP and per-objective Spearman correlations of a sweep, with the normalisation and reference point used.

    Scores are min-max normalised per objective over the sweep's points and the base point together; the reference
    point for hypervolume is -0.1 in every normalised objective (just below the worst point).
    """
    objectives = sweep["objectives"]
    alphas = np.asarray(sweep["alphas"], dtype=float)
    raw = np.asarray([[point["scores"][name] for name in objectives] for point in sweep["points"]])
    base_raw = np.asarray([[sweep["base"]["scores"][name] for name in objectives]])
    everything = np.vstack([raw, base_raw])
    low, high = everything.min(0), everything.max(0)
    points, base = normalise(raw, low, high), normalise(base_raw, low, high)
    reference = [-0.1] * len(objectives)
    effects, falls, levels, late_rises = (
        steering_effects(sweep),
        steepest_falls(sweep),
        levels_off(sweep),
        rises_late(sweep),
    )
    spearman = {}
    for index, name in enumerate(objectives):
        constant = np.ptp(raw[:, index]) == 0 or np.ptp(alphas[:, index]) == 0
        spearman[name] = None if constant else float(spearmanr(alphas[:, index], raw[:, index]).statistic)
    return {
        "objectives": objectives,
        "normalisation": {
            "method": "min-max over sweep points and base point",
            "low": low.tolist(),
            "high": high.tolist(),
        },
        "reference_point": reference,
        "hypervolume_sweep": hypervolume(points, reference),
        "hypervolume_base": hypervolume(base, reference),
        "mip_sweep": mean_inner_product(alphas, points),
        "mip_base": mean_inner_product(alphas, np.repeat(base, len(alphas), axis=0)),
        "spearman_score_vs_weight": spearman,
        "spearman_over_resampled_prompts": {
            name: spearman_over_resampled_prompts(
                alphas[:, index], [point["per_prompt"][name] for point in sweep["points"]]
            )
            for index, name in enumerate(objectives)
            if spearman[name] is not None and has_per_prompt_scores(sweep)
        },
        "steering_effect": effects,
        "steepest_fall": falls,
        "levels_off": levels,
        "rises_late": late_rises,
        "steering_verdict": steering_verdicts(spearman, effects, falls, levels, late_rises),
        "degenerate_share_at_vertex": degenerate_shares_at_vertices(sweep),
        "degenerate_share_base": degenerate_share(sweep["base"]["quality"]) if sweep["base"].get("quality") else None,
        "base_nll_at_vertex": base_nll_at_vertices(sweep),
        "base_nll_unguided": sweep["base"].get("quality", {}).get("base_nll"),
        "base_at_highest_score": base_at_highest_score(sweep),
        "front_alphas_no_linear_weighting_picks": front_alphas_no_linear_weighting_picks(sweep["alphas"], raw),
    }
