"""Which strengths the probe's search chooses once it reads its answers' likelihood under the frozen base: each run
folder's kept probe answers (every strength it probed) measured as the diagnose stage now measures them (the base's
own greedy answers to the probe prompts as the reference, `off_language_at_vertex` at `OFF_LANGUAGE_NLL_GAP` nats a
token above it), then `choose_strengths` run again on them with the record's own held-out accuracy, margins and pair
coverage. A run whose search would now probe a strength it did not is marked `needs_new_probe`: only a rerun says
what it chooses. One JSON line per folder.

    python rechoose_strengths.py FOLDER [FOLDER ...] > rechosen.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import torch
from probe_nll import greedy_answers

from peft_pblora.evaluation import answer_nll, mean_nll
from peft_pblora.evaluation.base_likelihood import off_language_share
from peft_pblora.pipeline.diagnosis import NOT_STEERING_FLAGS, diagnosis_record, flagged_objectives
from peft_pblora.pipeline.model_loading import load_smollm2
from peft_pblora.pipeline.strength_search import choose_strengths


def record_maker(record: dict, objectives: list[str], prompts: list[str], unguided: dict) -> Callable:
    """`record_of(points)` as the run's diagnose stage builds it, from what `record` kept of the run."""

    def record_of(points: list[dict]) -> dict:
        return diagnosis_record(
            objectives, prompts, points, (record["pair_accuracy"], record["held_out_pairs"]),
            record.get("training_margins"), record.get("prompts_with_pairs"), record.get("pair_prompts"), unguided,
        )  # fmt: skip

    return record_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tokenizer = load_smollm2()
    model.eval()
    for folder in args.folders:
        record = json.loads((folder / "diagnosis.json").read_text())
        settings = json.loads((folder / "settings.json").read_text())
        objectives = [item["objective"] for item in record["objectives"]]
        prompts = record["probe"]["prompts"]
        texts = greedy_answers(model, tokenizer, prompts, settings["sweep_tokens"])
        unguided = {"texts": texts, "base_nll": mean_nll(answer_nll(model, tokenizer, prompts, texts))}
        probed = record.get("probe_at_strength") or [{"strength": 1.0, "vertices": record["probe"]["vertices"]}]
        points_at = {}
        for entry in probed:
            points = []
            for point in entry["vertices"]:
                values = answer_nll(model, tokenizer, prompts, point["texts"])
                quality = {**point["quality"], "base_nll": mean_nll(values)}
                quality["off_language"] = off_language_share(values, unguided["base_nll"])
                points.append({**point, "quality": quality})
            points_at[float(entry["strength"])] = points

        record_of = record_maker(record, objectives, prompts, unguided)
        at_full = record_of(points_at[1.0])
        newly_not_steering = flagged_objectives(at_full, NOT_STEERING_FLAGS)
        probed_weaker = any(level < 1.0 for level in points_at)
        rechosen = choose_strengths(objectives, points_at, record_of)
        print(
            json.dumps(
                {
                    "folder": str(folder),
                    "objectives": objectives,
                    "unguided_base_nll": unguided["base_nll"],
                    "vertex_base_nll": {
                        str(level): [point["quality"]["base_nll"] for point in points]
                        for level, points in points_at.items()
                    },
                    "chosen_before": record.get("objective_strengths"),
                    "chosen_now": rechosen["objective_strengths"],
                    "flags_now": {item["objective"]: item["flags"] for item in rechosen["objectives"]},
                    "needs_new_probe": bool(newly_not_steering) and not probed_weaker,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
