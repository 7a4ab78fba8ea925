"""Each candidate word-salad line against the blind readers' labels: per line, on the sweep's vertices of sections
72-79 (where a line is chosen) and of section 80 (held out), how many salad vertices it catches and how many
borderline and fluent ones it flags. Writes lines.md and vertices.md (each vertex: readers' count, every measure).

    python lines.py
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

GAP = 3.0
LINES = {
    **{f"mean gap >= {g:g}": ("mean_gap", g) for g in (3.0, 2.75, 2.5, 2.25, 2.0)},
    **{
        f"answers >= 3 nats above: share >= {s}": ("share_gap3", v)
        for s, v in (("1/8", 1 / 8), ("1/4", 1 / 4), ("1/3", 1 / 3))
    },
    **{f"tokens >= 10 nats: share above unguided by {t:g}": ("rare_excess", t) for t in (0.02, 0.05, 0.1)},
    **{
        f"words repeating the one before: share above unguided by {t:g}": ("repeated_excess", t)
        for t in (0.02, 0.05, 0.1)
    },
}


def mean(values) -> float:
    kept = [value for value in values if value is not None and not (isinstance(value, float) and math.isnan(value))]
    return sum(kept) / len(kept) if kept else math.nan


def measures(group: dict, unguided: dict) -> dict:
    reference = mean(unguided["nll"])
    return {
        "mean_gap": mean(group["nll"]) - reference,
        "share_gap3": sum(v is not None and v - reference >= GAP for v in group["nll"]) / len(group["nll"]),
        "rare_excess": mean(group["rare"]) - mean(unguided["rare"]),
        "repeated_excess": mean(group["repeated"]) - mean(unguided["repeated"]),
    }


def reader_counts() -> dict[tuple[str, str], list[int]]:
    labels = {}
    for path in sorted(Path("reading").glob("labels_*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            labels.setdefault(row["id"], row["label"])
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for line in Path("key.jsonl").read_text().splitlines():
        row = json.loads(line)
        counts[(row["run"], row["vertex"])][0] += labels[row["id"]] == "salad"
        counts[(row["run"], row["vertex"])][1] += 1
    return counts


def verdict(salad: int) -> str:
    return "salad" if salad >= 2 else "borderline" if salad == 1 else "fluent"


def main() -> None:
    rows = [json.loads(line) for line in Path("features.jsonl").read_text().splitlines()]
    sweep = {(row["run"], row["vertex"]): row for row in rows if row["source"] == "sweep"}
    counts = reader_counts()
    vertices = []
    for (run, vertex), group in sweep.items():
        if vertex == "unguided":
            continue
        salad, read = counts[(run, vertex)]
        vertices.append(
            {
                "run": run,
                "vertex": vertex,
                "salad_read": salad,
                "verdict": verdict(salad),
                "held_out": run.startswith("s80/"),
                **measures(group, sweep[(run, "unguided")]),
            }
        )
    unguided_salad = sum(counts[key][0] for key in counts if key[1] == "unguided")
    unguided_read = sum(counts[key][1] for key in counts if key[1] == "unguided")
    out = [
        f"Runs: {len({v['run'] for v in vertices})}; vertices: {len(vertices)}; unguided answers read salad: "
        f"{unguided_salad} of {unguided_read}.",
        "",
    ]
    for part, keep in (("sections 72-79 (choice)", False), ("section 80 (held out)", True), ("all", None)):
        chosen = [v for v in vertices if keep is None or v["held_out"] == keep]
        tally = defaultdict(int)
        for v in chosen:
            tally[v["verdict"]] += 1
        out += [
            f"## {part}: {tally['salad']} salad, {tally['borderline']} borderline, {tally['fluent']} fluent vertices",
            "",
            "| line | salad caught | borderline flagged | fluent flagged |",
            "|---|---|---|---|",
        ]
        for label, (key, threshold) in LINES.items():
            flagged = defaultdict(int)
            for v in chosen:
                flagged[v["verdict"]] += v[key] >= threshold
            out.append(
                f"| {label} | {flagged['salad']} of {tally['salad']} | {flagged['borderline']} | {flagged['fluent']} |"
            )
        out.append("")
    Path("lines.md").write_text("\n".join(out) + "\n")
    table = [
        "| run | vertex | read salad of 8 | mean gap | share >= 3 | rare excess | repeated excess |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in sorted(vertices, key=lambda v: -v["mean_gap"]):
        table.append(
            f"| {v['run']} | {v['vertex']} | {v['salad_read']} | {v['mean_gap']:.2f} | {v['share_gap3']:.2f} | "
            f"{v['rare_excess']:.3f} | {v['repeated_excess']:.3f} |"
        )
    Path("vertices.md").write_text("\n".join(table) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
