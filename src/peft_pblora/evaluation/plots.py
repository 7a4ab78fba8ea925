"""Plots of a preference sweep: the Pareto front of each method, drawn with matplotlib.

Kept apart from `metrics` so the numbers need no plotting library; matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .metrics import ArrayLike, _as_points


def pareto_plot(
    fronts: Mapping[str, tuple[ArrayLike, ArrayLike]],
    path: str | Path,
    objective_names: Sequence[str],
    base_point: Sequence[float] | None = None,
    title: str | None = None,
) -> Path:
    """Save a Pareto plot of one or more preference sweeps as a PNG: each method's front, the base model as a star.

    Two objectives give one panel, the points joined along the front and labelled by the first objective's weight;
    k > 2 give one panel per pair of objectives (a projection), each point labelled by its whole alpha, so any number
    of objectives can be read off flat axes. matplotlib is imported (with the Agg backend) only when this is called.

    Args:
        fronts (Mapping[str, tuple[ArrayLike, ArrayLike]]):
            A method's name -> (alphas, points): the preferences of its sweep and the mean scores at each, both of
            shape (points, objectives).
        path (str | Path):
            Where to write the PNG; missing parent folders are created.
        objective_names (Sequence[str]):
            The objectives in alpha order, at least two: the axes' labels.
        base_point (Sequence[float], optional):
            The base model's own scores, drawn as a star. Defaults to `None` (not drawn).
        title (str, optional):
            The figure's title. Defaults to `None`, which names what the point labels are.

    Returns:
        Path: The written file.

    Raises:
        TypeError: If `objective_names` is not a list of strings.
        ValueError: If there are fewer than two objectives or no front, a front's points do not have one score per
            objective or one alpha per point, or `base_point` does not have one finite score per objective; all
            checked before anything is drawn or written.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from peft_pblora import pareto_plot
        >>> alphas = [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
        >>> points = [[0.9, 0.1], [0.6, 0.6], [0.1, 0.9]]
        >>> path = pareto_plot({"PARM": (alphas, points)}, Path(tempfile.mkdtemp()) / "front.png",
        ...     ["helpful", "harmless"], base_point=[0.3, 0.3])
        >>> path.name, path.stat().st_size > 0
        ('front.png', True)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(objective_names, str) or not all(isinstance(name, str) for name in objective_names):
        raise TypeError(f"objective_names must be a list of strings, got {objective_names!r}")
    k = len(objective_names)
    if k < 2:
        raise ValueError(f"pareto_plot draws 2 or more objectives, got {k}: objective_names={list(objective_names)}")
    if not isinstance(fronts, Mapping) or not fronts:
        raise ValueError(f"fronts must map at least one method to (alphas, points), got {fronts!r}")
    checked = {}
    for method, front in fronts.items():
        if not isinstance(front, (tuple, list)) or len(front) != 2:
            raise ValueError(f"fronts[{method!r}] must be a pair (alphas, points), got {type(front).__name__}")
        alphas, points = front
        alpha_array = _as_points(alphas, f"fronts[{method!r}] alphas")
        point_array = _as_points(points, f"fronts[{method!r}] points")
        if point_array.shape[1] != k:
            raise ValueError(f"fronts[{method!r}]: points have {point_array.shape[1]} objectives, expected {k}")
        if alpha_array.shape != point_array.shape:
            raise ValueError(
                f"fronts[{method!r}]: alphas {alpha_array.shape} and points {point_array.shape} must have the same "
                "shape (one preference per point)"
            )
        checked[method] = (alpha_array, point_array)
    if base_point is not None:
        base = _as_points([base_point], "base_point")[0]
        if base.shape != (k,):
            raise ValueError(f"base_point must be {k} finite scores, got {base_point!r}")
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
