"""Multi-objective evaluation of a preference sweep: preference grids, hypervolume, MIP, Pareto sets and plots.

A sweep gives one point per preference alpha: the mean score of each objective over the test prompts. Scores are
"higher is better" throughout.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import moocore
import numpy as np
import scipy.optimize
import scipy.stats

ArrayLike = Sequence[Sequence[float]] | np.ndarray


def preference_grid(num_objectives: int, step: float = 0.1) -> list[list[float]]:
    """Every point of the k-simplex whose weights are multiples of `step` (k = 2, step 0.1: 11 vectors).

    Ordered from the first objective's vertex towards the last objective's.
    """
    if num_objectives < 1:
        raise ValueError(f"num_objectives must be >= 1, got {num_objectives}")
    divisions = round(1 / step)
    if divisions < 1 or abs(divisions * step - 1) > 1e-9:
        raise ValueError(f"step must divide 1 evenly (0.1, 0.25, 0.5, ...), got {step}")
    grid = []
    for counts in itertools.product(range(divisions, -1, -1), repeat=num_objectives - 1):
        if sum(counts) <= divisions:
            grid.append([count / divisions for count in counts] + [(divisions - sum(counts)) / divisions])
    return grid


def _as_points(points: ArrayLike, name: str = "points") -> np.ndarray:
    array = np.asarray(points, dtype=float)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (points, objectives) array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def hypervolume(points: ArrayLike, reference_point: Sequence[float]) -> float:
    """Hypervolume (maximisation) dominated by `points` and bounded below by `reference_point` (moocore).

    Points that do not strictly dominate the reference point in every objective add nothing.
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
    """Boolean mask of the points no other point dominates (maximisation)."""
    return np.asarray(moocore.is_nondominated(_as_points(points), maximise=True))


def linearly_supported(points: ArrayLike, tolerance: float = 1e-9) -> np.ndarray:
    """Boolean mask of the points that maximise some weighted sum sum_i w_i s_i (w >= 0, sum w = 1) over the set.

    A Pareto point that no weighting picks lies in a non-convex part of the front, which a policy optimised for a
    weighted sum of the scores never reaches. One linear programme per point (scipy's HiGHS): maximise the margin t
    subject to w . (p - q) >= t for every other point q; the point is supported where t reaches 0.
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
    """Min-max normalisation per objective: (points - low) / (high - low); a constant objective maps to 0."""
    array = _as_points(points)
    low_array, high_array = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    span = np.where(high_array > low_array, high_array - low_array, 1.0)
    return (array - low_array) / span


def mean_inner_product(alphas: ArrayLike, points: ArrayLike) -> float:
    """MIP: the mean over preferences of <alpha, reward vector at alpha>; higher means outputs follow the request.

    Pass normalised points (see `normalise`) so objectives on different scales weigh alike.
    """
    alpha_array, point_array = _as_points(alphas, "alphas"), _as_points(points)
    if alpha_array.shape != point_array.shape:
        raise ValueError(f"alphas {alpha_array.shape} and points {point_array.shape} must have the same shape")
    return float((alpha_array * point_array).sum(axis=1).mean())


def spearman_over_resampled_prompts(
    weights: Sequence[float],
    per_prompt_scores: ArrayLike,
    threshold: float = 0.9,
    resamples: int = 2000,
    confidence_level: float = 0.9,
    seed: int = 0,
) -> dict[str, float]:
    """How robust a sweep's Spearman(weight, mean score) is to which test prompts were drawn (scipy's bootstrap).

    `per_prompt_scores` is (points, prompts): one objective's score per sweep point and prompt, `weights` that
    objective's weight at each point. Prompts are resampled with replacement; returns the share of resamples whose
    Spearman correlation reaches `threshold` and a percentile interval. A correlation of 1.0 whose share is low was
    drawn by luck: the trend is within the prompt-to-prompt noise.
    """
    scores = _as_points(per_prompt_scores, "per_prompt_scores")
    weight_array = np.asarray(weights, dtype=float)
    if weight_array.shape != (scores.shape[0],):
        raise ValueError(f"weights has {weight_array.size} values but per_prompt_scores has {scores.shape[0]} points")
    if scores.shape[1] < 2:
        raise ValueError("resampling needs at least two prompts")

    def correlation(resampled: np.ndarray, axis: int = -1) -> np.ndarray:
        means = np.moveaxis(resampled.mean(axis=axis), 0, -1)  # (resamples..., points)
        rows = means.reshape(-1, means.shape[-1])
        return np.array([spearman_or_zero(weight_array, row) for row in rows]).reshape(means.shape[:-1])

    result = scipy.stats.bootstrap(
        (scores,), correlation, n_resamples=resamples, confidence_level=confidence_level, method="percentile",
        rng=np.random.default_rng(seed), axis=-1,
    )  # fmt: skip
    distribution = np.asarray(result.bootstrap_distribution)
    return {
        "spearman": float(spearman_or_zero(weight_array, scores.mean(axis=1))),
        "share_at_least_threshold": float((distribution >= threshold - 1e-9).mean()),  # 0.8999... is 0.9
        "threshold": threshold,
        "resamples": resamples,
        "interval_low": float(result.confidence_interval.low),
        "interval_high": float(result.confidence_interval.high),
        "confidence_level": confidence_level,
    }


def spearman_or_zero(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman correlation, 0 where either side is constant (no ranking to agree with)."""
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return 0.0
    return float(scipy.stats.spearmanr(first, second).statistic)


