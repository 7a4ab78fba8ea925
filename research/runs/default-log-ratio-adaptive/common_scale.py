"""Hypervolume and MIP of several runs of the same pair on one normalisation (min-max over every run's sweep points
and the base), read from their reports' sweep tables; each report normalises over its own points only.

    python research/runs/default-log-ratio-adaptive/common_scale.py research/runs/default \
        research/runs/default-log-ratio-adaptive/*/
"""

import argparse
import re
from pathlib import Path

import numpy as np

from peft_pblora.evaluation.metrics import hypervolume, mean_inner_product, normalise

ROW = re.compile(r"^\| (\[[^]]*\]|base, unguided) \| ([-\d.]+) \+/- [\d.]+ \| ([-\d.]+) \+/- [\d.]+ \|")


def sweep_table(report: Path) -> tuple[list[list[float]], list[list[float]], list[float]]:
    """The alphas, the mean scores at each, and the base's mean scores, from a two-objective report."""
    alphas, points, base = [], [], None
    for line in report.read_text().splitlines():
        match = ROW.match(line)
        if not match:
            continue
        scores = [float(match.group(2)), float(match.group(3))]
        if match.group(1) == "base, unguided":
            base = scores
        else:
            alphas.append([float(value) for value in match.group(1)[1:-1].split(",")])
            points.append(scores)
    return alphas, points, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_folders", nargs="+", type=Path)
    folders = parser.parse_args().run_folders
    tables = {folder: sweep_table(folder / "report.md") for folder in folders}
    every = np.array([point for _, points, base in tables.values() for point in [*points, base]])
    low, high = every.min(0), every.max(0)
    print(f"common normalisation: low {low.round(3).tolist()}, high {high.round(3).tolist()}")
    print("| run | HV guided | HV base | MIP guided | MIP base |\n|---|---|---|---|---|")
    for folder, (alphas, points, base) in tables.items():
        guided, unguided = normalise(points, low, high), normalise([base] * len(alphas), low, high)
        print(
            f"| {folder} | {hypervolume(guided, [-0.1, -0.1]):.3f} | {hypervolume(unguided, [-0.1, -0.1]):.3f} | "
            f"{mean_inner_product(alphas, guided):.3f} | {mean_inner_product(alphas, unguided):.3f} |"
        )


if __name__ == "__main__":
    main()
