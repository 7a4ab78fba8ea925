"""The runs whose strengths the margin for a weaker strength changes, before (the strengths as the search chose them
without the margin) and after (research log sections 35 and 36): the strengths, each objective's verdict and steering
effect, the pair's guided HV and MIP, and whether the after run's probe gave the before run's answers (the same
adapter, so only the strengths differ); `before_after.md` here.

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
    "positivity__plain_words_s0": "empty-answer-check",
    "relevance__plain_words_s2": "empty-answer-check",
    "conciseness__relevance_s2": "wordless-check/rediagnosed",
    "conciseness__plain_words_s0": "held-out-pairs",
    "conciseness__plain_words_s2": "held-out-pairs",
    "conciseness__second_person_s2": "held-out-pairs",
    "list_format__relevance_s2": "side-matched",
    "numbers__exclamation_s2": "unseen-objectives/stronger-strength",
    "questions__parentheses_s1": "rare-features/seed-1",
    "first_person__exclamation_s2": "rare-features/seed-2",
    "questions__parentheses_s2": "rare-features/seed-2",
    "parentheses__hedging_s2": "rare-features/new-pairs-seed-2",
}
AFTER_ELSEWHERE = {  # runs not redone: a stored record of the same adapter swept at the strengths the margin chooses
    "conciseness__relevance_s2": "empty-answer-check",
}


def described(metrics: dict, name: str) -> str:
    effect = metrics["steering_effect"][name]
    return f"{metrics['steering_verdict'][name]} {effect['effect']:+.3f} +/- {effect['standard_error']:.3f}"


def strengths(folder: Path) -> str:
    chosen = json.loads((folder / "diagnosis.json").read_text())["objective_strengths"]
    return ", ".join(f"{value:g}" for value in chosen.values())


def same_probe(before: Path, after: Path) -> bool:
    """Whether both runs' probes scored the same answers at every strength both probed."""
    probed = [
        {
            point["strength"]: point["vertices"]
            for point in json.loads((run / "diagnosis.json").read_text())["probe_at_strength"]
        }
        for run in (before, after)
    ]
    shared = probed[0].keys() & probed[1].keys()
    return bool(shared) and all(
        [vertex["texts"] for vertex in probed[0][strength]] == [vertex["texts"] for vertex in probed[1][strength]]
        for strength in shared
    )


def main() -> None:
    lines = [
        "| run | objective | strengths before / after | before | after | HV before / after | MIP before / after | "
        "same probe |",
        "|---|---|---|---|---|---|---|---|",
    ]
    steer = {"before": 0, "after": 0}
    total = 0
    not_redone = []
    for run, before_folder in BEFORE.items():
        after_path = RUNS / AFTER_ELSEWHERE[run] / run if run in AFTER_ELSEWHERE else HERE / run
        if not (after_path / "metrics.json").is_file():
            not_redone.append(run)
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
                f"{before['mip_sweep']:.3f} / {after['mip_sweep']:.3f} | {same_probe(before_path, after_path)} |"
            )
    lines += ["", f"Steer before: {steer['before']} of {total}; after: {steer['after']} of {total}."]
    if not_redone:
        lines.append(
            f"Changed by the margin, not redone (their tables keep the record before it): {', '.join(not_redone)}."
        )
    text = "\n".join(lines) + "\n"
    (HERE / "before_after.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
