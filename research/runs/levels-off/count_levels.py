"""Which stored two-objective runs judged `not_monotone` would the report now call `levels_off` or `rises_late`? Read
from each record's report.md table (the per-alpha mean +/- standard error), since the records keep no per-prompt
scores. Levels off: the peak below the top weight, a rise at every step up to it, and the rise from weight 0 above two
unpaired standard errors. Rises late: every weight up to one below the top within two unpaired standard errors of
weight 0, a rise at every step from there to the top, above two. Unpaired standard errors are larger than the paired
ones the report uses, so a level or a rise is under-counted and a flat stretch over-counted.

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


def rises_late_from_table(rows: list[tuple[float, float, float]]) -> float | None:
    def within_noise(index: int) -> bool:
        return abs(rows[index][1] - rows[0][1]) <= 2 * math.hypot(rows[index][2], rows[0][2])

    start = 0
    while start + 1 < len(rows) and within_noise(start + 1):
        start += 1
    means = [mean for _, mean, _ in rows]
    rising = all(lower < higher for lower, higher in zip(means[start:], means[start + 1 :], strict=False))
    clear_rise = means[-1] - means[start] > 2 * math.hypot(rows[-1][2], rows[start][2])
    return rows[start][0] if 0 < start < len(rows) - 1 and rising and clear_rise else None


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
            level = levels_off_from_table(rows) if len(rows) > 2 else None
            late = rises_late_from_table(rows) if len(rows) > 2 else None
            shape = (
                f"levels off at {level:g}"
                if level is not None
                else f"rises late from {late:g}"
                if late is not None
                else "stays not_monotone"
            )
            shown = ", ".join(f"{mean:.2f}" for _, mean, _ in rows)
            found.append((shape, f"{metrics_path.parent}: {name} ({shown})"))
    for shape, where in found:
        print(f"{shape:>22}  {where}")
    levels = sum(shape.startswith("levels") for shape, _ in found)
    late = sum(shape.startswith("rises") for shape, _ in found)
    print(f"of {len(found)} not_monotone objective-runs, {levels} level off and {late} rise late")


if __name__ == "__main__":
    main(sys.argv[1])
