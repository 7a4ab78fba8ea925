"""The second blind reading tallied: per weakened objective, how many of 8 answers the readers called salad at its
vertex in the recorded sweep (3-nat strengths) and in the sweep again (2.25-nat strengths), over both rounds of
reading. Writes reading_again.md.

    python reading_again.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


def main() -> None:
    labels = {}
    for path in sorted(Path(".").glob("reading_again*/labels_*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            labels[row["id"]] = row["label"]
    salad: Counter = Counter()
    read: Counter = Counter()
    keys = [line for path in sorted(Path(".").glob("key_again*.jsonl")) for line in path.read_text().splitlines()]
    for line in keys:
        row = json.loads(line)
        key = (row["run"], row["vertex"], row["when"])
        read[key] += 1
        salad[key] += labels[row["id"]] == "salad"
    vertices = sorted({(run, vertex) for run, vertex, _ in read})
    lines = ["| run | objective | salad of 8 at 3 nats | salad of 8 at 2.25 |", "|---|---|---|---|"]
    totals = Counter()
    for run, vertex in vertices:
        before, after = salad[(run, vertex, "before")], salad[(run, vertex, "after")]
        lines.append(f"| {run} | {vertex} | {before} | {after} |")
        totals["before"] += before
        totals["after"] += after
        totals["salad vertices before"] += before >= 2
        totals["salad vertices after"] += after >= 2
    summary = (
        f"{len(vertices)} vertices: salad answers {totals['before']} -> {totals['after']} of {8 * len(vertices)}; "
        f"salad vertices (2 or more of 8) {totals['salad vertices before']} -> {totals['salad vertices after']}."
    )
    Path("reading_again.md").write_text("\n".join([summary, "", *lines]) + "\n")
    print(Path("reading_again.md").read_text())


if __name__ == "__main__":
    main()
