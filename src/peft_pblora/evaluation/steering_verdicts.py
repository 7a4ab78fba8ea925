"""Whether alpha steers each objective of a sweep: its steering effect (the score at its vertex against where its
weight is 0, paired over prompts), the verdict by the steering benchmark's rule, and what each verdict advises."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .answer_quality import vertex_point
from .metrics import STEERING_SPEARMAN_TARGET
from .weight_curves import is_clearly_positive, paired_difference


def steering_effects(sweep: dict) -> dict[str, dict[str, Any]]:
    """Per objective: mean over prompts of score(alpha = its vertex) - score(points giving it weight 0), with its
    paired standard error, and, when the sweep has the base's per-prompt scores, the same against the unguided base
    at its vertex (`gain_over_base`) and where its weight is 0 (`gain_over_base_at_weight_zero`). With more than two
    objectives "where its weight is 0" is every grid point of the face opposite its vertex, averaged per prompt. An
    effect several standard errors above 0 is steering, not prompt-sampling noise; the gain at the vertex tells a real
    rise there from a fall elsewhere caused by another objective, and the gain at weight 0 an objective that the other
    objectives' guidance already raises (`lifted_by_other_objectives`)."""
    objectives = sweep["objectives"]
    base_scores = sweep.get("base", {}).get("per_prompt")
    effects = {}
    for index, name in enumerate(objectives):
        vertex = vertex_point(sweep, index)
        others = [point for point in sweep["points"] if point["alpha"][index] == 0.0]
        if vertex is None or not others or "per_prompt" not in vertex:
            continue
        at_vertex = vertex["per_prompt"][name]
        at_weight_zero = np.mean([point["per_prompt"][name] for point in others], axis=0)
        effects[name] = paired_difference(at_vertex, at_weight_zero)
        if base_scores:
            effects[name]["gain_over_base"] = paired_difference(at_vertex, base_scores[name])
            effects[name]["gain_over_base_at_weight_zero"] = paired_difference(at_weight_zero, base_scores[name])
    return effects


def rises_above_base(effect: Mapping[str, Any]) -> bool:
    """Whether an objective's guidance raises it above the unguided model at its own vertex: its `gain_over_base`
    (from `steering_effects`) above two standard errors. An objective can steer without it, when the other
    objectives' guidance lowers it where its own weight is small.

    Args:
        effect (Mapping[str, Any]): One objective's entry of `steering_effects`; one without `gain_over_base` (a
            sweep without the base's per-prompt scores) does not rise.

    Returns:
        bool: True where the gain is more than two standard errors above 0.

    Examples:
        >>> from peft_pblora.evaluation.steering_verdicts import rises_above_base
        >>> rises_above_base({"effect": 0.4, "standard_error": 0.05, "gain_over_base": {"effect": 0.06,
        ...     "standard_error": 0.04}})
        False
    """
    return is_clearly_positive(effect.get("gain_over_base"))


def lifted_by_other_objectives(effect: Mapping[str, Any]) -> bool:
    """Whether the other objectives' guidance already raises an objective above the unguided model where its own
    weight is 0 (averaged per prompt over those grid points, with more than two objectives): its
    `gain_over_base_at_weight_zero` (from `steering_effects`) above two standard errors. Such an
    objective does not conflict with the others on these prompts, so its own weight has less of it left to trade.

    Args:
        effect (Mapping[str, Any]): One objective's entry of `steering_effects`; one without
            `gain_over_base_at_weight_zero` (a sweep without the base's per-prompt scores) is not lifted.

    Returns:
        bool: True where the gain at weight 0 is more than two standard errors above 0.

    Examples:
        >>> from peft_pblora.evaluation.steering_verdicts import lifted_by_other_objectives
        >>> lifted_by_other_objectives({"effect": 0.04, "standard_error": 0.04, "gain_over_base": {"effect": 0.25,
        ...     "standard_error": 0.03}, "gain_over_base_at_weight_zero": {"effect": 0.21, "standard_error": 0.03}})
        True
    """
    return is_clearly_positive(effect.get("gain_over_base_at_weight_zero"))


# a verdict that more than one resample of the test prompts in five would turn over is fragile: more test prompts,
# not another recipe, would settle it
FRAGILE_RESAMPLE_SHARES = (0.2, 0.8)


