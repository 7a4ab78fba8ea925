"""The runs whose strengths the margin for a weaker strength changes, before (the strengths as the search chose them
without the margin) and after (research log section 35): the strengths, each objective's verdict and steering effect,
and the pair's guided HV and MIP; `before_after.md` here. The after runs reproduce the before runs' probe answers
(the same adapter), so only the strengths differ.

    python research/runs/weaker-margin/before_after.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
BEFORE = {  # each rerun's record as the search without the margin left it
    "contractions__imperatives_s1": "fresh-objectives/seed-1",
    "imperatives__word_variety_s0": "fresh-objectives/seed-0",
    "imperatives__word_variety_s1": "fresh-objectives/seed-1",
    "paragraphs__word_variety_s0": "fresh-objectives/seed-0",
    "paragraphs__word_variety_s1": "fresh-objectives/seed-1",
    "relevance__second_person_s0": "out-of-sight",
    "parentheses__hedging_s0": "rare-features/new-pairs",
    "list_format__relevance_s1": "side-matched",
}


def described(metrics: dict, name: str) -> str:
    effect = metrics["steering_effect"][name]
    return f"{metrics['steering_verdict'][name]} {effect['effect']:+.3f} +/- {effect['standard_error']:.3f}"


def strengths(folder: Path) -> str:
    chosen = json.loads((folder / "diagnosis.json").read_text())["objective_strengths"]
    return ", ".join(f"{value:g}" for value in chosen.values())


def main() -> None:
    lines = [
        "| run | objective | strengths before / after | before | after | HV before / after | MIP before / after |",
        "|---|---|---|---|---|---|---|",
    ]
    steer = {"before": 0, "after": 0}
    total = 0
    for run, before_folder in BEFORE.items():
        after_path = HERE / run
        if not (after_path / "metrics.json").is_file():
            continue
        before_path = RUNS / before_folder / run
        before = json.loads((before_path / "metrics.json").read_text())
        after = json.loads((after_path / "metrics.json").read_text())
        chosen = f"({strengths(before_path)}) / ({strengths(after_path)})"
        for name in after["objectives"]:
            total += 1
            steer["before"] += before["steering_verdict"][name] == "steers"
            steer["after"] += after["steering_verdict"][name] == "steers"
            lines.append(
                f"| {run} | {name} | {chosen} | {described(before, name)} | {described(after, name)} | "
                f"{before['hypervolume_sweep']:.3f} / {after['hypervolume_sweep']:.3f} | "
                f"{before['mip_sweep']:.3f} / {after['mip_sweep']:.3f} |"
            )
    lines += ["", f"Steer before: {steer['before']} of {total}; after: {steer['after']} of {total}."]
    text = "\n".join(lines) + "\n"
    (HERE / "before_after.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
