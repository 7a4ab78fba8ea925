"""Multi-objective evaluation of a preference sweep: preference grids, hypervolume, MIP and Pareto sets.

A sweep gives one point per preference alpha: the mean score of each objective over the test prompts. Scores are
"higher is better" throughout.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import moocore
import numpy as np
import scipy.optimize
import scipy.stats

from ..tuners.pblora.checks import check_int, check_real

STEERING_SPEARMAN_TARGET = 0.9  # the Spearman(weight, mean score) at which the steering benchmark calls a trend steady

ArrayLike = Sequence[Sequence[float]] | np.ndarray


def preference_grid(num_objectives: int, step: float = 0.1) -> list[list[float]]:
    """Every preference on the k-simplex whose weights are multiples of `step`: the alphas a sweep evaluates at.

    Ordered from the first objective's vertex towards the last objective's (k = 2, step 0.1: 11 vectors).

    Args:
        num_objectives (int): Number of objectives k, at least 1.
        step (float, optional): Grid spacing; must divide 1 evenly (0.1, 0.25, 0.5, ...). Defaults to `0.1`.

    Returns:
        list[list[float]]: The preferences, each k weights summing to 1.

    Raises:
        TypeError: If `num_objectives` is not an integer or `step` not a number.
        ValueError: If `num_objectives` < 1 or `step` is not a positive number that divides 1.

    Examples:
        >>> from peft_pblora import preference_grid
        >>> preference_grid(2, step=0.25)
        [[1.0, 0.0], [0.75, 0.25], [0.5, 0.5], [0.25, 0.75], [0.0, 1.0]]
        >>> len(preference_grid(3, step=0.1))
        66
    """
    num_objectives = check_int(num_objectives, "num_objectives", minimum=1)
    step = check_real(step, "step", positive=True)
    divisions = round(1 / step)
    if divisions < 1 or abs(divisions * step - 1) > 1e-9:
        raise ValueError(f"step must divide 1 evenly (0.1, 0.25, 0.5, ...), got {step}")
    grid = []
    for counts in itertools.product(range(divisions, -1, -1), repeat=num_objectives - 1):
        if sum(counts) <= divisions:
            grid.append([count / divisions for count in counts] + [(divisions - sum(counts)) / divisions])
    return grid


def _as_points(points: ArrayLike, name: str = "points") -> np.ndarray:
    try:
        array = np.asarray(points, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a (points, objectives) array of numbers: {error}") from error
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (points, objectives) array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def hypervolume(points: ArrayLike, reference_point: Sequence[float]) -> float:
    """Hypervolume of a Pareto front (maximisation): the area / volume the points dominate above `reference_point`.

    One number for a whole trade-off curve: it grows as the front moves out and as it covers more of the trade-off.
    Points that do not strictly dominate the reference point in every objective add nothing. Computed by moocore.

    Args:
        points (ArrayLike): One score vector per preference, higher is better. Shape (points, objectives).
        reference_point (Sequence[float]): The lower corner, one value per objective (e.g. the normalised
            worst scores).

    Returns:
        float: The dominated hypervolume; 0.0 when no point dominates the reference point.

    Raises:
        ValueError: If `points` is empty or not finite, or `reference_point` has the wrong length.

    Examples:
        >>> from peft_pblora import hypervolume
        >>> hypervolume([[0.2, 0.9], [0.6, 0.6], [0.9, 0.1]], reference_point=[0.0, 0.0])
        0.45
    """
    array = _as_points(points)
    reference = np.asarray(reference_point, dtype=float)
    if reference.shape != (array.shape[1],):
        raise ValueError(f"reference_point has {reference.size} values but the points have {array.shape[1]}")
    inside = (array > reference).all(axis=1)
    if not inside.any():
        return 0.0
    return float(moocore.hypervolume(array[inside], ref=reference, maximise=True))


def non_dominated(points: ArrayLike) -> np.ndarray:
    """Mask of the Pareto-optimal points: those no other point dominates (maximisation).

    Args:
        points (ArrayLike): Score vectors, higher is better. Shape (points, objectives).

    Returns:
        np.ndarray: A boolean mask, True for each non-dominated point.

    Examples:
        >>> from peft_pblora import non_dominated
        >>> non_dominated([[0.2, 0.9], [0.6, 0.6], [0.9, 0.1], [0.5, 0.5]])
        array([ True,  True,  True, False])
    """
    return np.asarray(moocore.is_nondominated(_as_points(points), maximise=True))


def linearly_supported(points: ArrayLike, tolerance: float = 1e-9) -> np.ndarray:
    """Mask of the points that maximise some weighted sum sum_i w_i s_i (w >= 0, sum w = 1) over the set.

    A Pareto point that no weighting picks lies in a non-convex part of the front, which a policy optimised for a
    weighted sum of the scores never reaches. One linear programme per point (scipy's HiGHS): maximise the margin t
    subject to w . (p - q) >= t for every other point q; the point is supported where t reaches 0.

    Args:
        points (ArrayLike): Score vectors, higher is better. Shape (points, objectives).
        tolerance (float, optional): Slack on the margin t. Defaults to `1e-9`.

    Returns:
        np.ndarray: A boolean mask, True for each point some linear weighting picks.

    Examples:
        >>> from peft_pblora import linearly_supported, non_dominated
        >>> front = [[0.0, 1.0], [0.45, 0.45], [1.0, 0.0]]  # the middle point is below the line x + y = 1
        >>> non_dominated(front), linearly_supported(front)
        (array([ True,  True,  True]), array([ True, False,  True]))
    """
    array = _as_points(points)
    count, objectives = array.shape
    supported = np.ones(count, dtype=bool)
    if count == 1:
        return supported
    cost = np.zeros(objectives + 1)
    cost[-1] = -1.0  # linprog minimises: maximise t
    weights_sum_to_one = np.append(np.ones(objectives), 0.0)[None, :]
    bounds = [(0.0, None)] * objectives + [(None, None)]
    for index in range(count):
        others = np.delete(array, index, axis=0)
        margin_rows = np.hstack([others - array[index], np.ones((count - 1, 1))])  # w . (q - p) + t <= 0
        result = scipy.optimize.linprog(
            cost, A_ub=margin_rows, b_ub=np.zeros(count - 1), A_eq=weights_sum_to_one, b_eq=[1.0], bounds=bounds,
            method="highs",
        )  # fmt: skip
        supported[index] = bool(result.status == 0 and -result.fun >= -tolerance)
    return supported


def normalise(points: ArrayLike, low: Sequence[float], high: Sequence[float]) -> np.ndarray:
    """Min-max normalise each objective to [0, 1] so objectives on different scales weigh alike in HV and MIP.

    Computes (points - low) / (high - low) per objective; a constant objective (high == low) maps to 0.

    Args:
        points (ArrayLike): Score vectors. Shape (points, objectives).
        low (Sequence[float]): The value mapped to 0, per objective.
        high (Sequence[float]): The value mapped to 1, per objective.

    Returns:
        np.ndarray: The normalised points, same shape as `points`.

    Examples:
        >>> from peft_pblora import normalise
        >>> normalise([[1.0, 10.0], [2.0, 30.0]], low=[1.0, 10.0], high=[3.0, 30.0])
        array([[0. , 0. ],
               [0.5, 1. ]])
    """
    array = _as_points(points)
    low_array, high_array = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    span = np.where(high_array > low_array, high_array - low_array, 1.0)
    return (array - low_array) / span


def mean_inner_product(alphas: ArrayLike, points: ArrayLike) -> float:
    """Mean inner product (MIP) of a sweep: how closely the scores follow the requested preferences.

    The mean over the sweep of alpha . scores(alpha); higher means the scores move towards whichever objective alpha
    weights. Pass normalised points (see `normalise`) so objectives on different scales weigh alike.

    Args:
        alphas (ArrayLike): The preference of each sweep point. Shape (points, objectives).
        points (ArrayLike): The (normalised) scores at each preference. Shape (points, objectives).

    Returns:
        float: The mean over sweep points of alpha . scores.

    Raises:
        ValueError: If `alphas` and `points` differ in shape.

    Examples:
        >>> from peft_pblora import mean_inner_product
        >>> mean_inner_product([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], [[0.9, 0.1], [0.5, 0.6], [0.2, 0.8]])
        0.75
    """
    alpha_array, point_array = _as_points(alphas, "alphas"), _as_points(points)
    if alpha_array.shape != point_array.shape:
        raise ValueError(f"alphas {alpha_array.shape} and points {point_array.shape} must have the same shape")
    return float((alpha_array * point_array).sum(axis=1).mean())


def spearman_over_resampled_prompts(
    weights: Sequence[float],
    per_prompt_scores: ArrayLike,
    threshold: float = STEERING_SPEARMAN_TARGET,
    resamples: int = 2000,
    confidence_level: float = 0.9,
    seed: int = 0,
) -> dict[str, float]:
    """How robust a sweep's Spearman(weight, mean score) is to which test prompts were drawn (scipy's bootstrap).

    Prompts are resampled with replacement; a correlation of 1.0 reached by few resamples was drawn by luck: the
    trend is within the prompt-to-prompt noise.

    Args:
        weights (Sequence[float]): The objective's weight alpha_i at each sweep point.
        per_prompt_scores (ArrayLike): The objective's score per sweep point and
            prompt (at least two prompts). Shape (points, prompts).
        threshold (float, optional): The correlation a resample must reach to count. Defaults to `0.9`
            (`STEERING_SPEARMAN_TARGET`).
        resamples (int, optional): Number of bootstrap resamples. Defaults to `2000`.
        confidence_level (float, optional): Level of the percentile interval. Defaults to `0.9`.
        seed (int, optional): Seed of the resampling. Defaults to `0`.

    Returns:
        dict[str, float]: `spearman` (on all prompts), `share_at_least_threshold` (the share of resamples whose
        correlation reaches `threshold`), `interval_low` / `interval_high` (the percentile interval), and the
        settings `threshold`, `resamples`, `confidence_level`. Where the weights or the mean scores are constant
        there is no ranking: `spearman` and the interval are None (undefined, as in `summarise_sweep`) and the share
        is 0; a resample whose means tie everywhere counts as correlation 0.

    Raises:
        ValueError: If `weights` does not have one value per sweep point or there are fewer than two prompts.

    Examples:
        >>> from peft_pblora import spearman_over_resampled_prompts
        >>> weights = [0.0, 0.5, 1.0]
        >>> scores = [[0.1, 0.9, 0.2, 0.2], [0.3, 0.8, 0.4, 0.3], [0.6, 0.1, 0.7, 0.5]]  # prompt 2 disagrees
        >>> result = spearman_over_resampled_prompts(weights, scores, resamples=1000)
        >>> result["spearman"], round(result["share_at_least_threshold"], 2)
        (1.0, 0.65)
    """
    scores = _as_points(per_prompt_scores, "per_prompt_scores")
    weight_array = np.asarray(weights, dtype=float)
    if weight_array.shape != (scores.shape[0],):
        raise ValueError(f"weights has {weight_array.size} values but per_prompt_scores has {scores.shape[0]} points")
    if scores.shape[1] < 2:
        raise ValueError("resampling needs at least two prompts")

    if not np.isfinite(weight_array).all():
        raise ValueError(f"weights must be finite, got {weight_array.tolist()}")
    settings = {"threshold": threshold, "resamples": resamples, "confidence_level": confidence_level}
    overall = spearman_or_none(weight_array, scores.mean(axis=1))
    if overall is None:
        return {
            "spearman": None,
            "share_at_least_threshold": 0.0,
            "interval_low": None,
            "interval_high": None,
            **settings,
        }

    def correlation(resampled: np.ndarray, axis: int = -1) -> np.ndarray:
        means = np.moveaxis(resampled.mean(axis=axis), 0, -1)  # (resamples..., points)
        rows = means.reshape(-1, means.shape[-1])
        values = [spearman_or_none(weight_array, row) for row in rows]
        return np.array([0.0 if value is None else value for value in values]).reshape(means.shape[:-1])

    result = scipy.stats.bootstrap(
        (scores,), correlation, n_resamples=resamples, confidence_level=confidence_level, method="percentile",
        rng=np.random.default_rng(seed), axis=-1,
    )  # fmt: skip
    distribution = np.asarray(result.bootstrap_distribution)
    return {
        "spearman": overall,
        "share_at_least_threshold": float((distribution >= threshold - 1e-9).mean()),  # 0.8999... is 0.9
        "threshold": threshold,
        "resamples": resamples,
        "interval_low": float(result.confidence_interval.low),
        "interval_high": float(result.confidence_interval.high),
        "confidence_level": confidence_level,
    }


def spearman_or_none(first: np.ndarray, second: np.ndarray) -> float | None:
    """Spearman correlation, None (undefined) where either side is constant: there is no ranking to agree with."""
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return None
    return float(scipy.stats.spearmanr(first, second).statistic)