def is_fragile_verdict(steers: bool, spearman: float | None, resample_share: float | None) -> bool:
    """Whether resampling the test prompts turns an objective's steering verdict over more than one time in five: it
    steers, and its Spearman reaches the target in under 80% of the resamples; or its Spearman misses the target and
    reaches it in over 20% (`spearman_over_resampled_prompts`' `share_at_least_threshold`). A failure on the effect
    alone, with the Spearman at the target, is not one the Spearman's resamples can judge.

    Args:
        steers (bool): Whether the verdict is "steers" (`steering_verdict`).
        spearman (float | None): Its Spearman correlation on all the test prompts (None: undefined).
        resample_share (float | None): The share of resamples reaching the target (None: not measured).

    Returns:
        bool: True for a fragile verdict; False where there is no share to judge by.

    Examples:
        >>> from peft_pblora.evaluation.steering_verdicts import is_fragile_verdict
        >>> steers_by_luck, fails_robustly = is_fragile_verdict(True, 1.0, 0.55), is_fragile_verdict(False, 0.7, 0.05)
        >>> steers_by_luck, fails_robustly, is_fragile_verdict(False, 0.7, 0.3)
        (True, False, True)
    """
    if resample_share is None:
        return False
    low, high = FRAGILE_RESAMPLE_SHARES
    misses = spearman is not None and round(spearman, 9) < STEERING_SPEARMAN_TARGET
    return (steers and resample_share < high) or (misses and resample_share > low)


STEERING_VERDICT_ADVICE = {
    "steers": "steers: its mean score rises with its weight and its effect is above two standard errors",
    "within_noise": "changes with its weight by less than two standard errors: measure on more held-out prompts "
    "(--test_prompts) before trusting or discarding it",
    "not_monotone": "rises at its vertex but not steadily with its weight: the trade-off between the vertices is not "
    "controlled (with guidance: a weaker one, or with PARM --weaker_objective_strengths)",
    "levels_off": "rises with its weight up to the weight named below, and above it stays within two standard errors "
    "of its peak (its scorer's ceiling, or as far as its guidance takes it): alpha trades it only below that weight, "
    "and more weight gives no more of it. Below the scorer's ceiling, a top weight back within noise of the peak "
    "is often the test prompts' noise: on the steering benchmark 3 of 4 such verdicts steered on 48 prompts they had "
    "not seen, at the same strengths, and three quarters of the strength, tried on three of them, made none more "
    "steer there; measure on more --test_prompts before weakening it",
    "rises_late": "stays within two standard errors of its score at its lowest weight up to the weight named below, "
    "and rises at every step above it: alpha trades it only above that weight (with PARM, guiding it at twice its "
    "strength, the others' unchanged, started the rise at a lower weight and made it steer in the one run measured; "
    "--stronger_objective_strengths 2 lets the strength search do so where its probe is inconclusive)",
    "against_its_weight": "falls as its weight rises, by more than two standard errors: alpha does not control this "
    "objective; read the diagnosis before using the model for it",
    "falls_with_more_weight": "falls by more than two standard errors from one of its weights to a higher one (named "
    "below): more weight gives less of it there; keep its weight below that point, or weaken its guidance (with PARM "
    "--weaker_objective_strengths)",
    "does_not_move": "does not move with its weight (constant across the sweep)",
    "not_measured": "no steering effect could be measured (no per-prompt scores at its vertex, or a score that is "
    "not a number)",
}


