"""Compare finished runs (PARM and baselines) on one normalisation: a Markdown table and Pareto plots.

    python scripts/compare_runs.py runs/default runs/genarm runs/soups --output_dir research/runs/<name>

Each run's own report normalises over its own sweep, so its HV and MIP cannot be set beside another run's. Here
every run's points and the unguided base are min-max normalised together, HV uses the reference point -0.1 in every
objective, and the table adds each run's Spearman correlations (with the share of prompt resamples reaching 0.9,
where the run measured it), steering effects, how many of its Pareto points no linear weighting of the scores picks
(a non-convex part of its front), trainable parameters, stage times,
decoding speed and peak memory (from its metrics.json and timings.json). The runs must share objectives and prompts.
Runs of the same method (several seeds) are also summarised: mean and sample standard deviation of HV, MIP, the
Spearman correlations and the steering effects, and the range of each cost; `--group_by recipe` groups by run name
without its `_s<seed>` suffix instead (several PARM recipes side by side). `pareto_methods.png` draws one front per
group (each preference's scores averaged over its runs), `pareto_runs.png` every run's own.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from peft_pblora.evaluation import (
    front_alphas_no_linear_weighting_picks,
    hypervolume,
    mean_inner_product,
    non_dominated,
    normalise,
    pareto_plot,
)
from peft_pblora.pipeline.settings import METHOD_LABELS


def load(run_dir: Path) -> dict:
    sweep = json.loads((run_dir / "sweep.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    timings = json.loads((run_dir / "timings.json").read_text())
    return {"name": run_dir.name, "sweep": sweep, "metrics": metrics, "timings": timings}


def sweep_scores(run: dict) -> np.ndarray:
    """(preferences, objectives): a run's mean score per swept preference, in its objectives' order."""
    objectives = run["sweep"]["objectives"]
    return np.asarray([[point["scores"][name] for name in objectives] for point in run["sweep"]["points"]])


def training_seconds(timings: dict) -> float | None:
    """A run's training time: its first training and, where `--epochs_if_not_learned` trained again, that too."""
    trainings = [timings[stage] for stage in ("train", "train again") if stage in timings]
    return sum(trainings) if trainings else None


def compare(runs: list[dict]) -> tuple[list[dict], dict]:
    """Rows of the comparison table and the shared normalisation."""
    objectives = runs[0]["sweep"]["objectives"]
    for run in runs[1:]:
        if run["sweep"]["objectives"] != objectives or run["sweep"]["prompts"] != runs[0]["sweep"]["prompts"]:
            raise ValueError(f"{run['name']} has other objectives or prompts than {runs[0]['name']}")

    base = np.asarray([[runs[0]["sweep"]["base"]["scores"][name] for name in objectives]])
    everything = np.vstack([base, *(sweep_scores(run) for run in runs)])
    low, high = everything.min(0), everything.max(0)
    reference = [-0.1] * len(objectives)
    rows = []
    for run in runs:
        alphas = np.asarray(run["sweep"]["alphas"], dtype=float)
        normalised = normalise(sweep_scores(run), low, high)
        metrics = run["metrics"]
        rows.append(
            {
                "run": run["name"],
                "method": METHOD_LABELS[run["sweep"].get("method", "parm")],
                "hypervolume": hypervolume(normalised, reference),
                "mip": mean_inner_product(alphas, normalised),
                "pareto_points": int(non_dominated(normalised).sum()),
                "pareto_points_no_linear_weighting_picks": len(
                    front_alphas_no_linear_weighting_picks(alphas, normalised)
                ),
                "spearman": metrics["spearman_score_vs_weight"],
                "spearman_share_at_least_threshold": {
                    name: value["share_at_least_threshold"]
                    for name, value in metrics.get("spearman_over_resampled_prompts", {}).items()
                },
                "effects": {name: value["effect"] for name, value in metrics["steering_effect"].items()},
                "effect_errors": {name: value["standard_error"] for name, value in metrics["steering_effect"].items()},
                "trainable_parameters": metrics.get("trainable_parameters"),
                "train_seconds": training_seconds(run["timings"]),
                "tokens_per_second": metrics.get("decoding_tokens_per_second"),
                "peak_memory_gib": metrics.get("peak_resident_memory_gib"),
            }
        )
    base_normalised = normalise(base, low, high)
    alphas = np.asarray(runs[0]["sweep"]["alphas"], dtype=float)
    shared = {
        "objectives": objectives,
        "low": low.tolist(),
        "high": high.tolist(),
        "reference_point": reference,
        "hypervolume_base": hypervolume(base_normalised, reference),
        "mip_base": mean_inner_product(alphas, np.repeat(base_normalised, len(alphas), axis=0)),
    }
    return rows, shared


