"""Do an objective's pairs carry the other objectives on the side, and does that predict the lift the sweep sees?

For every objective-run of `lift.json` (the 158 of research log section 33) and of the three newest objectives
(`runs/third-objectives`, 24), rebuild the run's preference pairs from
the shipped candidates with its settings (the pairs do not depend on the training seed), and for each objective A
score the other objectives' pairs with A's scorer: the mean of A(chosen) - A(rejected) over them (`side_gap`) and
the share of those pairs whose chosen answer scores higher on A minus the share scoring lower (`side_sign`), and the
largest share of A's own pairs' mean gap that another objective's pairs carry (`side_share`, the library's
`side_shares`, which reads score matching from the candidates). Set beside the sweep's gain of A over the base where
A's weight is 0; `side_gaps.json` and `side_gaps.md` here.

    PYTHONPATH=src:research/runs/unseen-objectives:research/runs/rare-features:research/runs/third-objectives \
        python research/runs/lifted/pair_side_gaps.py
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import fields
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from peft_pblora.pipeline.settings import RunSettings
from peft_pblora.pipeline.stages import Run

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
LIFT_THRESHOLD = 0.05


def pairs_of(settings: dict, scratch: Path) -> tuple[dict, dict, dict]:
    """The run's pairs per objective (as it made them), its scorers by name and the side shares of its free pairs."""
    known = {field.name for field in fields(RunSettings)}
    values = {name: value for name, value in settings.items() if name in known}
    values["output_dir"] = str(scratch)
    run = Run(RunSettings(**values))
    data = run._make_data()
    shares = json.loads((scratch / "preference_data" / "pairing.json").read_text())["side_shares"]
    return {name: data[name] for name in data}, {scorer.name: scorer for scorer in run.scorers}, shares


def side_statistics(objective: str, pairs: dict, scorers: dict) -> tuple[float, float, int]:
    """Over the other objectives' pairs: the mean gap on `objective`'s score, the sign share, the pair count."""
    gaps = []
    for other, rows in pairs.items():
        if other == objective:
            continue
        chosen = scorers[objective](list(rows["prompt"]), list(rows["chosen"]))
        rejected = scorers[objective](list(rows["prompt"]), list(rows["rejected"]))
        gaps.extend(np.asarray(chosen, float) - np.asarray(rejected, float))
    gaps = np.asarray(gaps)
    return float(gaps.mean()), float(np.mean(np.sign(gaps))), len(gaps)


def third_objective_entries() -> list[dict]:
    """The three newest objectives' runs in `lift.json`'s form (the sweep's gain at weight 0 from their metrics)."""
    entries = []
    for folder in sorted((RUNS / "third-objectives").glob("seed-?/*_s?")):
        metrics = json.loads((folder / "metrics.json").read_text())
        for name in metrics["objectives"]:
            lift = metrics["steering_effect"][name]["gain_over_base_at_weight_zero"]["effect"]
            entries.append({
                "set": "three newest objectives", "run": str(folder.relative_to(RUNS)), "objective": name,
                "verdict": metrics["steering_verdict"][name], "sweep_gain_at_weight_zero": lift,
            })  # fmt: skip
    return entries


def main() -> None:
    lift = json.loads((HERE / "lift.json").read_text()) + third_objective_entries()
    by_pair: dict = {}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for number, entry in enumerate(lift):
            settings = json.loads((RUNS / entry["run"] / "settings.json").read_text())
            pair_settings = {k: v for k, v in settings.items() if k not in ("output_dir", "train_seed")}
            key = json.dumps(pair_settings, sort_keys=True)
            if key not in by_pair:
                by_pair[key] = pairs_of(settings, Path(scratch) / str(number))
            pairs, scorers, shares = by_pair[key]
            gap, sign, count = side_statistics(entry["objective"], pairs, scorers)
            share = max(carried[entry["objective"]] for name, carried in shares.items() if name != entry["objective"])
            rows.append({**entry, "side_gap": gap, "side_sign": sign, "side_share": share, "side_pairs": count})
            print(
                entry["run"], entry["objective"], entry["verdict"], f"{gap:+.3f} {sign:+.2f} {share:+.2f}", flush=True
            )
    (HERE / "side_gaps.json").write_text(json.dumps(rows, indent=1))
    lifted = np.array([row["sweep_gain_at_weight_zero"] for row in rows])
    gaps = np.array([row["side_gap"] for row in rows])
    signs = np.array([row["side_sign"] for row in rows])
    shares = np.array([row["side_share"] for row in rows])
    lines = [
        "| run | objective | verdict | sweep gain at weight 0 | side gap | side sign | side share |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda row: -row["side_gap"]):
        lines.append(
            f"| {row['run']} | {row['objective']} | {row['verdict']} | {row['sweep_gain_at_weight_zero']:+.3f} "
            f"| {row['side_gap']:+.3f} | {row['side_sign']:+.2f} | {row['side_share']:+.2f} |"
        )
    lines.append("")
    lines.append(
        f"Spearman of the side gap with the sweep's gain at weight 0: {spearmanr(gaps, lifted)[0]:.2f}; "
        f"of the side sign: {spearmanr(signs, lifted)[0]:.2f}; of the side share: {spearmanr(shares, lifted)[0]:.2f} "
        f"({len(rows)} objective-runs, the pairs as the runs made them)."
    )
    (HERE / "side_gaps.md").write_text("\n".join(lines) + "\n")
    print(lines[-1])


if __name__ == "__main__":
    main()
