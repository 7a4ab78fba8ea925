"""Section 82 tallied: per seed-2 run and objective, the strength the probe chose, Spearman, effect, verdict, the base
NLL gap at its vertex and how many of its 8 answers the blind readers called salad (a vertex is salad at 2 or more,
borderline at 1); the readers' agreement on the answers both read, and the counts the rule (chosen.txt) reads. Writes
tally.md.

    python tally.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from draw_answers_to_read import RECORDS

ARMS = {"with": "with the word-choice pairs", "without": "without them"}


def labels() -> tuple[dict[str, str], int, int]:
    """Each answer's label (the first reader's where two read it), and the agreements and answers read twice."""
    first: dict[str, str] = {}
    agree = twice = 0
    for path in sorted(Path("reading").glob("labels_*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row["id"] in first:
                twice += 1
                agree += first[row["id"]] == row["label"]
            else:
                first[row["id"]] = row["label"]
    return first, agree, twice


def main() -> None:
    label, agree, twice = labels()
    salad: Counter = Counter()
    for line in Path("key.jsonl").read_text().splitlines():
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
        for path in sorted((RECORDS / arm).glob("*_s2/metrics.json")):
            metrics = json.loads(path.read_text())
            run = f"{arm}/{path.parent.name}"
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
                total[arm] += 1
                steer[arm] += verdict == "steers"
                vertices[(arm, "salad" if read >= 2 else "borderline" if read == 1 else "fluent")] += 1
    unguided = sum(count for (_, vertex), count in salad.items() if vertex == "unguided")
    summary = [
        f"Read twice: {agree} of {twice} agree. Unguided answers read salad: {unguided}.",
        *(
            f"- {label_}: {steer[arm]} of {total[arm]} objective-runs steer; vertices salad "
            f"{vertices[(arm, 'salad')]}, borderline {vertices[(arm, 'borderline')]}, "
            f"fluent {vertices[(arm, 'fluent')]}"
            for arm, label_ in ARMS.items()
        ),
        "",
    ]
    Path("tally.md").write_text("\n".join(summary + out) + "\n")
    print(Path("tally.md").read_text())


if __name__ == "__main__":
    main()