def steering_verdict(
    spearman: float | None,
    effect: float | None,
    standard_error: float | None,
    steepest_fall: dict[str, float] | None = None,
    level: dict[str, float] | None = None,
    late_rise: dict[str, float] | None = None,
) -> str:
    """Whether alpha steers one objective in a sweep, by the steering benchmark's rule, so that a report can say so
    where HV and MIP cannot.

    Args:
        spearman (float | None): Spearman correlation of the objective's mean score with its weight over the sweep
            (None where the scores are constant).
        effect (float | None): Its steering effect: the score at its vertex minus where its weight is 0, paired over
            prompts (see `steering_effects`).
        standard_error (float | None): The effect's standard error.
        steepest_fall (dict[str, float] | None, optional): Its largest fall from one weight to a higher one
            (`steepest_falls`), or None (no fall, or not measured). Defaults to `None`.
        level (dict[str, float] | None, optional): Where its score peaks below its top weight after rising at every
            step (`levels_off`), or None (no such peak, or not measured). Defaults to `None`.
        late_rise (dict[str, float] | None, optional): Where its score starts rising at every step to its top weight
            after staying at its lowest weight's level (`rises_late`), or None. Defaults to `None`.

    Returns:
        str: "steers" (Spearman >= 0.9 and an effect above two standard errors), else "against_its_weight" (an
        effect more than two standard errors below 0), "falls_with_more_weight" (a fall beyond two standard errors
        between two of its weights), "within_noise" (within two standard errors of 0),
        "levels_off" (a steady rise up to a peak below its top weight, and no fall beyond two standard errors after
        it), "rises_late" (at its lowest weight's level up to a weight, then a rise at every step to its top one),
        "not_monotone" (a clear rise, but not steadily with the weight), "does_not_move" (constant) or
        "not_measured" (no effect, or a value that is not a number). `STEERING_VERDICT_ADVICE` says each in words.

    Examples:
        >>> from peft_pblora.evaluation import steering_verdict
        >>> steering_verdict(1.0, 0.30, 0.05), steering_verdict(1.0, 0.05, 0.04), steering_verdict(0.7, 0.30, 0.05)
        ('steers', 'within_noise', 'not_monotone')
        >>> peak_before_the_vertex = {"from_weight": 0.5, "to_weight": 1.0, "fall": 0.29, "standard_error": 0.08}
        >>> steering_verdict(0.3, 0.24, 0.09, peak_before_the_vertex)
        'falls_with_more_weight'
        >>> at_its_ceiling_from_half = {"at_weight": 0.5, "score": 0.99, "rise": 0.87, "standard_error": 0.04}
        >>> steering_verdict(0.7, 0.86, 0.04, None, at_its_ceiling_from_half)
        'levels_off'
    """
    if spearman is None:
        return "does_not_move"
    values = (spearman, effect, standard_error)
    if any(value is None or not math.isfinite(value) for value in values):
        return "not_measured"
    if round(spearman, 9) >= STEERING_SPEARMAN_TARGET and effect > 2 * standard_error:  # 0.8999... is 0.9
        return "steers"
    if effect < 0 and effect <= -2 * standard_error:
        return "against_its_weight"
    if steepest_fall is not None and steepest_fall["fall"] > 2 * steepest_fall["standard_error"]:
        return "falls_with_more_weight"
    if effect <= 2 * standard_error:
        return "within_noise"
    if level is not None:
        return "levels_off"
    return "rises_late" if late_rise is not None else "not_monotone"


def steering_verdicts(
    spearman: dict[str, float | None],
    effects: dict[str, dict[str, float]],
    steepest_falls: dict[str, dict[str, float] | None] | None = None,
    levels: dict[str, dict[str, float] | None] | None = None,
    late_rises: dict[str, dict[str, float] | None] | None = None,
) -> dict[str, str]:
    """`steering_verdict` of every objective of a sweep's metrics.

    Args:
        spearman (dict[str, float | None]): `spearman_score_vs_weight` of the metrics, by objective.
        effects (dict[str, dict[str, float]]): `steering_effect` of the metrics (`effect`, `standard_error` per
            objective); an objective missing from it is "not_measured".
        steepest_falls (dict[str, dict | None], optional): `steepest_fall` of the metrics, by objective; None (an
            older metrics file) judges without it. Defaults to `None`.
        levels (dict[str, dict | None], optional): `levels_off` of the metrics, by objective; None (an older metrics
            file) judges without it. Defaults to `None`.
        late_rises (dict[str, dict | None], optional): `rises_late` of the metrics, by objective; None (an older
            metrics file) judges without it. Defaults to `None`.

    Returns:
        dict[str, str]: The verdict per objective, in `spearman`'s order.

    Examples:
        >>> from peft_pblora.evaluation import steering_verdicts
        >>> effects = {"tone": {"effect": 0.4, "standard_error": 0.05}}
        >>> effects["length"] = {"effect": -0.2, "standard_error": 0.05}
        >>> steering_verdicts({"tone": 1.0, "length": -0.9}, effects)
        {'tone': 'steers', 'length': 'against_its_weight'}
    """
    falls, levels, late_rises = steepest_falls or {}, levels or {}, late_rises or {}
    return {
        name: steering_verdict(
            value,
            effects.get(name, {}).get("effect"),
            effects.get(name, {}).get("standard_error"),
            falls.get(name),
            levels.get(name),
            late_rises.get(name),
        )
        for name, value in spearman.items()
    }
