"""Section 82 tallied: per seed-2 run and objective, the strength the probe chose, Spearman, effect, verdict, the base
NLL gap at its vertex and how many of its 8 answers the blind readers called salad (a vertex is salad at 2 or more,
borderline at 1); the readers' agreement on the answers both read, and the counts the rule (chosen.txt) reads; then
the second reading, of the report's half-strength trial. Writes tally.md.

    python tally.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from draw_answers_to_read import RECORDS, UNREAD_IN_SECTION_81
from draw_resweep_answers import HALVED, HERE
from sample_for_reading import read_labels

from peft_pblora.evaluation.base_likelihood import is_off_language

ARMS = {"with": "with the word-choice pairs", "without": "without them"}


def main() -> None:
    label, agree, twice = read_labels(sorted(Path(".").glob("reading_with*/labels_*.jsonl")))
    salad: Counter = Counter()
    for line in [line for path in sorted(Path(".").glob("key_with*.jsonl")) for line in path.read_text().splitlines()]:
        row = json.loads(line)
        salad[(row["run"], row["vertex"])] += label[row["id"]] == "salad"
    out = [
        "| arm | run | objective | strength; Spearman; effect +/- se; verdict; base NLL gap | salad of 8 |",
        "|---|---|---|---|---|",
    ]
    steer: Counter = Counter()
    total: Counter = Counter()
    vertices: Counter = Counter()
    for arm in ARMS:
        seed_1 = [RECORDS / arm / name / "metrics.json" for name in UNREAD_IN_SECTION_81]
        for path in sorted((RECORDS / arm).glob("*_s2/metrics.json")) + seed_1:
            metrics = json.loads(path.read_text())
            run = f"{arm}/{path.parent.name}"
            group = (arm, "seed 2" if path.parent.name.endswith("_s2") else "section 80's seed 1")
            for index, name in enumerate(metrics["objectives"]):
                effect = metrics["steering_effect"][name]
                gap = metrics["base_nll_at_vertex"][name] - metrics["base_nll_unguided"]
                read = salad[(run, name)]
                verdict = metrics["steering_verdict"][name]
                out.append(
                    f"| {arm} | {path.parent.name} | {name} | x{metrics['objective_strengths'][index]:g}; "
                    f"{metrics['spearman_score_vs_weight'][name]:.2f}; {effect['effect']:+.3f} +/- "
                    f"{effect['standard_error']:.3f}; {verdict}; {gap:+.2f} | {read} |"
                )
                total[group] += 1
                steer[group] += verdict == "steers"
                kind = "salad" if read >= 2 else "borderline" if read == 1 else "fluent"
                vertices[(group, kind)] += 1
                vertices[(group, f"{kind} flagged")] += is_off_language(gap)
    unguided = sum(count for (_, vertex), count in salad.items() if vertex == "unguided")
    summary = [f"Read twice: {agree} of {twice} agree. Unguided answers read salad: {unguided}.", ""]
    for group in total:
        summary.append(
            f"- {ARMS[group[0]]}, {group[1]}: {steer[group]} of {total[group]} objective-runs steer; vertices salad "
            f"{vertices[(group, 'salad')]} ({vertices[(group, 'salad flagged')]} at or above the 2.25-nat line), "
            f"borderline {vertices[(group, 'borderline')]}, fluent {vertices[(group, 'fluent')]} "
            f"({vertices[(group, 'fluent flagged')]} at or above the line)"
        )
    summary.append("")
    lines = summary + out + ["", *trial_lines(), "", *wordless_trial_lines()]
    Path("tally.md").write_text("\n".join(lines) + "\n")
    print(Path("tally.md").read_text())


def trial_lines() -> list[str]:
    """The second reading: at each vertex left above the line at the weakest strength, how many of the same 8 prompts'
    answers read as salad at that strength and at half of it, beside each sweep's verdict and gap there."""
    label = {}
    for line in Path("reading_again/labels_0.jsonl").read_text().splitlines():
        row = json.loads(line)
        label[row["id"]] = row["label"]
    salad: Counter = Counter()
    for line in Path("key_again.jsonl").read_text().splitlines():
        row = json.loads(line)
        salad[(row["run"], row["vertex"], row["strength"])] += label[row["id"]] == "salad"
    lines = [
        "The report's trial at half the weakest strength (same adapter; the same 8 prompts read at both strengths):",
        "",
        "| run | objective | strength; Spearman; effect +/- se; verdict; base NLL gap | salad of 8 |",
        "|---|---|---|---|---|",
    ]
    for run, _, objective, recorded, reswept in HALVED:
        for folder in (recorded, reswept):
            metrics = json.loads((folder / "metrics.json").read_text())
            strength = metrics["objective_strengths"][metrics["objectives"].index(objective)]
            effect = metrics["steering_effect"][objective]
            gap = metrics["base_nll_at_vertex"][objective] - metrics["base_nll_unguided"]
            lines.append(
                f"| {run} | {objective} | x{strength:g}; {metrics['spearman_score_vs_weight'][objective]:.2f}; "
                f"{effect['effect']:+.3f} +/- {effect['standard_error']:.3f}; "
                f"{metrics['steering_verdict'][objective]}; {gap:+.2f} | {salad[(run, objective, strength)]} |"
            )
    return lines


WORDLESS_TRIALS = {  # list format's wordless vertex at x0.25, and the report's trial at half (resweep.sh)
    f"{arm}/health__list_format_s{seed}": f"hl_{'with' if arm == 'with' else 'none'}_s{seed}_half"
    for seed in (1, 2)
    for arm in ARMS
}


def wordless_trial_lines() -> list[str]:
    """The fifth rule: list format's vertex at x0.25 and at x0.125, health as swept, per run: each objective's verdict
    and list format's empty-or-repetitive share at its vertex."""
    lines = [
        "The report's trial on list format's wordless vertex (same adapter, health as swept):",
        "",
        "| run | list format at x0.25: Spearman; effect +/- se; verdict; empty or repetitive | at x0.125 | health at "
        "x0.25 / x0.125 |",
        "|---|---|---|---|",
    ]
    for run, trial in WORDLESS_TRIALS.items():
        cells, health = [], []
        for folder in (RECORDS / run, HERE / "resweeps" / trial):
            metrics = json.loads((folder / "metrics.json").read_text())
            effect = metrics["steering_effect"]["list_format"]
            cells.append(
                f"{metrics['spearman_score_vs_weight']['list_format']:.2f}; {effect['effect']:+.3f} +/- "
                f"{effect['standard_error']:.3f}; {metrics['steering_verdict']['list_format']}; "
                f"{metrics['degenerate_share_at_vertex']['list_format']:.2f}"
            )
            health.append(
                f"{metrics['steering_effect']['health']['effect']:+.3f} {metrics['steering_verdict']['health']}"
            )
        lines.append(f"| {run} | {cells[0]} | {cells[1]} | {' / '.join(health)} |")
    return lines


if __name__ == "__main__":
    main()
