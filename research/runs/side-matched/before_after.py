"""The runs whose pairs score matching read from the candidates changes, before (as the library left them) and after
(research log section 34): each objective's verdict and steering effect, the strengths the probe chose, and the
pair's guided HV and MIP; `before_after.md` here.

    python research/runs/side-matched/before_after.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
BEFORE = {  # each pair's records as the library left them, per seed
    "positivity__second_person": dict.fromkeys("012", "held-out-pairs"),
    "parentheses__short_sentences": {"0": "out-of-sight", "1": "out-of-sight", "2": "rare-features/seed-2"},
    "list_format__relevance": dict.fromkeys("012", "wordless-check/rediagnosed"),
    "exclamation__short_sentences": dict.fromkeys("012", "unseen-objectives/min-train-steps"),
    "parentheses__first_person": dict.fromkeys("01", "rare-features/new-pairs"),
}


def described(metrics: dict, name: str) -> str:
    effect = metrics["steering_effect"][name]
    return f"{metrics['steering_verdict'][name]} {effect['effect']:+.3f} +/- {effect['standard_error']:.3f}"


def main() -> None:
    lines = [
        "| run | objective | before | after | strengths before / after | HV before / after | MIP before / after |",
        "|---|---|---|---|---|---|---|",
    ]
    counts = {"before": 0, "after": 0, "runs": 0, "hv_up": 0, "pairs": 0, "above_base": 0}
    for folder in sorted(HERE.glob("*_s?")):
        pair, seed = folder.name.rsplit("_s", 1)
        after = json.loads((folder / "metrics.json").read_text())
        before = json.loads((RUNS / BEFORE[pair][seed] / folder.name / "metrics.json").read_text())
        counts["pairs"] += 1
        counts["hv_up"] += after["hypervolume_sweep"] > before["hypervolume_sweep"]
        counts["above_base"] += (
            after["hypervolume_sweep"] > after["hypervolume_base"] and after["mip_sweep"] > after["mip_base"]
        )
        for index, name in enumerate(after["objectives"]):
            counts["runs"] += 1
            counts["before"] += before["steering_verdict"][name] == "steers"
            counts["after"] += after["steering_verdict"][name] == "steers"
            strengths = f"{before['objective_strengths'][index]:g} / {after['objective_strengths'][index]:g}"
            lines.append(
                f"| {folder.name} | {name} | {described(before, name)} | {described(after, name)} | {strengths} "
                f"| {before['hypervolume_sweep']:.3f} / {after['hypervolume_sweep']:.3f} "
                f"| {before['mip_sweep']:.3f} / {after['mip_sweep']:.3f} |"
            )
    lines.append("")
    lines.append(
        f"Steer before: {counts['before']} of {counts['runs']}; after: {counts['after']} of {counts['runs']}."
    )
    lines.append(
        f"Guided HV and MIP above the unguided model's after: {counts['above_base']} of {counts['pairs']} runs; "
        f"guided HV higher than before: {counts['hv_up']} of {counts['pairs']}."
    )
    (HERE / "before_after.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
