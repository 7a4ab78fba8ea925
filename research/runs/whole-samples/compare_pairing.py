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
    by_objective,
    reward_form,
    rows_by_run,
    side_by_side,
    steering,
    steering_outside,
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

    def cells(run: str, objective: str, result: dict, old: dict) -> str:
        path = now[run][1]
        forms = f"{earlier_form(run, objective)} / {reward_form(path, objective)}"
        return (
            f"| {run} | {objective} | {forms} | {steering(result)} | {vertex_answers(path / 'report.md', objective)} "
            f"| {steering(old)} | {vertex_answers(earlier_report(run), objective)} |"
        )

    tallies = side_by_side({run: (row, earlier[run]) for run, (row, _) in now.items()}, cells)
    counts = dict(zip(("now", "before", "total"), tallies["steers"], strict=True))
    per_objective = tallies["per_objective"]
    front = dict(zip(("now", "before"), tallies["front"], strict=True))
    print()
    print(
        f"Objective-runs that steer: whole samples {counts['now']} of {counts['total']}, before {counts['before']} of "
        f"{counts['total']}. Runs whose guided HV and MIP both beat the base's: {front['now']} and {front['before']} "
        f"of {len(now)}."
    )
    print(by_objective("now / before / runs", per_objective))
    steered, total = steering_outside(earlier, now)
    unchanged = sorted(run for run in earlier if run not in now)
    print(
        f"Runs whose pairs this leaves as they were ({', '.join(unchanged)}): {steered} of {total} steer; "
        f"with them the benchmark steers {counts['now'] + steered} of {counts['total'] + total}, before "
        f"{counts['before'] + steered}."
    )


if __name__ == "__main__":
    main()
