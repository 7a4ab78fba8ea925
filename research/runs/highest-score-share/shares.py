"""The unguided model at each objective's highest score in the sweep, over finished run folders that keep sweep.json.

For each run folder given (searched for sweep.json) and each objective, prints the share of test prompts whose
unguided answer already reaches the highest score of the sweep (`base_at_highest_score`), the unguided mean and the
report's verdict: does a high share single out the objectives the sweep cannot raise?

    python research/runs/highest-score-share/shares.py FOLDER ... > research/runs/highest-score-share/shares.txt
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from peft_pblora.evaluation.weight_curves import LITTLE_ROOM_SHARE, base_at_highest_score
from peft_pblora.pipeline.steering_verdict_lines import metrics_verdicts


def rows(folders: list[Path]) -> list[tuple[float, str, float, str, str]]:
    """(share, verdict, unguided mean, run, objective) for every objective of every run under the folders."""
    found = []
    sweeps = sorted((folder, path) for folder in folders for path in folder.rglob("sweep.json"))
    for folder, sweep_path in sweeps:
        metrics_path = sweep_path.with_name("metrics.json")
        if not metrics_path.is_file():
            continue
        sweep, metrics = json.loads(sweep_path.read_text()), json.loads(metrics_path.read_text())
        verdicts = metrics_verdicts(metrics)
        for name, entry in base_at_highest_score(sweep).items():
            run = f"{folder.name}/{sweep_path.parent.relative_to(folder)}"
            found.append((entry["share"], verdicts[name], sweep["base"]["scores"][name], run, name))
    return sorted(found)


def main() -> None:
    found = rows([Path(folder) for folder in sys.argv[1:]])
    print("share  verdict                unguided  run / objective")
    for share, verdict, mean, run, name in found:
        print(f"{share:5.2f}  {verdict:<22} {mean:8.3f}  {run} / {name}")
    at_top = [row for row in found if row[0] >= LITTLE_ROOM_SHARE]
    objectives = sorted({row[4] for row in at_top})
    print(
        f"\n{len(at_top)} of {len(found)} objective-runs at {LITTLE_ROOM_SHARE:.0%} or more "
        f"({', '.join(objectives)}); "
        f"{sum(row[1] == 'steers' for row in at_top)} of them steer. The highest share below it: "
        f"{max((row[0] for row in found if row[0] < LITTLE_ROOM_SHARE), default=0):.2f}."
    )


if __name__ == "__main__":
    main()
