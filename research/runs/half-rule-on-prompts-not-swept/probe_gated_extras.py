"""Would the half rule's extras do better given only where the probe without them fails? Read off the recorded runs of
research log sections 61-63 (each with the extras) and the runs of the same library without them, per objective-run:
whether it steers without the extras, with them, and under two gates that train once without the extras and again
with them only where the probe fails (an objective's diagnosis flags `probe_cannot_tell`, `steers_backwards`,
`does_not_steer` or `probe_inconclusive`): for an objective the extras reach, or for any objective of the run.

    cd research/runs/half-rule-on-prompts-not-swept && python probe_gated_extras.py
"""

from __future__ import annotations

import json
from pathlib import Path

RUNS = Path(__file__).resolve().parent.parent
WITH_EXTRAS = [
    "pairs-under-half-the-prompts",
    "half-rule-on-objectives-not-chosen-for",
    "half-rule-on-the-rest-it-reaches",
]
WITHOUT_EXTRAS = [
    "pairs-after-the-margin-guard",
    "three-pairs-never-run",
    "objectives-after-fresh-prompts",
    "objectives-after-the-exit-fix",
]
PROBE_FAILS = {"probe_cannot_tell", "steers_backwards", "does_not_steer", "probe_inconclusive"}


def table(folder: str) -> dict[str, tuple[Path, dict]]:
    """The benchmark table's rows (`--table_only`'s table.json) by run name, with the folder they are in."""
    return {row["run"]: (RUNS / folder, row) for row in json.loads((RUNS / folder / "table.json").read_text())}


def probe_failed(folder: Path, run: str) -> dict[str, bool]:
    """{objective: whether its probe failed} in a run's diagnosis."""
    objectives = json.loads((folder / run / "diagnosis.json").read_text())["objectives"]
    return {entry["objective"]: bool(PROBE_FAILS & set(entry["flags"])) for entry in objectives}


def main() -> None:
    without: dict[str, tuple[Path, dict]] = {}
    for folder in WITHOUT_EXTRAS:
        without.update(table(folder))
    counts = dict.fromkeys(("objective-runs", "without", "with", "gate on a reached objective", "gate on any"), 0)
    print("| run | objective | extras | probe failed without | steers without | steers with |")
    print("|---|---|---|---|---|---|")
    for folder in WITH_EXTRAS:
        for run, (path, row) in table(folder).items():
            before_path, before = without[run]
            failed = probe_failed(before_path, run)
            reached = json.loads((path / run / "preference_data" / "pairing.json").read_text())["more_samples_for"]
            retrain_if_reached = any(failed[name] for name in row["objectives"] if name in reached)
            retrain_if_any = any(failed.values())
            for name, objective in row["objectives"].items():
                steers_before, steers_after = before["objectives"][name]["steers"], objective["steers"]
                counts["objective-runs"] += 1
                counts["without"] += steers_before
                counts["with"] += steers_after
                counts["gate on a reached objective"] += steers_after if retrain_if_reached else steers_before
                counts["gate on any"] += steers_after if retrain_if_any else steers_before
                cells = [run, name, "yes" if name in reached else "", str(failed[name]), str(steers_before)]
                print("| " + " | ".join([*cells, str(steers_after)]) + " |")
    print()
    total = counts.pop("objective-runs")
    print("Objective-runs that steer, of " + f"{total}: " + "; ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
