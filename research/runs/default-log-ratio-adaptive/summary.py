"""The default pair's runs side by side: per run the strengths, each objective's score at its vertex, steering
effect and Spearman, and the shares of repetitive answers at the two vertices, read from each run's metrics.json
and report.md (HV and MIP on one scale: common_scale.py).

    python research/runs/default-log-ratio-adaptive/summary.py research/runs/e24s0 \\
        research/runs/default-log-ratio-adaptive/1-epoch-forms-from-pairs
"""

import argparse
import json
from pathlib import Path


def vertex_rows(report: Path) -> dict[str, list[str]]:
    """The report's sweep table rows by alpha label ('[1.0, 0.0]'), each a list of its cells."""
    rows = {}
    for line in report.read_text().splitlines():
        if line.startswith("| ["):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def summary(folder: Path) -> str:
    """One markdown row for the run in `folder`."""
    metrics = json.loads((folder / "metrics.json").read_text())
    objectives = metrics["objectives"]
    rows = vertex_rows(folder / "report.md")
    cells = [folder.as_posix(), ", ".join(f"{value:g}" for value in metrics.get("objective_strengths") or [1, 1])]
    repetitive = []
    for index, name in enumerate(objectives):
        label = "[" + ", ".join("1.0" if other == index else "0.0" for other in range(len(objectives))) + "]"
        vertex_score = rows[label][1 + index].split(" +/- ")[0]
        effect = metrics["steering_effect"][name]
        cells.append(
            f"{vertex_score}, {effect['effect']:+.3f} +/- {effect['standard_error']:.3f}, "
            f"{metrics['spearman_score_vs_weight'][name]:.2f}"
        )
        repetitive.append(rows[label][-1])
    cells.append(" / ".join(repetitive))
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    folders = parser.parse_args().runs
    names = json.loads((folders[0] / "metrics.json").read_text())["objectives"]
    header = ["run", "strengths"] + [f"{name}: vertex, effect, Spearman" for name in names]
    print("| " + " | ".join(header + ["repetitive at the vertices"]) + " |")
    print("|" + "---|" * (len(header) + 1))
    for folder in folders:
        print(summary(folder))


if __name__ == "__main__":
    main()
