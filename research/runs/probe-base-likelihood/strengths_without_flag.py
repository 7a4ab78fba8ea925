"""The strengths the probe's search would choose without the off-language flag, from a run folder's own probe
answers: the probe record read with no reference for the base's likelihood (so no vertex is off the language), the
weaker strengths included only where that reading flags an objective at full strength, the stronger ones where it
allows them, as `diagnosis_with_strength_search` decides. Prints them as --fixed_objective_strengths arguments.

    python strengths_without_flag.py RUN_FOLDER
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from peft_pblora.pipeline.diagnosis import NOT_STEERING_FLAGS, diagnosis_record, flagged_objectives
from peft_pblora.pipeline.strength_search import choose_strengths, objectives_allowed_stronger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    record = json.loads((args.folder / "diagnosis.json").read_text())
    settings = json.loads((args.folder / "settings.json").read_text())
    objectives = [item["objective"] for item in record["objectives"]]
    prompts = record["probe"]["prompts"]
    points_at = {float(entry["strength"]): entry["vertices"] for entry in record["probe_at_strength"]}

    def record_of(points: list[dict]) -> dict:
        return diagnosis_record(
            objectives, prompts, points, (record["pair_accuracy"], record["held_out_pairs"]),
            record.get("training_margins"), record.get("prompts_with_pairs"), record.get("pair_prompts"),
        )  # fmt: skip

    at_full = record_of(points_at[1.0])
    levels = [1.0]
    if flagged_objectives(at_full, NOT_STEERING_FLAGS):
        levels += settings["weaker_objective_strengths"]
    if objectives_allowed_stronger(at_full):
        levels += settings["stronger_objective_strengths"]
    missing = [level for level in levels if level not in points_at]
    if missing:
        raise SystemExit(f"{args.folder}: the search without the flag would probe {missing}, which this run did not")
    chosen = choose_strengths(objectives, {level: points_at[level] for level in levels}, record_of)
    print(" ".join(f"{name}={value:g}" for name, value in chosen["objective_strengths"].items()))


if __name__ == "__main__":
    main()
