"""The evaluation harness on a score table: grid, normalisation, hypervolume, MIP, non-dominated set, Pareto plot.

Replace `mean_scores` with your model's mean reward per objective at each alpha (e.g. from your own sweep).

    python examples/pareto_evaluation.py [output.png]
"""

from __future__ import annotations

import sys

import numpy as np

from peft_pblora import hypervolume, mean_inner_product, non_dominated, normalise, pareto_plot, preference_grid


def mean_scores(alpha: list[float]) -> list[float]:
    """A made-up concave trade-off between two objectives, standing in for a real sweep."""
    helpful, harmless = alpha
    return [0.2 + 0.6 * np.sqrt(helpful), 0.1 + 0.7 * np.sqrt(harmless)]


def main(png_path: str = "pareto_example.png") -> None:
    alphas = preference_grid(2, step=0.1)  # 11 preference vectors
    points = np.array([mean_scores(alpha) for alpha in alphas])
    base_point = np.array([0.45, 0.40])  # the unguided model's scores
    everything = np.vstack([points, base_point])
    low, high = everything.min(0), everything.max(0)
    normalised, normalised_base = normalise(points, low, high), normalise(base_point[None], low, high)
    reference_point = [-0.1, -0.1]
    print(f"{len(alphas)} preference vectors, min-max normalised over the sweep and the base point")
    print(
        f"hypervolume: sweep {hypervolume(normalised, reference_point):.3f}, "
        f"base {hypervolume(normalised_base, reference_point):.3f} (reference point {reference_point})"
    )
    print(
        f"MIP: sweep {mean_inner_product(alphas, normalised):.3f}, "
        f"base {mean_inner_product(alphas, np.repeat(normalised_base, len(alphas), 0)):.3f}"
    )
    print(f"non-dominated: {int(non_dominated(normalised).sum())} of {len(alphas)}")
    pareto_plot({"guided": (alphas, points)}, png_path, ["helpful", "harmless"], base_point=base_point)
    print(f"Pareto plot: {png_path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
