"""Section 83 tallied: per seed-3 run and objective, the strength the search chose and whether it probed half the
weakest, Spearman, effect, verdict, the base NLL gap and the empty-or-repetitive share at its vertex, and how many of
its 8 answers the blind readers called salad (salad at 2 or more, borderline at 1); the readers' agreement on the
answers both read, and the counts the rule (chosen.txt) reads. Writes tally.md.

    python tally.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from draw_answers_to_read import HERE, SECTION_82_SEED_3, run_folders
from sample_for_reading import read_labels

from peft_pblora.evaluation.base_likelihood import is_off_language

FIXED_PAIRS = "fixed-pairs"  # the second rule's runs: seed 0 of the fixed benchmark pairs with list format, without
ARMS = {
    "without": "without the word-choice pairs",
    "with": "with them",
    FIXED_PAIRS: "the fixed pairs with list format, seed 0, without the word-choice pairs",
}
DEGENERATE_LINE = 0.25  # the report's line for a vertex's empty-or-repetitive share


def probed_strengths(folder: Path) -> list[float]:
    """The strengths the diagnosis probed (full strength included), from its record."""
    diagnosis = json.loads((folder / "diagnosis.json").read_text())
    return sorted({float(point["strength"]) for point in diagnosis.get("probe_at_strength", [])} | {1.0})


def arm_lines(arm: str) -> tuple[list[str], list[str]]:
    """The arm's table rows and its summary line (its runs' salad counts where they were read)."""
    key = HERE / f"key_{arm}.jsonl"
    label, agree, twice = read_labels(sorted((HERE / f"reading_{arm}").glob("labels_*.jsonl")))
    salad: Counter = Counter()
    read: Counter = Counter()
    for line in key.read_text().splitlines() if key.exists() else []:
        row = json.loads(line)
        if row["id"] in label:
            read[(row["run"], row["vertex"])] += 1
            salad[(row["run"], row["vertex"])] += label[row["id"]] == "salad"
    rows, counts = [], Counter()
    folders = sorted((HERE / FIXED_PAIRS).glob("*_s0")) if arm == FIXED_PAIRS else run_folders(arm)
    for folder in folders:
        metrics = json.loads((folder / "metrics.json").read_text())
        run = f"{arm}/{folder.name}"
        probed = probed_strengths(folder)
        for index, name in enumerate(metrics["objectives"]):
            effect = metrics["steering_effect"][name]
            gap = metrics["base_nll_at_vertex"][name] - metrics["base_nll_unguided"]
            degenerate = metrics["degenerate_share_at_vertex"][name]
            verdict = metrics["steering_verdict"][name]
            reading = f"{salad[(run, name)]} of {read[(run, name)]}" if read[(run, name)] else "not read"
            rows.append(
                f"| {arm} | {folder.name} | {name} | {', '.join(f'{level:g}' for level in probed)} | "
                f"x{metrics['objective_strengths'][index]:g}; {metrics['spearman_score_vs_weight'][name]:.2f}; "
                f"{effect['effect']:+.3f} +/- {effect['standard_error']:.3f}; {verdict} | {gap:+.2f} | "
                f"{degenerate:.2f} | {reading} |"
            )
            counts["objective-runs"] += 1
            counts["steer"] += verdict == "steers"
            counts["a quarter or more degenerate"] += degenerate >= DEGENERATE_LINE
            counts["at or above the 2.25-nat line"] += is_off_language(gap)
            if read[(run, name)]:
                kind = "salad" if salad[(run, name)] >= 2 else "borderline" if salad[(run, name)] == 1 else "fluent"
                counts[f"read {kind}"] += 1
    unguided = sum(count for (run, vertex), count in salad.items() if vertex == "unguided")
    summary = (
        f"- {ARMS[arm]}: {counts['steer']} of {counts['objective-runs']} objective-runs steer; vertices a quarter or "
        f"more degenerate {counts['a quarter or more degenerate']}, at or above the 2.25-nat line "
        f"{counts['at or above the 2.25-nat line']}; read salad {counts['read salad']}, borderline "
        f"{counts['read borderline']}, fluent {counts['read fluent']}; unguided answers read salad {unguided}; read "
        f"twice {agree} of {twice} agree"
    )
    return rows, [summary]


TRIALS = {  # the report's half-strength trial (resweep.sh): the vertex's objective, the run swept, the trial's folder
    "lp_none_s0_half": ("positivity", HERE / FIXED_PAIRS / "list_format__positivity_s0"),
    "cs_none_s3_half": ("short_sentences", HERE / "without" / "commas__short_sentences_s3"),
    "hl_with_s3_half": ("list_format", SECTION_82_SEED_3 / "health__list_format_s3"),
    "ls_none_s0_half": ("list_format", HERE / FIXED_PAIRS / "list_format__second_person_s0"),
}


def trial_lines() -> list[str]:
    """The third and fourth rules: each vertex left a quarter or more degenerate, as swept and at the report's trial
    (half its strength, the others as swept): every objective's strength, verdict and effect, and the vertex's
    empty-or-repetitive share."""
    lines = [
        "The report's half-strength trial (same adapter):",
        "",
        "| run | vertex | as swept: strengths; verdicts (effect); its empty or repetitive share | the trial |",
        "|---|---|---|---|",
    ]
    for trial, (objective, swept) in TRIALS.items():
        folder = HERE / "resweeps" / trial
        if not (folder / "metrics.json").exists():
            continue
        cells = []
        for run in (swept, folder):
            metrics = json.loads((run / "metrics.json").read_text())
            verdicts = ", ".join(
                f"{name} x{strength:g} {metrics['steering_verdict'][name]} "
                f"({metrics['steering_effect'][name]['effect']:+.3f})"
                for name, strength in zip(metrics["objectives"], metrics["objective_strengths"], strict=True)
            )
            cells.append(f"{verdicts}; {metrics['degenerate_share_at_vertex'][objective]:.2f}")
        lines.append(f"| {swept.name} | {objective} | {cells[0]} | {cells[1]} |")
    return lines


def main() -> None:
    rows, summary = [], []
    for arm in ARMS:
        if (HERE / arm).exists():
            arm_rows, arm_summary = arm_lines(arm)
            rows += arm_rows
            summary += arm_summary
    header = [
        "| arm | run | objective | strengths probed | chosen; Spearman; effect +/- se; verdict | base NLL gap | "
        "empty or repetitive | salad |",
        "|---|---|---|---|---|---|---|---|",
    ]
    (HERE / "tally.md").write_text("\n".join([*summary, "", *header, *rows, "", *trial_lines()]) + "\n")
    print((HERE / "tally.md").read_text())


if __name__ == "__main__":
    main()
