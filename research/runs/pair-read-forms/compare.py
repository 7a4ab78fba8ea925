"""The uniform log-ratio recipe against the same recipe with each objective's reward form read from its pairs, run
by run: for every benchmark run folder here, the objective's reward form, its steering with the forms read from the
pairs, and its steering under the uniform recipe (research/runs/search24, with the runs research/runs/rechoose24 and
research/runs/fresh_probe24 swept again), each with the shares of empty and of repetitive answers at the objective's
own vertex (from the reports), then the counts.

    python research/runs/pair-read-forms/compare.py
"""

import json
import sys
from collections.abc import Collection
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
sys.path.insert(0, str(RUNS.parents[1] / "scripts"))

from benchmark_tables import benchmark_table, summary_from_run_folders  # noqa: E402

UNIFORM_RECIPE_FOLDERS = ("search24", "rechoose24", "fresh_probe24")  # later folders replace earlier runs


def rows_by_run(folder: Path) -> dict[str, dict]:
    """The benchmark table's rows of the run folders under `folder`, by run name."""
    return {row["run"]: row for row in benchmark_table(summary_from_run_folders(folder))}


def steering(result: dict) -> str:
    """'yes 1.00, +0.30 +/- 0.05' or 'no (verdict) ...'."""
    verdict = "**yes**" if result["steers"] else f"no ({result['verdict']})"
    return f"{verdict} {result['spearman']:.2f}, {result['effect']:+.2f} +/- {result['standard_error']:.2f}"


def vertex_answers(report: Path, objective: str) -> str:
    """'empty 0.04, repetitive 0.42': the report's shares of such answers at the objective's own vertex."""
    lines = report.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| alpha |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    objectives = columns[1 : columns.index("empty")]
    vertex = [1.0 if name == objective else 0.0 for name in objectives]
    label = "[" + ", ".join(str(value) for value in vertex) + "]"
    cells = next(line for line in lines if line.startswith(f"| {label} |")).strip("|").split("|")
    shares = dict(zip(columns, (cell.strip() for cell in cells), strict=True))
    return f"empty {shares['empty']}, repetitive {shares['repetitive']}"


def uniform_report(run: str) -> Path:
    """The report of the uniform recipe's run `run`: the last folder of UNIFORM_RECIPE_FOLDERS that has it."""
    reports = [RUNS / folder / run / "report.md" for folder in UNIFORM_RECIPE_FOLDERS]
    return [report for report in reports if report.is_file()][-1]


def reward_form(run_folder: Path, objective: str) -> str:
    """'mean' or 'summed', as the run's metrics.json records it."""
    metrics = json.loads((run_folder / "metrics.json").read_text())
    return metrics["reward_forms"]["objectives"][objective]["reward"]


def side_by_side(runs: dict[str, tuple[dict, dict]], cells) -> dict:
    """Prints `cells(run, objective, result, earlier result)` for every objective-run of `runs` (run -> (row, earlier
    row of the same run)), by seed then name, and returns the tallies: `steers` [now, earlier, objective-runs],
    `per_objective` {objective: the same three}, `front` [runs whose guided HV and MIP both beat the base's, now and
    earlier]."""
    steers, per_objective, front = [0, 0, 0], {}, [0, 0]
    for run, (row, before) in sorted(runs.items(), key=lambda item: (item[0].rsplit("_s", 1)[1], item[0])):
        for objective, result in row["objectives"].items():
            old = before["objectives"][objective]
            print(cells(run, objective, result, old))
            tally = per_objective.setdefault(objective, [0, 0, 0])
            for counter in (steers, tally):
                counter[0] += result["steers"]
                counter[1] += old["steers"]
                counter[2] += 1
        for index, source in enumerate((row, before)):
            front[index] += source["hypervolume"][0] > source["hypervolume"][1] and source["mip"][0] > source["mip"][1]
    return {"steers": steers, "per_objective": per_objective, "front": front}


def steering_outside(rows: dict[str, dict], runs_done: Collection[str]) -> tuple[int, int]:
    """(objective-runs that steer, objective-runs) among the `rows` whose run is not in `runs_done`."""
    kept = [row for run, row in rows.items() if run not in runs_done]
    results = [result for row in kept for result in row["objectives"].values()]
    return sum(result["steers"] for result in results), len(results)


def by_objective(columns: str, per_objective: dict[str, list[int]]) -> str:
    """'By objective (<columns>): name a / b / c, ...' from `side_by_side`'s per-objective tallies."""
    tallies = ", ".join(f"{name} {' / '.join(map(str, counts))}" for name, counts in per_objective.items())
    return f"By objective ({columns}): {tallies}."


def main() -> None:
    uniform = {}
    for name in UNIFORM_RECIPE_FOLDERS:
        uniform.update(rows_by_run(RUNS / name))
    read = rows_by_run(HERE)
    print(
        "| run | objective | reward read from the pairs | forms read: steers? | at its vertex | "
        "uniform (summed): steers? | at its vertex |"
    )
    print("|---|---|---|---|---|---|---|")

    def cells(run: str, objective: str, result: dict, old: dict) -> str:
        form = reward_form(HERE / run, objective)
        answers = vertex_answers(HERE / run / "report.md", objective)
        before_answers = vertex_answers(uniform_report(run), objective)
        return (
            f"| {run} | {objective} | {form} | {steering(result)} | {answers} | {steering(old)} | {before_answers} |"
        )

    tallies = side_by_side({run: (row, uniform[run]) for run, row in read.items()}, cells)
    counts = {"read": tallies["steers"][0], "uniform": tallies["steers"][1], "total": tallies["steers"][2]}
    per_objective = tallies["per_objective"]
    front = {"read": tallies["front"][0], "uniform": tallies["front"][1]}
    print()
    print(
        f"Objective-runs that steer: forms read from the pairs {counts['read']} of {counts['total']}, uniform "
        f"{counts['uniform']} of {counts['total']}. Runs whose guided HV and MIP both beat the base's: "
        f"{front['read']} and {front['uniform']} of {len(read)}."
    )
    print(by_objective("forms read / uniform / runs", per_objective))
    steered, total = steering_outside(uniform, read)
    print(
        f"The uniform recipe's other runs, whose objectives' pairs all give the summed form with beta_r 0.1 (the "
        f"uniform recipe's): {steered} of {total} steer; with them the benchmark steers {counts['read'] + steered} "
        f"of {counts['total'] + total} with the forms read from the pairs, {counts['uniform'] + steered} uniform."
    )


if __name__ == "__main__":
    main()
