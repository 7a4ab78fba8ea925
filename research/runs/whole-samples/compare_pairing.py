"""The benchmark with the first-sentence variants left out of the pairs of every objective whose whole samples do
not pair by length, against the benchmark as it stood (section 21's forms read from the pairs, every candidate in
every pair but positivity's), run by run: each objective's reward form, its steering and the shares of empty and
repetitive answers at its own vertex, then the counts. The earlier runs are those of research/runs/pair-read-forms
(pairs holding conciseness or relevance) and of the uniform recipe's folders (the other pairs, whose forms were all
summed then and are now).

    python research/runs/whole-samples/compare_pairing.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
sys.path.insert(0, str(RUNS / "pair-read-forms"))

from compare import (  # noqa: E402
    UNIFORM_RECIPE_FOLDERS,
    reward_form,
    rows_by_run,
    steering,
    uniform_report,
    vertex_answers,
)

FORMS_FROM_PAIRS = RUNS / "pair-read-forms"


def earlier_rows() -> dict[str, dict]:
    """The benchmark's runs before this change: the uniform recipe's, replaced where section 21 ran them again."""
    rows = {}
    for name in UNIFORM_RECIPE_FOLDERS:
        rows.update(rows_by_run(RUNS / name))
    rows.update(rows_by_run(FORMS_FROM_PAIRS))
    return rows


def earlier_report(run: str) -> Path:
    report = FORMS_FROM_PAIRS / run / "report.md"
    return report if report.is_file() else uniform_report(run)


def earlier_form(run: str, objective: str) -> str:
    return reward_form(FORMS_FROM_PAIRS / run, objective) if (FORMS_FROM_PAIRS / run).is_dir() else "summed"


def main() -> None:
    earlier = earlier_rows()
    now = {run: (row, HERE / run) for run, row in rows_by_run(HERE).items()}
    print(
        "| run | objective | reward (before / now) | whole samples: steers? | at its vertex | before: steers? | "
        "at its vertex |"
    )
    print("|---|---|---|---|---|---|---|")
    counts = {"now": 0, "before": 0, "total": 0}
    per_objective: dict[str, list[int]] = {}
    front = {"now": 0, "before": 0}
    for run, (row, path) in sorted(now.items(), key=lambda item: (item[0].rsplit("_s", 1)[1], item[0])):
        before = earlier[run]
        for objective, result in row["objectives"].items():
            old = before["objectives"][objective]
            forms = f"{earlier_form(run, objective)} / {reward_form(path, objective)}"
            print(
                f"| {run} | {objective} | {forms} | {steering(result)} | "
                f"{vertex_answers(path / 'report.md', objective)} | {steering(old)} | "
                f"{vertex_answers(earlier_report(run), objective)} |"
            )
            counts["now"] += result["steers"]
            counts["before"] += old["steers"]
            counts["total"] += 1
            tally = per_objective.setdefault(objective, [0, 0, 0])
            tally[0] += result["steers"]
            tally[1] += old["steers"]
            tally[2] += 1
        for label, source in (("now", row), ("before", before)):
            front[label] += source["hypervolume"][0] > source["hypervolume"][1] and source["mip"][0] > source["mip"][1]
    print()
    print(
        f"Objective-runs that steer: whole samples {counts['now']} of {counts['total']}, before {counts['before']} of "
        f"{counts['total']}. Runs whose guided HV and MIP both beat the base's: {front['now']} and {front['before']} "
        f"of {len(now)}."
    )
    print(
        "By objective (now / before / runs): "
        + ", ".join(f"{name} {now} / {old} / {runs}" for name, (now, old, runs) in per_objective.items())
        + "."
    )
    unchanged = {run: row for run, row in earlier.items() if run not in now}
    steered = sum(result["steers"] for row in unchanged.values() for result in row["objectives"].values())
    total = sum(len(row["objectives"]) for row in unchanged.values())
    print(
        f"Runs whose pairs this leaves as they were ({', '.join(sorted(unchanged))}): {steered} of {total} steer; "
        f"with them the benchmark steers {counts['now'] + steered} of {counts['total'] + total}, before "
        f"{counts['before'] + steered}."
    )


if __name__ == "__main__":
    main()
