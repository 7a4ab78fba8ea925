"""Each objective-run swept on 96 test prompts with the half rule's extras against the same run's 96-prompt sweep
without them: its verdict on the benchmark's 48 prompts, on the 48 the benchmark never swept and on all 96, with the
counts of objective-runs that steer (research log section 64).

    cd research/runs/half-rule-on-prompts-not-swept && python compare_halves.py > compare.md

Verdicts are the library's `summarise_sweep` on each half, as `verdicts-on-fresh-prompts/fresh_halves.py` reads them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from peft_pblora.evaluation.sweep_metrics import summarise_sweep

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
sys.path.insert(0, str(RUNS / "verdicts-on-fresh-prompts"))
from fresh_halves import half_of, read_sweep  # noqa: E402

WITH_EXTRAS = [
    RUNS / "half-rule-on-objectives-not-chosen-for" / "on-96-prompts",
    RUNS / "half-rule-on-the-rest-it-reaches" / "on-96-prompts",
]
WITHOUT_EXTRAS = [
    RUNS / "verdicts-on-fresh-prompts" / "same-strengths" / "pairs-never-run",
    RUNS / "objectives-after-fresh-prompts" / "on-96-prompts" / "own-strengths",
    RUNS / "objectives-after-the-exit-fix" / "on-96-prompts",
]
SETS = ("benchmark's 48", "fresh 48", "all 96")


def sweeps_by_run(folders: list[Path]) -> dict[str, Path]:
    """Each run folder's sweep file (`<tag>/<run>/sweep.json[.gz]`) by run name; a run found twice is an error."""
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.glob("*/*/sweep.json*")):
            run = path.parent.name
            if run in found:
                raise SystemExit(f"{run} is swept twice: {found[run]} and {path}")
            found[run] = path
    return found


def verdicts(path: Path) -> dict[str, dict]:
    """Per set of prompts, the summary of the sweep restricted to it (the benchmark's 48 are the last 48)."""
    sweep = read_sweep(path)
    size = len(sweep["prompts"])
    halves = {SETS[0]: half_of(sweep, slice(size // 2, size)), SETS[1]: half_of(sweep, slice(0, size // 2))}
    summaries = {label: summarise_sweep(part) for label, part in halves.items()}
    summaries[SETS[2]] = summarise_sweep(sweep)
    return {"objectives": sweep["objectives"], **summaries}


def cell(summary: dict, objective: str) -> str:
    """Verdict and effect of one objective on one set of prompts."""
    effect = summary["steering_effect"][objective]
    verdict = summary["steering_verdict"][objective].replace("_", " ")
    return f"{verdict} ({effect['effect']:+.3f} +/- {effect['standard_error']:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with_extras", type=Path, nargs="+", default=WITH_EXTRAS)
    parser.add_argument("--without_extras", type=Path, nargs="+", default=WITHOUT_EXTRAS)
    args = parser.parse_args()
    with_extras, without_extras = sweeps_by_run(args.with_extras), sweeps_by_run(args.without_extras)
    counts = {label: [0, 0] for label in SETS}
    effects = {label: [0.0, 0.0] for label in SETS}
    total = 0
    header = [f"{label}, {side}" for label in SETS for side in ("without", "with")]
    print("| run | objective | " + " | ".join(header) + " |")
    print("|---|---|" + "---|" * len(header))
    for run in sorted(with_extras):
        if run not in without_extras:
            raise SystemExit(f"{run} has no 96-prompt sweep without the extras")
        after, before = verdicts(with_extras[run]), verdicts(without_extras[run])
        for objective in after["objectives"]:
            total += 1
            cells = [run, objective]
            for label in SETS:
                for side, summary in enumerate((before, after)):
                    counts[label][side] += summary[label]["steering_verdict"][objective] == "steers"
                    effects[label][side] += summary[label]["steering_effect"][objective]["effect"]
                    cells.append(cell(summary[label], objective))
            print("| " + " | ".join(cells) + " |")
    print()
    for label in SETS:
        without, with_ = counts[label]
        mean_without, mean_with = (effect / total for effect in effects[label])
        print(
            f"- {label}: {without} of {total} objective-runs steer without the extras, {with_} of {total} with them; "
            f"mean steering effect {mean_without:+.3f} without, {mean_with:+.3f} with"
        )


if __name__ == "__main__":
    main()
