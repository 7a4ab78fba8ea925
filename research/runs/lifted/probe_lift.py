"""Would the probe see an objective that the other objectives' guidance already raises (research log section 33)?

For every objective-run of the current tables (the fixed set, the held-out pairs, the four and the three new
objectives, as the library leaves them), decode the unguided base on the run's probe prompts, and set side by side
the probe's gain of the objective over the base where its weight is 0 (the other vertex), its probe t statistic and
the sweep's verdict; `table.md` and `lift.json` here.

    PYTHONPATH=src:research/runs/unseen-objectives:research/runs/rare-features \
        python research/runs/lifted/probe_lift.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from peft_pblora.data.chat import chat_texts, left_padding
from peft_pblora.evaluation.weight_curves import paired_difference
from peft_pblora.pipeline.model_loading import load_smollm2
from peft_pblora.pipeline.objectives import resolve_objectives
from peft_pblora.pipeline.settings import SCORERS
from peft_pblora.pipeline.strength_search import probe_t_statistic

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
SETS = {  # each set's folders, then the folders whose runs replace those of the same name
    "fixed set": (["empty-answer-check"], ["wordless-check/rediagnosed"]),
    "held-out pairs": (["held-out-pairs"], ["wordless-check/rediagnosed", "out-of-sight"]),
    "four new objectives": (
        ["unseen-objectives/min-train-steps"],
        ["unseen-objectives/probe-cannot-tell", "unseen-objectives/stronger-strength", "out-of-sight"],
    ),
    "three newer objectives": (
        ["rare-features/seed-0", "rare-features/seed-1", "rare-features/seed-2", "rare-features/new-pairs"],
        ["out-of-sight"],
    ),
}


def run_folders(bases: list[str], replacing: list[str]) -> list[Path]:
    runs = {(base, folder.name): folder for base in bases for folder in sorted((RUNS / base).glob("*_s?"))}
    for folder in (folder for source in replacing for folder in sorted((RUNS / source).glob("*_s?"))):
        runs.update({key: folder for key in runs if key[1] == folder.name})
    return list(runs.values())


def base_answers(model, tokenizer, prompts: list[str], tokens: int, cache: dict) -> list[str]:
    """The unguided base's greedy answers, as the sweep decodes its base row."""
    todo = [prompt for prompt in prompts if (prompt, tokens) not in cache]
    with left_padding(tokenizer):
        for start in range(0, len(todo), 16):
            batch = todo[start : start + 16]
            texts = chat_texts(tokenizer, batch)
            encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.no_grad():
                generated = model.generate(
                    **encoded, do_sample=False, max_new_tokens=tokens, pad_token_id=tokenizer.pad_token_id
                )
            for prompt, new in zip(batch, generated[:, encoded["input_ids"].shape[1] :], strict=True):
                cache[(prompt, tokens)] = tokenizer.decode(new, skip_special_tokens=True).strip()
    return [cache[(prompt, tokens)] for prompt in prompts]


def t_of(difference: dict) -> float:
    return probe_t_statistic({"effect": difference["effect"], "standard_error": difference["standard_error"]})


def main() -> None:
    model, tokenizer = load_smollm2()
    model.eval()
    cache: dict = {}
    rows = []
    for set_name, (bases, replacing) in SETS.items():
        for folder in run_folders(bases, replacing):
            settings = json.loads((folder / "settings.json").read_text())
            diagnosis = json.loads((folder / "diagnosis.json").read_text())
            metrics = json.loads((folder / "metrics.json").read_text())
            scorers = resolve_objectives(settings["objectives"], SCORERS, "cpu")
            prompts = diagnosis["probe"]["prompts"]
            texts = base_answers(model, tokenizer, prompts, settings["sweep_tokens"], cache)
            base = {scorer.name: [float(value) for value in scorer(prompts, texts)] for scorer in scorers}
            objectives, vertices = metrics["objectives"], diagnosis["probe"]["vertices"]
            for index, name in enumerate(objectives):
                others = [vertices[j]["per_prompt"][name] for j in range(len(objectives)) if j != index]
                lift = paired_difference(np.mean(others, axis=0), base[name])
                effect = metrics["steering_effect"][name]
                rows.append({
                    "set": set_name, "run": str(folder.relative_to(RUNS)), "objective": name,
                    "verdict": metrics["steering_verdict"][name],
                    "probe_t": probe_t_statistic(diagnosis["probe"]["effects"][name]),
                    "probe_gain_at_weight_zero": lift, "probe_gain_at_weight_zero_t": t_of(lift),
                    "sweep_gain_at_weight_zero": effect["gain_over_base"]["effect"] - effect["effect"],
                })  # fmt: skip
    (HERE / "lift.json").write_text(json.dumps(rows, indent=1))
    lines = [
        "| run | objective | sweep verdict | probe t | probe gain over base at weight 0 (t) | sweep's, mean |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda row: (row["verdict"] == "steers", row["set"], row["run"])):
        lift, sweep_lift = row["probe_gain_at_weight_zero"], row["sweep_gain_at_weight_zero"]
        lines.append(
            f"| {row['run']} | {row['objective']} | {row['verdict']} | {row['probe_t']:.2f} | "
            f"{lift['effect']:+.3f} ({row['probe_gain_at_weight_zero_t']:.1f}) | {sweep_lift:+.3f} |"
        )
    quiet = [row for row in rows if not row["probe_t"] > 2]
    lifted = [row for row in quiet if row["probe_gain_at_weight_zero_t"] > 2]
    failing = [row for row in rows if row["verdict"] != "steers"]
    lines += [
        "",
        f"{len(rows)} objective-runs, {sum(row['verdict'] == 'steers' for row in rows)} steer. Of the {len(quiet)} "
        f"the probe does not pass (t <= 2), {sum(row['verdict'] == 'steers' for row in quiet)} steer; of the "
        f"{len(lifted)} of them lifted in the probe (gain at weight 0 > 2 se), "
        f"{sum(row['verdict'] == 'steers' for row in lifted)} steer. Of the {len(failing)} that fail, "
        f"{sum(row['sweep_gain_at_weight_zero'] > 0.05 for row in failing)} are raised by more than 0.05 where their "
        "weight is 0 in the sweep.",
    ]
    (HERE / "table.md").write_text("\n".join(lines) + "\n")
    print(lines[-1])


if __name__ == "__main__":
    main()
