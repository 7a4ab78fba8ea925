"""The run's Pareto front (its sweep.json, as `evaluation.plots.pareto_plot` draws it) with the page's current alpha
marked, and the front of the prompt just answered at every grid alpha, as a matplotlib figure for the page."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np


def sweep_front(sweep: dict | None, objectives: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(alphas, mean scores, base model's scores) of a run's sweep.json; empty arrays when there is no sweep."""
    if not sweep or not sweep.get("points"):
        return np.zeros((0, len(objectives))), np.zeros((0, len(objectives))), None
    alphas = np.array([point["alpha"] for point in sweep["points"]], dtype=float)
    points = np.array([[point["scores"][name] for name in objectives] for point in sweep["points"]], dtype=float)
    base = sweep.get("base", {}).get("scores")
    return alphas, points, np.array([base[name] for name in objectives], dtype=float) if base else None


def point_at(alphas: np.ndarray, points: np.ndarray, alpha: Sequence[float]) -> tuple[np.ndarray, str]:
    """Where the current alpha lies on the sweep's front: two objectives, linearly between the neighbouring grid
    points; more, the nearest grid point. Returns the point and how it was found."""
    target = np.asarray(alpha, dtype=float)
    if len(target) == 2 and len(alphas) >= 2:
        order = np.argsort(alphas[:, 0])
        first = alphas[order, 0]
        columns = [np.interp(target[0], first, points[order, column]) for column in range(points.shape[1])]
        return np.array(columns), "interpolated between the sweep's points"
    nearest = int(np.argmin(np.abs(alphas - target).sum(axis=1)))
    return points[nearest], "the sweep's nearest grid point"


def front_figure(
    objectives: Sequence[str],
    sweep: dict | None,
    alpha: Sequence[float],
    prompt_front: Sequence[tuple[Sequence[float], Sequence[float]]] | None = None,
    base_scores: Sequence[float] | None = None,
) -> Any:
    """One panel per pair of objectives: the sweep's mean front labelled by alpha, the base model's star, the
    current alpha's point (red) and, after the front button, this prompt's answers at every grid alpha (squares)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(objectives)
    alphas, points, base = sweep_front(sweep, objectives)
    pairs = list(itertools.combinations(range(k), 2))[:3]
    figure, axes_list = plt.subplots(1, len(pairs), figsize=(5.2 * len(pairs), 4.0), squeeze=False)
    for axes, (x, y) in zip(axes_list[0], pairs, strict=True):
        if len(points):
            order = np.argsort(points[:, 0]) if k == 2 else np.arange(len(points))
            style = {"marker": "o"} if k == 2 else {"marker": "o", "linestyle": "none"}
            axes.plot(points[order, x], points[order, y], label="run's sweep (mean over test prompts)", **style)
            for weights, point in zip(alphas, points, strict=True):
                label = f"{weights[0]:g}" if k == 2 else "/".join(f"{weight:g}" for weight in weights)
                axes.annotate(label, (point[x], point[y]), textcoords="offset points", xytext=(4, 4), fontsize=7)
            marked, how = point_at(alphas, points, alpha)
            axes.scatter(marked[x], marked[y], s=160, color="red", zorder=5, label=f"current alpha ({how})")
        if base is not None:
            axes.scatter(base[x], base[y], marker="*", s=200, color="black", label="base model (sweep)")
        if prompt_front:
            front = np.array([scores for _, scores in prompt_front], dtype=float)
            label = "this prompt, every grid alpha"
            axes.scatter(front[:, x], front[:, y], marker="s", color="tab:green", label=label)
        if base_scores is not None:
            label = "this prompt, base"
            axes.scatter(base_scores[x], base_scores[y], marker="*", s=120, color="tab:green", label=label)
        axes.set_xlabel(objectives[x])
        axes.set_ylabel(objectives[y])
    if not len(points) and not prompt_front:
        first = axes_list[0][0]
        first.text(0.5, 0.5, "no sweep.json in this run folder yet", ha="center", transform=first.transAxes)
    axes_list[0][0].legend(fontsize=7)
    figure.tight_layout()
    plt.close(figure)  # the page draws it; pyplot need not keep it
    return figure
