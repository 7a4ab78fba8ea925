"""The share of empty or repetitive answers at each objective's vertex, read from each run's report.md scores table
(records made before metrics.json held `degenerate_share_at_vertex`), beside the sweep's verdict from metrics.json;
counted as the report's warning counts them (a quarter or more, above the unguided model's share).

Run from the repository root with the record folders to read, e.g.
python research/runs/low-margin/vertex_quality.py research/runs/retrain-not-learned/new-pairs
"""

import json
import sys
from pathlib import Path

from peft_pblora.pipeline.steering_verdict_lines import DEGENERATE_VERTEX_SHARE, degenerate_at_vertex


def vertex_shares(report: str, objectives: list[str]) -> tuple[dict[str, float], float]:
    """Empty plus repetitive share of the answers at each objective's vertex, and of the unguided model's, from the
    report's scores table."""
    shares, base = {}, 0.0
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != len(objectives) + 4 or not cells[0].startswith(("[", "base")):
            continue
        share = float(cells[-3]) + float(cells[-1])
        if cells[0].startswith("base"):
            base = share
            continue
        alpha = json.loads(cells[0])
        for index, name in enumerate(objectives):
            if alpha[index] == 1.0:
                shares[name] = share
    return shares, base


def main() -> None:
    steering, degenerate = 0, []
    for folder in sys.argv[1:]:
        for metrics_path in sorted(Path(folder).rglob("metrics.json")):
            metrics = json.loads(metrics_path.read_text())
            shares, base = vertex_shares(metrics_path.with_name("report.md").read_text(), metrics["objectives"])
            for name, verdict in metrics["steering_verdict"].items():
                share = shares.get(name)
                line = f"{metrics_path.parent.relative_to(folder)} {name}: {verdict}, {share:.2f} at its vertex"
                if verdict == "steers":
                    steering += 1
                    if degenerate_at_vertex(share, base):
                        degenerate.append(line)
                print(line)
    share = f"{DEGENERATE_VERTEX_SHARE:.0%}"
    counted = f"{len(degenerate)} of the {steering} that steer have {share} or more empty or repetitive"
    print(f"{counted} at their vertex, above the unguided model:")
    print("\n".join(degenerate))


if __name__ == "__main__":
    main()
