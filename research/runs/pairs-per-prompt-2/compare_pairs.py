"""A training change against the benchmark's runs at 48 held-out prompts, run by run: the same samples, recipe
(log-ratio-forms-from-pairs) and seeds, one change in the pairs or the training. For every objective-run of the folder:
its steering, the strengths the probe chose, its gain over the unguided model at its own vertex, and the share of
the probe's answers at its own vertex that are empty at full strength, beside the same run of the benchmark
(research/runs/benchmark-48 and research/runs/whole-samples-48); then the counts.

    python research/runs/pairs-per-prompt-2/compare_pairs.py                      # two pairs per prompt
    python research/runs/pairs-per-prompt-2/compare_pairs.py --folder research/runs/non-answer-pairs \\
        --label "pairs against the empty answer"
"""

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
sys.path.insert(0, str(RUNS / "pair-read-forms"))
sys.path.insert(0, str(RUNS / "benchmark-48"))

from compare import by_objective, rows_by_run, side_by_side, steering  # noqa: E402
from compare_prompts import count_rising_above_base, gain, rows_at_48, strength  # noqa: E402

BENCHMARK_FOLDERS = (RUNS / "whole-samples-48", RUNS / "benchmark-48")


def empty_at_full_strength(run_folder: Path, objective: str) -> str:
    """The share of the probe's answers at `objective`'s vertex that are empty, every objective at full strength."""
    diagnosis = json.loads((run_folder / "diagnosis.json").read_text())
    full = [probe for probe in diagnosis.get("probe_at_strength") or [] if probe["strength"] == 1.0]
    vertices = full[0]["vertices"] if full else diagnosis["probe"]["vertices"]
    position = [entry["objective"] for entry in diagnosis["objectives"]].index(objective)
    vertex = next(vertex for vertex in vertices if vertex["alpha"][position] == 1.0)
    return f"{vertex['quality']['empty']:.2f}"


def benchmark_folder(run: str) -> Path:
    return next(folder / run for folder in BENCHMARK_FOLDERS if (folder / run).is_dir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=HERE, help="the changed runs' records")
    parser.add_argument("--label", default="two pairs a prompt", help="the change, as the table's columns name it")
    args = parser.parse_args()
    benchmark, changed = rows_at_48(), rows_by_run(args.folder)
    print(
        f"| run | objective | {args.label}: steers? | strength | gain over base | empty at full strength | "
        "benchmark: steers? | strength | gain over base | empty at full strength |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")

    def cells(run: str, objective: str, result: dict, old: dict) -> str:
        row, before = changed[run], benchmark[run]
        empty, empty_before = (
            empty_at_full_strength(folder, objective) for folder in (args.folder / run, benchmark_folder(run))
        )
        return (
            f"| {run} | {objective} | {steering(result)} | {strength(row, objective)} | {gain(result)} | {empty} | "
            f"{steering(old)} | {strength(before, objective)} | {gain(old)} | {empty_before} |"
        )

    tallies = side_by_side({run: (row, benchmark[run]) for run, row in changed.items()}, cells)
    now, before, total = tallies["steers"]
    rising = [count_rising_above_base(rows, changed) for rows in (changed, benchmark)]
    print()
    print(
        f"Objective-runs that steer: {now} of {total} with {args.label}, {before} of {total} in the benchmark (the "
        f"same runs). Above the unguided model at their own vertex by more than two standard errors: {rising[0]} and "
        f"{rising[1]}. Runs whose guided HV and MIP both beat the base's: {tallies['front'][0]} and "
        f"{tallies['front'][1]} of {len(changed)}."
    )
    print(by_objective(f"{args.label} / benchmark / runs", tallies["per_objective"]))


if __name__ == "__main__":
    main()
