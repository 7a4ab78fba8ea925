"""Which strengths the probe's search chooses, on each recorded run's kept probe answers, with the word-salad line at
3 nats a token (before) and at 2.25 (this section's choice): the answers' base likelihood as score_answers.py
measured it (features.jsonl), the run's own unguided probe answers as the reference, `choose_strengths` of the
library as it stands, and the record's own held-out accuracy, margins and pair coverage. A run whose search would
probe a strength it never probed is marked `needs_new_probe`. Writes rechosen.jsonl and rechosen.md.

    python rechoose_strengths.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from runs import run_folders, run_name

from peft_pblora.evaluation import base_likelihood, steering_diagnosis
from peft_pblora.pipeline.diagnosis import diagnosis_record
from peft_pblora.pipeline.strength_search import choose_strengths

LINES = (3.0, 2.25)


def mean(values) -> float | None:
    kept = [value for value in values if value is not None]
    return sum(kept) / len(kept) if kept else None


def choose(record: dict, points_at: dict, unguided: dict, line: float) -> dict:
    steering_diagnosis.is_off_language = lambda excess, gap=line: excess >= gap
    objectives = [item["objective"] for item in record["objectives"]]
    prompts = record["probe"]["prompts"]

    def record_of(points):
        return diagnosis_record(
            objectives, prompts, points, (record["pair_accuracy"], record["held_out_pairs"]),
            record.get("training_margins"), record.get("prompts_with_pairs"), record.get("pair_prompts"), unguided,
        )  # fmt: skip

    return choose_strengths(objectives, points_at, record_of)


def main() -> None:
    features = [json.loads(line) for line in Path("features.jsonl").read_text().splitlines()]
    probe = {}
    for row in features:
        if row["source"] == "probe":
            probe[(row["run"], row["vertex"], row.get("strength"))] = row
    out, table = (
        [],
        [
            "| run | chosen at 3 nats | chosen at 2.25 | probe vertex gaps at the strengths probed |",
            "|---|---|---|---|",
        ],
    )
    for section, folder in run_folders():
        run = run_name(section, folder)
        record = json.loads((folder / "diagnosis.json").read_text())
        objectives = [item["objective"] for item in record["objectives"]]
        reference = mean(probe[(run, "unguided", None)]["nll"])
        unguided = {"texts": record["probe"]["unguided"]["texts"], "base_nll": reference}
        points_at, gaps = {}, {}
        for entry in record["probe_at_strength"]:
            level = float(entry["strength"])
            points = []
            for point in entry["vertices"]:
                name = objectives[point["alpha"].index(1.0)]
                values = [math.nan if v is None else v for v in probe[(run, name, entry["strength"])]["nll"]]
                quality = {**point["quality"], "base_nll": mean(probe[(run, name, entry["strength"])]["nll"])}
                quality["off_language"] = base_likelihood.off_language_share(values, reference)
                points.append({**point, "quality": quality})
                gaps.setdefault(name, {})[level] = (
                    None if quality["base_nll"] is None else quality["base_nll"] - reference
                )
            points_at[level] = points
        chosen = {line: choose(record, points_at, unguided, line) for line in LINES}
        strengths = {line: chosen[line]["objective_strengths"] for line in LINES}
        row = {
            "run": run,
            "recorded": record.get("objective_strengths"),
            **{f"chosen_at_{line:g}": strengths[line] for line in LINES},
            "probe_gaps": gaps,
            "probed": sorted(points_at),
        }
        out.append(row)
        if strengths[3.0] != strengths[2.25]:
            gap_text = "; ".join(
                f"{name} "
                + ", ".join(
                    f"x{k:g} " + ("wordless" if v is None else f"{v:.2f}") for k, v in sorted(g.items(), reverse=True)
                )
                for name, g in gaps.items()
            )
            table.append(f"| {run} | {strengths[3.0]} | {strengths[2.25]} | {gap_text} |")
    Path("rechosen.jsonl").write_text("\n".join(json.dumps(row) for row in out) + "\n")
    changed = len(table) - 2
    Path("rechosen.md").write_text(
        f"{changed} of {len(out)} runs choose other strengths at 2.25 than at 3 nats.\n\n" + "\n".join(table) + "\n"
    )
    print(Path("rechosen.md").read_text())


if __name__ == "__main__":
    main()