def pareto_plot(
    fronts: Mapping[str, tuple[ArrayLike, ArrayLike]],
    path: str | Path,
    objective_names: Sequence[str],
    base_point: Sequence[float] | None = None,
    title: str | None = None,
) -> Path:
    """Save a Pareto plot as PNG: one front per method, the base model's own point as a star.

    `fronts` maps a method's name to (alphas, points). Two objectives give one panel, the points joined along the
    front and labelled by the first objective's weight; k > 2 give one panel per pair of objectives (a projection),
    each point labelled by its whole alpha, so any number of objectives can be read off flat axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(objective_names)
    if k < 2:
        raise ValueError(f"pareto_plot draws 2 or more objectives, got {k}")
    checked = {}
    for method, (alphas, points) in fronts.items():
        alpha_array, point_array = _as_points(alphas, "alphas"), _as_points(points)
        if point_array.shape[1] != k:
            raise ValueError(f"{method}: points have {point_array.shape[1]} objectives, expected {k}")
        checked[method] = (alpha_array, point_array)
    pairs = list(itertools.combinations(range(k), 2))
    columns = min(3, len(pairs))
    rows = -(-len(pairs) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(6.5 * columns, 5.5 * rows), squeeze=False)
    for axes, (x, y) in zip(grid.flat, pairs, strict=False):
        for method, (alpha_array, point_array) in checked.items():
            if k == 2:
                order = np.argsort(point_array[:, 0])
                axes.plot(point_array[order, 0], point_array[order, 1], marker="o", label=method)
            else:
                axes.scatter(point_array[:, x], point_array[:, y], label=method)
            for alpha, point in zip(alpha_array, point_array, strict=True):
                label = f"{alpha[0]:g}" if k == 2 else "/".join(f"{weight:g}" for weight in alpha)
                axes.annotate(label, (point[x], point[y]), textcoords="offset points", xytext=(4, 4), fontsize=7)
        if base_point is not None:
            base = np.asarray(base_point, dtype=float)
            axes.scatter(base[x], base[y], marker="*", s=200, color="black", label="base model")
        axes.set_xlabel(objective_names[x])
        axes.set_ylabel(objective_names[y])
    for unused in list(grid.flat)[len(pairs) :]:
        unused.set_visible(False)
    grid.flat[0].legend(fontsize=8)
    labels = "the first objective's weight" if k == 2 else "alpha, in the order " + "/".join(objective_names)
    figure.suptitle(title or f"Mean score per preference (labels: {labels})")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path
