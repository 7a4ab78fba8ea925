"""How far the stronger strength for an inconclusive objective reaches over the stored benchmark runs, without
decoding: each diagnosis.json that kept every strength's probe answers is chosen again with and without the rule.

A run whose probe tried the stronger strength (an objective it could not judge) can be chosen again from its answers;
one that did not, but has an objective inconclusive at full strength, would now probe the stronger strength too, with
an outcome only a new run shows.

    python research/runs/inconclusive-stronger-search/reach.py
"""

import json
from collections import Counter
from pathlib import Path
from unittest import mock

from peft_pblora.pipeline import strength_search
from peft_pblora.pipeline.diagnosis import diagnosis_record
from peft_pblora.pipeline.strength_search import choose_strengths, objectives_allowed_stronger

RUNS = Path(__file__).parent.parent
SETS = ["retrain-not-learned/new-pairs*", "late-objectives/seed-*"]


def record_of_for(record: dict):
    objectives = [item["objective"] for item in record["objectives"]]
    held_out = (record["pair_accuracy"], record["held_out_pairs"])
    return objectives, lambda points: diagnosis_record(
        objectives, record["probe"]["prompts"], points, held_out, record["training_margins"],
        record.get("prompts_with_pairs"), record.get("pair_prompts"),
    )  # fmt: skip


def main() -> None:
    counts: Counter = Counter()
    for pattern in SETS:
        for path in sorted(RUNS.glob(f"{pattern}/*/diagnosis.json")):
            record = json.loads(path.read_text())
            if "probe_at_strength" not in record:
                continue
            objectives, record_of = record_of_for(record)
            points_at = {probed["strength"]: probed["vertices"] for probed in record["probe_at_strength"]}
            at_full = record_of(points_at[1.0])
            inconclusive = [
                name
                for name in objectives_allowed_stronger(at_full)
                if name not in strength_search.unjudged_objectives(at_full)
            ]
            run = f"{path.parent.parent.name}/{path.parent.name}"
            if not inconclusive:
                counts["no inconclusive objective at full strength"] += 1
                continue
            if not any(level > 1.0 for level in points_at):
                counts["inconclusive, stronger not probed: a new run needed"] += 1
                print(f"{run}: {inconclusive} inconclusive; the stronger strength was not probed")
                continue
            new = choose_strengths(objectives, points_at, record_of)["objective_strengths"]
            only_unjudged = strength_search.unjudged_objectives
            with mock.patch.object(strength_search, "objectives_allowed_stronger", only_unjudged):
                old = choose_strengths(objectives, points_at, record_of)["objective_strengths"]
            changed = "changed" if new != old else "unchanged"
            counts[f"inconclusive, stronger probed: choice {changed}"] += 1
            print(f"{run}: {inconclusive} inconclusive; {old} -> {new}")
    for what, count in counts.items():
        print(f"{count:3d}  {what}")


if __name__ == "__main__":
    main()
