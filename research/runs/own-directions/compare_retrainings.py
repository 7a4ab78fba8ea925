"""Two trainings of the same flagged runs side by side: the longer training from the start (records of earlier
sections) and the one that continues the first on the not-learned objectives' own directions
(`--retrain_only_not_learned`): each objective's verdict, effect, strength and degenerate share at its vertex.

    python research/runs/own-directions/compare_retrainings.py FROM_START_DIR:OWN_DIRECTIONS_DIR ...
    python research/runs/own-directions/compare_retrainings.py --labels "first training" "probe-triggered" A:B ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "research" / "runs" / "low-margin")]
from benchmark_tables import objective_row  # noqa: E402
from vertex_quality import vertex_shares  # noqa: E402


def read_run(folder: Path) -> dict:
    """A run's metrics.json, with the degenerate shares at the vertices read from its report where a record made
    before metrics.json held them lacks them."""
    metrics = json.loads((folder / "metrics.json").read_text())
    if "degenerate_share_at_vertex" not in metrics:
        shares, base = vertex_shares((folder / "report.md").read_text(), metrics["objectives"])
        metrics.update(degenerate_share_at_vertex=shares, degenerate_share_base=base)
    return metrics


def cell(name: str, metrics: dict) -> str:
    row = objective_row(name, metrics)
    strengths = metrics.get("objective_strengths") or [1.0] * len(metrics["objectives"])
    strength = strengths[metrics["objectives"].index(name)]
    degenerate = row["degenerate_share_at_vertex"]
    verdict = "steers" if row["steers"] else row["verdict"].replace("_", " ")
    return (
        f"{verdict} ({row['spearman']:.2f}) {row['effect']:+.3f} +/- {row['standard_error']:.3f} at x{strength:g}"
        + ("" if degenerate is None else f", {degenerate:.2f} degenerate")
    )


def kept(metrics: dict) -> str:
    retraining = metrics.get("retraining")
    return "none" if not retraining else retraining.get("kept", "longer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", help="FROM_START_DIR:OWN_DIRECTIONS_DIR, two run folders")
    parser.add_argument("--labels", nargs=2, default=["from the start", "own directions only"], help="column names")
    args = parser.parse_args()
    lines = [
        f"| run | objective | {args.labels[0]} | {args.labels[1]} |",
        "|---|---|---|---|",
    ]
    counts = [0, 0, 0]
    for pair in args.pairs:
        before, after = (read_run(Path(part)) for part in pair.split(":"))
        for name in after["objectives"]:
            counts[0] += 1
            counts[1] += objective_row(name, before)["steers"]
            counts[2] += objective_row(name, after)["steers"]
            lines.append(f"| {Path(pair.split(':')[1]).name} | {name} | {cell(name, before)} | {cell(name, after)} |")
        hv = [
            f"{m['hypervolume_sweep']:.3f} / {m['hypervolume_base']:.3f}; unguided {m['degenerate_share_base']:.2f} "
            f"degenerate; kept: {kept(m)}"
            for m in (before, after)
        ]
        lines.append(f"| {Path(pair.split(':')[1]).name} | HV guided / base | {hv[0]} | {hv[1]} |")
    print("\n".join(lines))
    print(f"\nsteer: {args.labels[0]} {counts[1]} of {counts[0]}, {args.labels[1]} {counts[2]} of {counts[0]}")


if __name__ == "__main__":
    main()