def recipe_of(run_name: str) -> str:
    """A run's name without its seed suffix: 'importance_s2' -> 'importance'."""
    return re.sub(r"_s\d+$", "", run_name)


def group_key(group_by: str):
    """What groups a table row: its method's label, or its run name without the seed suffix."""
    return (lambda row: row["method"]) if group_by == "method" else (lambda row: recipe_of(row["run"]))


def method_summaries(rows: list[dict], objectives: list[str], group_by: str = "method") -> list[dict]:
    """Per method (or recipe) with two or more runs: n, and the mean and sample standard deviation of each headline
    number, the share of prompt resamples whose Spearman reaches 0.9 included where measured."""
    key_of = group_key(group_by)
    summaries = []
    for group_name in dict.fromkeys(key_of(row) for row in rows):
        group = [row for row in rows if key_of(row) == group_name]
        if len(group) < 2:
            continue
        values = {"HV": [row["hypervolume"] for row in group], "MIP": [row["mip"] for row in group]}
        for name in objectives:
            values[f"Spearman {name}"] = [row["spearman"][name] for row in group]
            shares = [row["spearman_share_at_least_threshold"].get(name) for row in group]
            if None not in shares:
                values[f"share >= 0.9 {name}"] = shares
            values[f"effect {name}"] = [row["effects"][name] for row in group]
        summary = {"method": group_name, "runs": len(group)}
        for key, numbers in values.items():
            summary[key] = {"mean": float(np.mean(numbers)), "std": float(np.std(numbers, ddof=1))}
        for key, row_key in COST_COLUMNS.items():
            numbers = [row[row_key] for row in group if row.get(row_key) is not None]
            if numbers:
                summary[key] = {"min": float(min(numbers)), "max": float(max(numbers))}
        summaries.append(summary)
    return summaries


COST_COLUMNS = {
    "trainable parameters": "trainable_parameters",
    "train (s)": "train_seconds",
    "decoding (new tokens/s)": "tokens_per_second",
    "peak memory (GiB)": "peak_memory_gib",
}
COST_DIGITS = {"trainable parameters": 0, "train (s)": 0, "decoding (new tokens/s)": 1, "peak memory (GiB)": 2}


def summary_cell(key: str, value: dict | None) -> str:
    """A score as 'mean +/- sd'; a cost (parameters, time, speed, memory) as its range over the runs."""
    if value is None:
        return "n/a"
    if "mean" in value:
        return f"{value['mean']:+.3f} +/- {value['std']:.3f}"
    low, high = (f"{value[end]:,.{COST_DIGITS[key]}f}" for end in ("min", "max"))
    return low if low == high else f"{low} to {high}"


