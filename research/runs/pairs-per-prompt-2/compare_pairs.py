"""Two pairs per prompt and objective against one, run by run, at 48 held-out prompts: the same samples, the same
recipe (log-ratio-forms-from-pairs) and seeds, only `pairs_per_prompt` changed, so each objective trains on up to twice
the pairs. For every objective-run here: its steering, the strengths the probe chose, and its gain over the
unguided model at its own vertex, beside the same run with one pair per prompt (research/runs/benchmark-48 and
research/runs/whole-samples-48); then the counts.

    python research/runs/pairs-per-prompt-2/compare_pairs.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
sys.path.insert(0, str(RUNS / "pair-read-forms"))
sys.path.insert(0, str(RUNS / "benchmark-48"))

from compare import by_objective, rows_by_run, side_by_side, steering  # noqa: E402
from compare_prompts import gain, rows_at_48, strength  # noqa: E402


def main() -> None:
    one_pair, two_pairs = rows_at_48(), rows_by_run(HERE)
    print(
        "| run | objective | 2 pairs a prompt: steers? | strength | gain over base | 1 pair a prompt: steers? | "
        "strength | gain over base |"
    )
    print("|---|---|---|---|---|---|---|---|")

    def cells(run: str, objective: str, result: dict, old: dict) -> str:
        row, before = two_pairs[run], one_pair[run]
        return (
            f"| {run} | {objective} | {steering(result)} | {strength(row, objective)} | {gain(result)} | "
            f"{steering(old)} | {strength(before, objective)} | {gain(old)} |"
        )

    tallies = side_by_side({run: (row, one_pair[run]) for run, row in two_pairs.items()}, cells)
    now, before, total = tallies["steers"]
    rising = [
        sum(rows[run]["objectives"][name]["rises_above_base"] for run in two_pairs for name in rows[run]["objectives"])
        for rows in (two_pairs, one_pair)
    ]
    print()
    print(
        f"Objective-runs that steer: {now} of {total} with two pairs a prompt, {before} of {total} with one (the same "
        f"runs). Above the unguided model at their own vertex by more than two standard errors: {rising[0]} and "
        f"{rising[1]}. Runs whose guided HV and MIP both beat the base's: {tallies['front'][0]} and "
        f"{tallies['front'][1]} of {len(two_pairs)}."
    )
    print(by_objective("two pairs / one pair / runs", tallies["per_objective"]))


if __name__ == "__main__":
    main()
