"""Which stored two-objective runs judged `not_monotone` would the report now call `levels_off`? Read from each
record's report.md table (the per-alpha mean +/- standard error), since the records keep no per-prompt scores: the
peak below the top weight, a rise at every step up to it, and the rise from weight 0 above two unpaired standard
errors (larger than the paired ones the report uses, so this can only under-count).

    python research/runs/levels-off/count_levels.py research/runs
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

from peft_pblora.pipeline.steering_verdict_lines import metrics_verdicts

ROW = re.compile(r"^\| \[([0-9., ]+)\] \| (.+)$")
CELL = re.compile(r"(-?[0-9.]+) \+/- ([0-9.]+)")


def curve(report: str, index: int) -> list[tuple[float, float, float]]:
    """(weight, mean, standard error) of objective `index` at each alpha row of the report's table, rising weight."""
    rows = []
    for line in report.splitlines():
        match = ROW.match(line)
        if not match:
            continue
        alpha = [float(value) for value in match.group(1).split(",")]
        cells = CELL.findall(match.group(2))
        rows.append((alpha[index], float(cells[index][0]), float(cells[index][1])))
    return sorted(rows)


def levels_off_from_table(rows: list[tuple[float, float, float]]) -> float | None:
    means = [mean for _, mean, _ in rows]
    peak = means.index(max(means))
    rising = all(lower < higher for lower, higher in zip(means[:peak], means[1 : peak + 1], strict=True))
    clear_rise = means[peak] - means[0] > 2 * math.hypot(rows[peak][2], rows[0][2])
    return rows[peak][0] if 0 < peak < len(rows) - 1 and rising and clear_rise else None


def main(root: str) -> None:
    found, seen = [], set()
    for metrics_path in sorted(Path(root).rglob("metrics.json")):
        report_path = metrics_path.with_name("report.md")
        metrics = json.loads(metrics_path.read_text())
        if len(metrics.get("objectives", [])) != 2 or "steepest_fall" not in metrics or not report_path.exists():
            continue
        for index, (name, verdict) in enumerate(metrics_verdicts(metrics).items()):
            if verdict != "not_monotone":
                continue
            rows = curve(report_path.read_text(), index)
            if (name, tuple(rows)) in seen:
                continue
            seen.add((name, tuple(rows)))
            weight = levels_off_from_table(rows) if len(rows) > 2 else None
            shown = ", ".join(f"{mean:.2f}" for _, mean, _ in rows)
            found.append((weight, f"{metrics_path.parent}: {name} ({shown})"))
    for weight, where in found:
        print(f"{'levels off at ' + format(weight, 'g') if weight is not None else 'stays not_monotone':>20}  {where}")
    print(f"{sum(weight is not None for weight, _ in found)} of {len(found)} not_monotone objective-runs level off")


if __name__ == "__main__":
    main(sys.argv[1])
