"""How often an objective-run steers in the sweep, by whether its training pairs are on fewer than `FEW_PAIRS_SHARE`
of the prompts (`few_pairs`), over the recorded runs of the recipes that guide by the log-ratio at learning rate 3e-3
with 48 test prompts (those of research log sections 28 to 42). Each record's pairs are made again from the shipped
candidates with its own settings (no model is loaded); a measurement copied into several record folders counts once.
Run from the repository root, with the research objectives' folders on PYTHONPATH:

    PYTHONPATH=research/runs/fresh-objectives:research/runs/unseen-objectives:research/runs/third-objectives:\
research/runs/rare-features python research/runs/few-pairs/few_pairs_and_steering.py
"""

import json
import logging
import tempfile
from collections import defaultdict
from pathlib import Path

from peft_pblora.evaluation.steering_diagnosis import few_pair_objectives
from peft_pblora.pipeline import Run, RunSettings
from peft_pblora.pipeline.prompts import shipped_candidates_fit

PAIRING_KEYS = ("objectives", "train_prompts", "seed", "whole_samples_only", "score_matched", "length_matched",
                "pairs_per_prompt", "non_answer_pairs", "samples_per_prompt", "sampling_system_prompts",
                "system_prompted_objectives", "held_out_pair_share")  # fmt: skip


def current_recipe(settings: dict) -> bool:
    return bool(
        settings.get("guide_by_log_ratio") and settings.get("learning_rate") == 0.003
        and settings.get("test_prompts") == 48 and settings.get("weaker_objective_strengths")
    )  # fmt: skip


def pair_coverage(settings: dict, cache: dict) -> tuple[dict[str, int], int]:
    key = json.dumps({name: settings.get(name) for name in PAIRING_KEYS}, sort_keys=True)
    if key not in cache:
        with tempfile.TemporaryDirectory() as folder:
            run = Run(RunSettings(**{**settings, "output_dir": folder, "show_progress": False}))
            run.make_data()
            cache[key] = run._pair_coverage()
    return cache[key]


def main() -> None:
    logging.disable(logging.WARNING)
    cache, seen = {}, set()
    table = defaultdict(lambda: [0, 0])
    by_objective = defaultdict(lambda: [0, 0])
    for metrics_path in sorted(Path("research/runs").rglob("metrics.json")):
        settings_path = metrics_path.with_name("settings.json")
        if not settings_path.exists():
            continue
        settings = json.loads(settings_path.read_text())
        if (
            not current_recipe(settings)
            or settings.get("preference_pairs")
            or not shipped_candidates_fit(RunSettings(**settings))
        ):  # the few-pairs records' own candidates are not shipped: they are read off their reports
            continue
        metrics = json.loads(metrics_path.read_text())
        effects = metrics.get("steering_effect") or {}
        verdicts = metrics.get("steering_verdict") or {}
        counts, prompts = pair_coverage(settings, cache)
        flagged = few_pair_objectives(counts, prompts)
        for name, verdict in verdicts.items():
            key = (metrics_path.parent.name, name, round((effects.get(name) or {}).get("effect") or 0.0, 4))
            if key in seen:
                continue
            seen.add(key)
            row = table[name in flagged]
            row[0] += verdict == "steers"
            row[1] += 1
            entry = by_objective[(name, counts[name], name in flagged)]
            entry[0] += verdict == "steers"
            entry[1] += 1
    print("| flagged few_pairs | steer / objective-runs |")
    print("|---|---|")
    for flagged in (True, False):
        print(f"| {'yes' if flagged else 'no'} | {table[flagged][0]} / {table[flagged][1]} |")
    print()
    print("| objective | prompts with training pairs | flagged | steer / objective-runs |")
    print("|---|---|---|---|")
    for (name, count, flagged), (steer, runs) in sorted(by_objective.items(), key=lambda item: item[0][1]):
        if count < 30:
            print(f"| {name} | {count} | {'yes' if flagged else 'no'} | {steer} / {runs} |")


if __name__ == "__main__":
    main()
