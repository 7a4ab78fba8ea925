"""The benchmark at 48 held-out prompts against the same runs at 24, run by run: the same training (the train prompts
are the first 96 either way), a sweep on twice the prompts, and a probe that sees other prompts (so it may choose
other strengths). For every objective-run: its steering at 24 and at 48, the strengths the probe chose, and its gain
over the unguided model at its own vertex; then the counts.

    python research/runs/benchmark-48/compare_prompts.py

The 48-prompt runs are those here and in research/runs/whole-samples-48; the 24-prompt runs are the benchmark's
current records (research/runs/whole-samples, conciseness vs list format in research/runs/pair-read-forms, list
format vs positivity in research/runs/fresh_probe24).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
sys.path.insert(0, str(RUNS / "pair-read-forms"))

from compare import by_objective, rows_by_run, side_by_side, steering  # noqa: E402

AT_24_PROMPTS = {
    "whole-samples": None,  # every run there
    "pair-read-forms": "conciseness__list_format_",
    "fresh_probe24": "list_format__positivity_",
}
AT_48_PROMPTS = ("whole-samples-48", "benchmark-48")


def rows_at_24() -> dict[str, dict]:
    rows = {}
    for folder, prefix in AT_24_PROMPTS.items():
        rows.update(
            {run: row for run, row in rows_by_run(RUNS / folder).items() if prefix is None or run.startswith(prefix)}
        )
    return rows


def rows_at_48() -> dict[str, dict]:
    rows = {}
    for folder in AT_48_PROMPTS:
        rows.update(rows_by_run(RUNS / folder))
    return rows


def strength(row: dict, objective: str) -> str:
    strengths = row.get("objective_strengths")
    if not strengths:
        return "1"
    return f"{strengths[list(row['objectives']).index(objective)]:g}"


def gain(result: dict) -> str:
    value = result.get("gain_over_base")
    if value is None:
        return ""
    mark = "**" if result["rises_above_base"] else ""
    return f"{mark}{value['effect']:+.3f} +/- {value['standard_error']:.3f}{mark}"


def count_rising_above_base(rows: dict[str, dict], runs) -> int:
    """How many objective-runs of `runs` (names in `rows`) rise above the unguided model at their own vertex."""
    return sum(rows[run]["objectives"][name]["rises_above_base"] for run in runs for name in rows[run]["objectives"])


def main() -> None:
    at_24, at_48 = rows_at_24(), rows_at_48()
    print(
        "| run | objective | 48 prompts: steers? | strength | gain over base | 24 prompts: steers? | strength | "
        "gain over base |"
    )
    print("|---|---|---|---|---|---|---|---|")

    def cells(run: str, objective: str, result: dict, old: dict) -> str:
        row, before = at_48[run], at_24[run]
        return (
            f"| {run} | {objective} | {steering(result)} | {strength(row, objective)} | {gain(result)} | "
            f"{steering(old)} | {strength(before, objective)} | {gain(old)} |"
        )

    tallies = side_by_side({run: (row, at_24[run]) for run, row in at_48.items()}, cells)
    now, before, total = tallies["steers"]
    rising = [count_rising_above_base(rows, at_48) for rows in (at_48, at_24)]
    print()
    print(
        f"Objective-runs that steer: {now} of {total} at 48 prompts, {before} of {total} at 24 (the same runs). "
        f"Above the unguided model at their own vertex by more than two standard errors: {rising[0]} at 48, "
        f"{rising[1]} at 24. Runs whose guided HV and MIP both beat the base's: {tallies['front'][0]} and "
        f"{tallies['front'][1]} of {len(at_48)}."
    )
    print(by_objective("48 prompts / 24 prompts / runs", tallies["per_objective"]))
    missing = sorted(set(at_24) - set(at_48))
    if missing:
        print(f"Not yet run at 48 prompts: {', '.join(missing)}.")


if __name__ == "__main__":
    main()
