"""Runs swept again on 96 test prompts (the last 96 of the seeded split) at fixed strengths: per objective-run,
whether it steers on the benchmark's own 48 test prompts (the last 48, which reproduce the original sweep), on the 48
the benchmark never swept (the first 48), and on all 96, each read by the library's own `summarise_sweep`; with the
counts.

    cd research/runs/verdicts-on-fresh-prompts
    python fresh_halves.py same-strengths/pairs-never-run > same-strengths/pairs-never-run.md

Each run folder here keeps its sweep (`sweep.json.gz`), metrics, diagnosis and timings, and its fixed strengths
(`recipe.json`).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from peft_pblora.evaluation.answer_quality import text_quality
from peft_pblora.evaluation.steering_verdicts import is_fragile_verdict
from peft_pblora.evaluation.sweep_metrics import summarise_sweep
from peft_pblora.evaluation.weight_curves import mean_scores


def read_sweep(path: Path) -> dict:
    """A recorded sweep, from `sweep.json` or `sweep.json.gz`."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as file:
        return json.load(file)


def restricted(entry: dict, rows: slice) -> dict:
    """A sweep point (or the base) on the prompts `rows` only: scores, standard errors and quality recomputed."""
    texts = entry["texts"][rows]
    return {
        **entry,
        **mean_scores({name: scores[rows] for name, scores in entry["per_prompt"].items()}),
        "texts": texts,
        "quality": text_quality(texts),
    }


def half_of(sweep: dict, rows: slice) -> dict:
    """The sweep on the prompts `rows` only."""
    return {
        **sweep,
        "prompts": sweep["prompts"][rows],
        "points": [restricted(point, rows) for point in sweep["points"]],
        "base": restricted(sweep["base"], rows),
    }


def cell(sweep: dict, metrics: dict, index: int) -> str:
    """Spearman, effect and verdict of one objective on one set of prompts, with its means from weight 0 to 1."""
    name = sweep["objectives"][index]
    effect = metrics["steering_effect"][name]
    means = [point["scores"][name] for point in sorted(sweep["points"], key=lambda point: point["alpha"][index])]
    return (
        f"{metrics['spearman_score_vs_weight'][name]:.2f}, {effect['effect']:+.3f} +/- "
        f"{effect['standard_error']:.3f}, {metrics['steering_verdict'][name]} "
        f"({', '.join(f'{mean:.3f}' for mean in means)})"
    )


def main(folder: str, names: list[str]) -> None:
    print("| run | objective | strength | benchmark's 48 | fresh 48 | all 96 |")
    print("|---|---|---|---|---|---|")
    counts = {"benchmark's 48": 0, "fresh 48": 0, "all 96": 0}
    flips = {"failed, steers on fresh": 0, "steered, fails on fresh": 0}
    flips_by_fragility = {"fragile": [0, 0], "not fragile": [0, 0]}
    total = 0
    for name in names:
        paths = sorted(Path(folder, name).glob("*/sweep.json*"))
        if not paths:
            continue
        sweep = read_sweep(paths[0])
        size = len(sweep["prompts"])
        halves = {
            "benchmark's 48": half_of(sweep, slice(size // 2, size)),
            "fresh 48": half_of(sweep, slice(0, size // 2)),
            "all 96": sweep,
        }
        parts = {label: summarise_sweep(part) for label, part in halves.items()}
        for index, objective in enumerate(sweep["objectives"]):
            total += 1
            verdicts = {label: metrics["steering_verdict"][objective] == "steers" for label, metrics in parts.items()}
            for label, verdict in verdicts.items():
                counts[label] += verdict
            own = parts["benchmark's 48"]
            share = own["spearman_over_resampled_prompts"].get(objective, {}).get("share_at_least_threshold")
            fragile = is_fragile_verdict(verdicts["benchmark's 48"], own["spearman_score_vs_weight"][objective], share)
            turned_over = verdicts["benchmark's 48"] != verdicts["fresh 48"]
            tally = flips_by_fragility["fragile" if fragile else "not fragile"]
            tally[0] += turned_over
            tally[1] += 1
            if turned_over:
                flips["steered, fails on fresh" if verdicts["benchmark's 48"] else "failed, steers on fresh"] += 1
            strength = (sweep.get("objective_strengths") or [1.0] * len(sweep["objectives"]))[index]
            row = " | ".join(cell(halves[label], metrics, index) for label, metrics in parts.items())
            print(f"| {paths[0].parent.name} | {objective} | {strength:g} | {row} |")
    print()
    print(f"Steer, of {total} objective-runs: " + "; ".join(f"{label} {count}" for label, count in counts.items()))
    print("Verdicts that differ between the two halves: " + "; ".join(f"{k} {v}" for k, v in flips.items()))
    print(
        "Of those, by the benchmark's own fragility call (its 48 prompts resampled): "
        + "; ".join(f"{label} {flipped} of {n}" for label, (flipped, n) in flips_by_fragility.items())
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or sorted(p.name for p in Path(sys.argv[1]).iterdir() if p.is_dir()))