def summaries_markdown(summaries: list[dict]) -> str:
    if not summaries:
        return ""
    keys = list(dict.fromkeys(key for summary in summaries for key in summary if key not in ("method", "runs")))
    lines = ["| method | runs | " + " | ".join(keys) + " |", "|---" * (2 + len(keys)) + "|"]
    for summary in summaries:
        cells = [summary_cell(key, summary.get(key)) for key in keys]
        lines.append(f"| {summary['method']} | {summary['runs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def group_mean_fronts(rows: list[dict], runs: list[dict], group_by: str = "method") -> dict[str, tuple]:
    """One front per method (or recipe): each preference's scores averaged over the group's runs (seeds).

    The runs of a group must sweep the same preferences; a group of one run is its own sweep.
    """
    key_of = group_key(group_by)
    fronts = {}
    for group_name in dict.fromkeys(key_of(row) for row in rows):
        group = [run for row, run in zip(rows, runs, strict=True) if key_of(row) == group_name]
        alphas = group[0]["sweep"]["alphas"]
        for run in group[1:]:
            if run["sweep"]["alphas"] != alphas:
                raise ValueError(f"{run['name']} sweeps other preferences than {group[0]['name']}")
        scores = np.mean([sweep_scores(run) for run in group], axis=0)
        label = group_name if len(group) == 1 else f"{group_name} (mean of {len(group)} runs)"
        fronts[label] = (alphas, scores.tolist())
    return fronts


def spearman_cell(row: dict, name: str) -> str:
    """'1.00 (41%)': the Spearman correlation and, where measured, the share of prompt resamples reaching 0.9."""
    value, share = row["spearman"].get(name), row.get("spearman_share_at_least_threshold", {}).get(name)
    text = "n/a" if value is None else f"{value:.2f}"
    return text if share is None else f"{text} ({share:.0%})"


def markdown(rows: list[dict], shared: dict) -> str:
    objectives = shared["objectives"]

    def number(value, digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:,.{digits}f}"

    lines = [
        "| run | method | HV | MIP | "
        + " | ".join(f"Spearman {name}" for name in objectives)
        + " | "
        + " | ".join(f"effect {name}" for name in objectives)
        + " | Pareto points no linear weighting picks | trainable parameters | train (s) | decoding (new tokens/s) "
        "| peak memory (GiB) |",
        "|---" * (9 + 2 * len(objectives)) + "|",
    ]
    for row in rows:
        lines.append(
            f"| {row['run']} | {row['method']} | {number(row['hypervolume'])} | {number(row['mip'])} | "
            + " | ".join(spearman_cell(row, name) for name in objectives)
            + " | "
            + " | ".join(
                f"{row['effects'][name]:+.3f} +/- {row['effect_errors'][name]:.3f}"
                if name in row["effects"]
                else "n/a"
                for name in objectives
            )
            + f" | {row['pareto_points_no_linear_weighting_picks']} of {row['pareto_points']}"
            f" | {number(row['trainable_parameters'], 0)} | {number(row['train_seconds'], 0)} | "
            f"{number(row['tokens_per_second'], 1)} | {number(row['peak_memory_gib'], 2)} |"
        )
    lines.append(
        f"| base, unguided | | {shared['hypervolume_base']:.3f} | {shared['mip_base']:.3f} |"
        + " |" * (5 + 2 * len(objectives))
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--group_by", choices=["method", "recipe"], default="method", help="what the summary groups")
    args = parser.parse_args()
    runs = [load(run_dir) for run_dir in args.runs]
    rows, shared = compare(runs)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    summaries = method_summaries(rows, shared["objectives"], args.group_by)
    table = markdown(rows, shared)
    if summaries:
        table += f"\n\nMean +/- standard deviation over the runs of each {args.group_by}:\n\n" + summaries_markdown(
            summaries
        )
    (args.output_dir / "comparison.md").write_text(table + "\n")
    comparison = {"rows": rows, "shared": shared, "method_summaries": summaries}
    (args.output_dir / "comparison.json").write_text(json.dumps(comparison, indent=2))
    objectives = shared["objectives"]
    run_fronts = {
        f"{row['method']} ({row['run']})": (run["sweep"]["alphas"], sweep_scores(run))
        for row, run in zip(rows, runs, strict=True)
    }
    base_point = [runs[0]["sweep"]["base"]["scores"][name] for name in objectives]
    pareto_plot(run_fronts, args.output_dir / "pareto_runs.png", objectives, base_point=base_point)
    pareto_plot(
        group_mean_fronts(rows, runs, args.group_by),
        args.output_dir / "pareto_methods.png",
        objectives,
        base_point=base_point,
        title=f"Mean score per preference over each {args.group_by}'s runs",
    )
    print(table)


if __name__ == "__main__":
    main()
