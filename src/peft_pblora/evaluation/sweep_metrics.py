"""The numbers of a preference sweep: HV, MIP, Spearman correlations, steering effects, whether alpha steers each
objective, and answer quality.

A sweep (the pipeline's sweep.json) holds, per swept preference alpha, each objective's mean score, its per-prompt
scores and the answers; `summarise_sweep` turns it into the run's metrics.json.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from .metrics import (
    STEERING_SPEARMAN_TARGET,
    hypervolume,
    linearly_supported,
    mean_inner_product,
    non_dominated,
    normalise,
    spearman_over_resampled_prompts,
)
from .weight_curves import (
    base_at_highest_score,
    has_per_prompt_scores,
    is_clearly_positive,
    levels_off,
    paired_difference,
    rises_late,
    steepest_falls,
)


def content_words(text: str) -> list[str]:
    """The words of `text` that hold a letter, lower-cased and stripped of markup: list numbers, bullets, bold marks
    and punctuation are not content."""
    stripped = (re.sub(r"[^\w'-]", "", token).strip("_'-").lower() for token in text.split())
    return [word for word in stripped if re.search(r"[^\W\d_]", word)]


def is_wordless(text: str) -> bool:
    """Whether `text` has no content word: empty, or only numbers and markup ("1.\n2.\n3.")."""
    return not content_words(text)


def is_repetitive(text: str) -> bool:
    """Whether a 3-gram of `text`'s content words occurs three times or more: a loop, not a list's repeated markup."""
    words = content_words(text)
    trigrams = [tuple(words[index : index + 3]) for index in range(len(words) - 2)]
    return bool(trigrams) and max(trigrams.count(trigram) for trigram in set(trigrams)) >= 3


def text_quality(texts: Sequence[str]) -> dict[str, float]:
    """Shares of `texts` that are empty (no content word: nothing, or only numbers and markup) or repetitive
    (`is_repetitive`): what the texts alone tell of a point's quality, so kept answers can be measured again."""
    total = max(1, len(texts))
    return {
        "empty": sum(is_wordless(text) for text in texts) / total,
        "repetitive": sum(is_repetitive(text) for text in texts) / total,
    }


def response_quality(responses: Sequence[dict]) -> dict[str, float]:
    """Shares of responses that are empty (`is_wordless`), unfinished (stopped by the token limit, so cut mid-thought
    or mid-word) or repetitive (`is_repetitive`)."""
    total = max(1, len(responses))
    unfinished = sum(1 for response in responses if not response["finished"])
    shares = text_quality([response["text"] for response in responses])
    return {"empty": shares["empty"], "unfinished": unfinished / total, "repetitive": shares["repetitive"]}


def degenerate_share(quality: Mapping[str, float]) -> float:
    """The share of a point's answers that are empty or repetitive, from its `response_quality` (an empty answer has
    no words to repeat, so the two shares never overlap)."""
    return float(quality.get("empty", 0.0)) + float(quality.get("repetitive", 0.0))


def vertex_point(sweep: dict, index: int) -> dict | None:
    """The sweep's first point whose preference gives objective `index` all the weight (its vertex), or None."""
    return next((point for point in sweep["points"] if point["alpha"][index] == 1.0), None)


def degenerate_shares_at_vertices(sweep: dict) -> dict[str, float]:
    """Per objective, the share of the sweep's answers at its own vertex that are empty or repetitive: a score reached
    by degenerate text, which neither its Spearman nor its steering effect shows. Objectives whose vertex was not
    swept, or whose points hold no quality, are left out.

    Args:
        sweep (dict): A preference sweep (the pipeline's sweep.json): `objectives`, and `points` each with its
            `alpha` and the `quality` of its answers (`response_quality`).

    Returns:
        dict[str, float]: The empty plus repetitive share at each objective's vertex.

    Examples:
        >>> from peft_pblora.evaluation.sweep_metrics import degenerate_shares_at_vertices
        >>> points = [{"alpha": [1.0, 0.0], "quality": {"empty": 0.25, "unfinished": 1.0, "repetitive": 0.5}}]
        >>> points.append({"alpha": [0.0, 1.0], "quality": {"empty": 0.0, "unfinished": 0.0, "repetitive": 0.0}})
        >>> degenerate_shares_at_vertices({"objectives": ["tone", "length"], "points": points})
        {'tone': 0.75, 'length': 0.0}
    """
    return quality_at_vertices(sweep, lambda quality: degenerate_share(quality) if quality else None)


def base_nll_at_vertices(sweep: dict) -> dict[str, float]:
    """Per objective, the base's mean negative log-likelihood per token of the answers at its own vertex
    (`quality["base_nll"]`, `base_likelihood.answer_nll`): word salad scores high on a word-counting objective without
    being empty or repetitive. Objectives whose vertex was not swept or not measured (older sweeps) are left out.

    Examples:
        >>> from peft_pblora.evaluation.sweep_metrics import base_nll_at_vertices
        >>> points = [{"alpha": [1.0, 0.0], "quality": {"base_nll": 6.5}}, {"alpha": [0.0, 1.0], "quality": {}}]
        >>> base_nll_at_vertices({"objectives": ["caution", "length"], "points": points})
        {'caution': 6.5}
    """
    return quality_at_vertices(sweep, lambda quality: quality.get("base_nll"))


def quality_at_vertices(sweep: dict, value_of: Callable[[dict], float | None]) -> dict[str, float]:
    """Per objective, `value_of` the quality of the sweep's answers at its own vertex (`{}` where none is recorded);
    objectives whose vertex was not swept, or whose value is None, are left out."""
    values = {}
    for index, name in enumerate(sweep["objectives"]):
        vertex = vertex_point(sweep, index)
        value = value_of(vertex.get("quality") or {}) if vertex is not None else None
        if value is not None:
            values[name] = value
    return values


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
        >>> from peft_pblora.evaluation.sweep_metrics import rises_above_base
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
        >>> from peft_pblora.evaluation.sweep_metrics import lifted_by_other_objectives
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
        >>> from peft_pblora.evaluation.sweep_metrics import is_fragile_verdict
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


def front_alphas_no_linear_weighting_picks(alphas: Sequence[Sequence[float]], points: np.ndarray) -> list:
    """The preferences whose sweep point is Pareto-optimal among the sweep's points but maximises no weighted sum of
    the scores: the non-convex parts of the front the sweep reached (per-objective rescaling changes neither)."""
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
