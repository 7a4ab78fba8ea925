"""Each objective-run of a folder's table against the recorded run at the same seed (no extras), as a markdown table
with the counts of objective-runs that steer in each (research log sections 62 and 63).

    cd research/runs/half-rule-on-objectives-not-chosen-for && python compare.py > compare.md
    cd research/runs/half-rule-on-the-rest-it-reaches && python ../half-rule-on-objectives-not-chosen-for/compare.py \
        --folder . --recorded ../three-pairs-never-run ../objectives-after-fresh-prompts \
        ../objectives-after-the-exit-fix > compare.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from peft_pblora.pipeline.steering_verdict_lines import degenerate_at_vertex

HERE = Path(__file__).resolve().parent
RECORDED_FOLDERS = [HERE.parent / "pairs-after-the-margin-guard", HERE.parent / "three-pairs-never-run"]


def runs_by_name(path: Path) -> dict[str, dict]:
    """The benchmark table's rows (`--table_only`'s table.json) by run folder name."""
    return {row["run"]: row for row in json.loads(path.read_text())}


def looping(objective: dict) -> bool:
    """Whether a quarter or more of the answers at the objective's vertex are empty or repeat a phrase."""
    return degenerate_at_vertex(objective.get("degenerate_share_at_vertex") or 0.0, None)


def described(row: dict, index: int, name: str) -> str:
    """An objective's verdict, effect, strength and degenerate share at its vertex, in one cell."""
    objective = row["objectives"][name]
    strength = row["objective_strengths"][index]
    verdict = "steers" if objective["steers"] else objective["verdict"].replace("_", " ")
    degenerate = objective.get("degenerate_share_at_vertex")
    loops = f", {degenerate:.0%} degenerate" if looping(objective) else ""
    return (
        f"{verdict} at x{strength:g} ({objective['spearman']:.2f}; "
        f"{objective['effect']:+.3f} +/- {objective['standard_error']:.3f}{loops})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=HERE, help="the runs with the extras, with their table.json")
    parser.add_argument(
        "--recorded", type=Path, nargs="+", default=RECORDED_FOLDERS, help="folders of the runs without the extras"
    )
    args = parser.parse_args()
    recorded: dict[str, dict] = {}
    recorded_folder: dict[str, Path] = {}
    for folder in args.recorded:
        rows = runs_by_name(folder / "table.json")
        recorded.update(rows)
        recorded_folder.update(dict.fromkeys(rows, folder))
    new = runs_by_name(args.folder / "table.json")
    counts = {"before": 0, "after": 0, "total": 0, "looping before": 0, "looping after": 0}
    print("| run | objective | prompts with training pairs | without the extras | with the extras |")
    print("|---|---|---|---|---|")
    for run in sorted(new):
        after, before = new[run], recorded[run]
        diagnosis = json.loads((args.folder / run / "diagnosis.json").read_text())
        diagnosis_before = json.loads((recorded_folder[run] / run / "diagnosis.json").read_text())
        extras = json.loads((args.folder / run / "preference_data" / "pairing.json").read_text())["more_samples_for"]
        for index, name in enumerate(after["objectives"]):
            counts["total"] += 1
            counts["before"] += before["objectives"][name]["steers"]
            counts["after"] += after["objectives"][name]["steers"]
            counts["looping before"] += looping(before["objectives"][name])
            counts["looping after"] += looping(after["objectives"][name])
            paired = f"{diagnosis_before['prompts_with_pairs'][name]} -> {diagnosis['prompts_with_pairs'][name]}"
            paired += " (extras)" if name in extras else ""
            cells = [run, name, paired, described(before, index, name), described(after, index, name)]
            print("| " + " | ".join(cells) + " |")
    print()
    print(
        f"Objective-runs that steer on the benchmark's 48 prompts: {counts['before']} of {counts['total']} without "
        f"the extras, {counts['after']} of {counts['total']} with them. Vertices empty or repetitive in a quarter or "
        f"more of their answers: {counts['looping before']} without, {counts['looping after']} with."
    )


if __name__ == "__main__":
    main()
