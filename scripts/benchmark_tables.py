"""The steering benchmark's tables: per run and objective its Spearman, steering effect, verdict, gain over the
unguided model and flags before the sweep, and how far the probe and the training margin agreed with the sweep.

`scripts/steering_benchmark.py` writes them after its runs, or alone with `--table_only`; research scripts read
finished run folders through `summary_from_run_folders` and `benchmark_table`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from peft_pblora.evaluation.metrics import STEERING_SPEARMAN_TARGET
from peft_pblora.evaluation.steering_flags import DEGENERATE_FLAGS, LEARNED_MARGIN, PROBE_FLAGS
from peft_pblora.evaluation.steering_verdicts import (
    FRAGILE_RESAMPLE_SHARES,
    is_fragile_verdict,
    lifted_by_other_objectives,
    rises_above_base,
)
from peft_pblora.evaluation.weight_curves import LITTLE_ROOM_SHARE, leaves_little_room
from peft_pblora.pipeline.diagnosis import diagnosis_record, read_training_margins, summed_log_ratio_objectives
from peft_pblora.pipeline.report import rescaled_objectives
from peft_pblora.pipeline.steering_verdict_lines import DEGENERATE_VERTEX_SHARE, degenerate_at_vertex, metrics_verdicts

MARGIN_VERDICTS = ("below not_learned's threshold", "at or above it", "not recorded")


def objective_row(name: str, metrics: dict) -> dict:
    """One objective's steering in one run: Spearman, effect, the report's verdict (`metrics_verdicts`, with the
    steepest fall, the level and the late rise where the metrics have them), whether it steers (both reach the
    target), and its gain at its own vertex over the unguided model (`rises_above_base` beyond two standard errors):
    an objective can steer only because the other objectives' guidance lowers it where its weight is small, its own
    guidance adding little; whether the others' guidance raises it where its weight is 0
    (`lifted_by_other_objectives`), which leaves its weight little to trade; and whether the unguided model already
    writes it at its highest score on most test prompts (`leaves_little_room`; None where not measured)."""
    spearman = metrics["spearman_score_vs_weight"].get(name)
    effect = metrics["steering_effect"].get(name, {})
    value, error = effect.get("effect"), effect.get("standard_error")
    verdict = metrics_verdicts(metrics)[name]
    steers = verdict == "steers"
    resampled = metrics.get("spearman_over_resampled_prompts", {}).get(name)
    return {
        "spearman": spearman,
        "spearman_resample_share": None if resampled is None else resampled["share_at_least_threshold"],
        "effect": value,
        "standard_error": error,
        "verdict": verdict,
        "steers": steers,
        "gain_over_base": effect.get("gain_over_base"),
        "rises_above_base": rises_above_base(effect),
        "gain_over_base_at_weight_zero": effect.get("gain_over_base_at_weight_zero"),
        "lifted_by_other_objectives": lifted_by_other_objectives(effect),
        "degenerate_share_at_vertex": metrics.get("degenerate_share_at_vertex", {}).get(name),
        "leaves_little_room": (
            leaves_little_room(metrics["base_at_highest_score"].get(name))
            if "base_at_highest_score" in metrics
            else None
        ),
    }


def benchmark_table(summary: dict) -> list[dict]:
    """One row per run: the sweep's guidance strength, each objective's steering, the pair's HV / MIP against the base
    and the diagnosis flags."""
    rows = []
    for name, run in summary.items():
        metrics = run["metrics"]
        objectives = metrics["objectives"]
        diagnosis = {item["objective"]: item["flags"] for item in metrics.get("steering_diagnosis", [])}
        margins = {item["objective"]: item.get("training_margin") for item in metrics.get("steering_diagnosis", [])}
        rows.append(
            {
                "run": name,
                "guidance_beta": metrics.get("guidance_beta"),
                "objective_strengths": metrics.get("objective_strengths"),
                "objectives": {objective: objective_row(objective, metrics) for objective in objectives},
                "degenerate_share_base": metrics.get("degenerate_share_base"),
                "hypervolume": [metrics["hypervolume_sweep"], metrics["hypervolume_base"]],
                "mip": [metrics["mip_sweep"], metrics["mip_base"]],
                "diagnosis_flags": diagnosis,
                "training_margins": margins,
                "retraining": metrics.get("retraining"),
            }
        )
    return rows


def retraining_label(retraining: dict | None) -> str:
    """What a run's `--epochs_if_not_learned` did, after its name: nothing, or the longer training kept or not."""
    if not retraining:
        return ""
    if retraining.get("kept") == "first":
        return f" (trained again for {retraining['epochs']:g} epochs, first training kept)"
    if retraining.get("own_directions_only"):
        return f" (trained on, {', '.join(retraining['not_learned'])} only, {retraining['epochs']:g} epochs)"
    return f" (trained again, {retraining['epochs']:g} epochs)"


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| run | 1/beta | objective | Spearman | effect +/- se | steers | gain over base at its vertex | empty or "
        "repetitive at its vertex | flags before the sweep | HV guided / base | MIP guided / base |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        beta = row.get("guidance_beta")
        strength = "" if beta is None else f"{1 / beta:g}"
        run = row["run"] + retraining_label(row.get("retraining"))
        for objective, result in row["objectives"].items():
            spearman = "undefined" if result["spearman"] is None else f"{result['spearman']:.2f}"
            if result.get("spearman_resample_share") is not None:
                spearman += f" ({result['spearman_resample_share']:.0%})"
            effect = "" if result["effect"] is None else f"{result['effect']:+.3f} +/- {result['standard_error']:.3f}"
            gain = result.get("gain_over_base")
            gain_cell = "" if gain is None else f"{gain['effect']:+.3f} +/- {gain['standard_error']:.3f}"
            degenerate = result.get("degenerate_share_at_vertex")
            degenerate_cell = "" if degenerate is None else f"{degenerate:.2f}"
            flags = ", ".join(row["diagnosis_flags"].get(objective, [])) or ("none" if row["diagnosis_flags"] else "")
            hypervolume, mip = row["hypervolume"], row["mip"]
            lines.append(
                f"| {run} | {strength}{objective_strength(objective, row)} | {objective} | {spearman} | "
                f"{effect} | "
                f"{'yes' if result['steers'] else 'no: ' + result['verdict']} | {gain_cell} | {degenerate_cell} | "
                f"{flags} | "
                f"{hypervolume[0]:.3f} / {hypervolume[1]:.3f} | "
                f"{mip[0]:.3f} / {mip[1]:.3f} |"
            )
    results = [result for row in rows for result in row["objectives"].values()]
    steered = sum(result["steers"] for result in results)
    lines += ["", f"{steered} of {len(results)} objective-runs steer (Spearman >= 0.9, effect > 2 se)."]
    with_gain = [result for result in results if result.get("gain_over_base") is not None]
    if with_gain:
        rising = sum(result["rises_above_base"] for result in with_gain)
        lines.append(
            f"{rising} of {len(with_gain)} score above the unguided model at their own vertex (gain > 2 se); "
            f"{sum(result['steers'] and not result['rises_above_base'] for result in with_gain)} steer without."
        )
    steering_with_quality = [
        (result["degenerate_share_at_vertex"], row.get("degenerate_share_base"))
        for row in rows
        for result in row["objectives"].values()
        if result["steers"] and result.get("degenerate_share_at_vertex") is not None
    ]
    if steering_with_quality:
        degenerate = sum(degenerate_at_vertex(share, base) for share, base in steering_with_quality)
        lines.append(
            f"{degenerate} of the {len(steering_with_quality)} that steer (those whose metrics.json holds their "
            f"answers' quality) have {DEGENERATE_VERTEX_SHARE:.0%} or more of the answers at their vertex empty or "
            "repetitive, more than the unguided model."
        )
    failures = Counter(result["verdict"] for result in results if not result["steers"])
    if failures:
        counts = ", ".join(f"{count} {verdict}" for verdict, count in failures.most_common())
        lines.append(f"The others: {counts}.")
    failing_with_lift = [r for r in results if not r["steers"] and r.get("gain_over_base_at_weight_zero") is not None]
    if failing_with_lift:
        lifted = sum(result["lifted_by_other_objectives"] for result in failing_with_lift)
        lines.append(
            f"{lifted} of the {len(failing_with_lift)} that do not steer (those whose metrics.json holds the gain at "
            "weight 0) are raised above the unguided model by the other objectives' guidance where their own weight "
            "is 0 (> 2 se)."
        )
    measured_room = [result for result in results if result.get("leaves_little_room") is not None]
    if measured_room:
        at_top = [result for result in measured_room if result["leaves_little_room"]]
        lines.append(
            f"{len(at_top)} of the {len(measured_room)} whose metrics.json holds it are already at their highest "
            f"score unguided on {LITTLE_ROOM_SHARE:.0%} or more of the test prompts; "
            f"{sum(r['steers'] for r in at_top)} of them steer."
        )
    fragile = fragile_verdicts(rows)
    if fragile:
        low, high = FRAGILE_RESAMPLE_SHARES
        lines.append(
            f"Fragile verdicts (steers, with Spearman >= {STEERING_SPEARMAN_TARGET:g} in under {high:.0%} of the "
            f"test-prompt resamples, or misses it and reaches it in over {low:.0%}; the share in brackets after the "
            f"Spearman): {len(fragile)}, of which {sum(steers for _, steers in fragile)} steer: "
            + ", ".join(label for label, _ in fragile)
            + "."
        )
    agreement = probe_agreement(rows)
    if any(sum(outcomes.values()) for outcomes in agreement.values()):
        lines.append(
            "The probe before the sweep against the sweep: "
            + "; ".join(
                f"probe {verdict}: sweep steers {outcomes['sweep steers']}, does not {outcomes['sweep does not']}"
                for verdict, outcomes in agreement.items()
            )
            + "."
        )
        margins = margin_agreement(rows)
        lines.append(
            "The training margin against the sweep: "
            + "; ".join(
                f"margin {verdict}: sweep steers {outcomes['sweep steers']}, does not {outcomes['sweep does not']}"
                for verdict, outcomes in margins.items()
            )
            + "."
        )
        at_top = flag_agreement(rows, "already_at_top")
        lines.append(
            "The advice already_at_top before the sweep against the sweep: "
            + "; ".join(
                f"{verdict}: sweep steers {outcomes['sweep steers']}, does not {outcomes['sweep does not']}"
                for verdict, outcomes in at_top.items()
            )
            + "."
        )
    return "\n".join(lines) + "\n"


def fragile_verdicts(rows: list[dict]) -> list[tuple[str, bool]]:
    """('run/objective', steers) for each objective-run whose verdict more than one test-prompt resample in five
    would turn over (`is_fragile_verdict`)."""
    return [
        (f"{row['run']}/{objective}", result["steers"])
        for row in rows
        for objective, result in row["objectives"].items()
        if is_fragile_verdict(result["steers"], result["spearman"], result.get("spearman_resample_share"))
    ]


def objective_strength(objective: str, row: dict) -> str:
    """' x0.5' where the run scaled this objective's part of the PARM (weaker_objective_strengths,
    stronger_objective_strengths), else ''."""
    value = rescaled_objectives(list(row["objectives"]), row.get("objective_strengths")).get(objective)
    return "" if value is None else f" x{value:g}"


PROBE_VERDICTS = ("passes", "inconclusive", "cannot tell", "flags degenerate answers", "flags no steering")


def probe_verdict(flags: list[str]) -> str:
    """The guided probe's reading of one objective: "flags no steering" (it does not steer or steers backwards),
    "flags degenerate answers" (it rises, but its answers at its own vertex are mostly empty or repetitive, or word
    salad to the base, or the empty-answer check found empty answers there: a warning about the answers, which a
    scorer may still reward),
    "cannot tell" (its answers show the objective on too few probe prompts to judge it), "inconclusive" (a rise
    within the probe's noise) or "passes"."""
    if any(flag in PROBE_FLAGS and flag not in DEGENERATE_FLAGS for flag in flags):
        return "flags no steering"
    if set(flags) & set(DEGENERATE_FLAGS):
        return "flags degenerate answers"
    if "probe_cannot_tell" in flags:
        return "cannot tell"
    return "inconclusive" if "probe_inconclusive" in flags else "passes"


def agreement(
    rows: list[dict], label_of: Callable[[dict, str], str], labels: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Per label (`label_of(row, objective)`, one of `labels`), how many diagnosed objective-runs the sweep then
    steered or not."""
    counts = {label: {"sweep steers": 0, "sweep does not": 0} for label in labels}
    for row in rows:
        for objective, result in row["objectives"].items():
            if objective in row["diagnosis_flags"]:
                counts[label_of(row, objective)]["sweep steers" if result["steers"] else "sweep does not"] += 1
    return counts


def margin_agreement(rows: list[dict]) -> dict[str, dict[str, int]]:
    """How many objective-runs the sweep steered among those whose training margin is below `LEARNED_MARGIN` (the
    `not_learned` threshold, whether or not the probe then withheld the flag), at or above it, or not recorded (a
    decoding-only run whose training log is elsewhere, or a reward form that has no margin on the log-ratio
    scale)."""

    def margin_verdict(row: dict, objective: str) -> str:
        margin = row.get("training_margins", {}).get(objective)
        if margin is None:
            return "not recorded"
        return "below not_learned's threshold" if not margin >= LEARNED_MARGIN else "at or above it"

    return agreement(rows, margin_verdict, MARGIN_VERDICTS)


def probe_agreement(rows: list[dict]) -> dict[str, dict[str, int]]:
    """For each reading of the probe before the sweep, how many objective-runs the sweep then steered or not."""
    return agreement(rows, lambda row, objective: probe_verdict(row["diagnosis_flags"][objective]), PROBE_VERDICTS)


def flag_agreement(rows: list[dict], flag: str) -> dict[str, dict[str, int]]:
    """How many diagnosed objective-runs the sweep steered among those flagged `flag` before the sweep and the rest:
    how far an advice flag (one that changes no choice, such as `already_at_top`) foretold the sweep."""
    return agreement(
        rows,
        lambda row, objective: "flagged" if flag in row["diagnosis_flags"][objective] else "not flagged",
        ("flagged", "not flagged"),
    )


def margin_objectives(folder: Path, metrics: dict) -> list[str]:
    """The objectives whose training margin the run's diagnosis reads (`summed_log_ratio_objectives`), from its
    metrics.json and settings.json (every objective of a run that recorded neither reward forms nor settings)."""
    forms = metrics.get("reward_forms", {}).get("objectives", {})
    settings_path = folder / "settings.json"
    settings = json.loads(settings_path.read_text()) if settings_path.is_file() else {}
    return summed_log_ratio_objectives(
        metrics["objectives"],
        [name for name, form in forms.items() if form["reward"] == "mean"],
        settings.get("reference_free", False),  # unrecorded: read every margin, as before
        settings.get("reference_relative_rewards") or [],
    )


def summary_from_run_folders(root: Path) -> dict:
    """The run_grid summary of every finished run folder under `root` (any depth), each run's diagnosis drawn again
    from its stored probe answers, held-out pair accuracy and training log by the current diagnosis (flags added
    since it ran included). A decoding-only run without a training log (`<run>_w2`, from `adapter_from`) reads its
    sibling `<run>`'s; a run's own log takes precedence."""
    summary = {}
    for metrics_path in sorted(root.rglob("metrics.json")):
        folder = metrics_path.parent
        metrics = json.loads(metrics_path.read_text())
        diagnosis_path = folder / "diagnosis.json"
        if diagnosis_path.is_file():
            stored = json.loads(diagnosis_path.read_text())
            sibling_log = folder.parent / folder.name.rsplit("_", 1)[0] / "train_log.json"
            margins = {
                **stored.get("training_margins", {}),  # what the run read, where its training log is not at hand
                **read_training_margins([sibling_log, folder / "train_log.json"], margin_objectives(folder, metrics)),
            }
            held_out = (stored.get("pair_accuracy", {}), stored.get("held_out_pairs", {}))
            probe = stored["probe"]
            record = diagnosis_record(
                metrics["objectives"], probe["prompts"], probe["vertices"], held_out, margins,
                stored.get("prompts_with_pairs"), stored.get("pair_prompts"), probe.get("unguided"),
            )  # fmt: skip
            metrics["steering_diagnosis"] = record["objectives"]
        summary[folder.relative_to(root).as_posix()] = {"metrics": metrics}
    return summary


def write_tables(rows: list[dict], output_dir: Path) -> str:
    """table.json and table.md in `output_dir`; returns the markdown."""
    output_dir.mkdir(parents=True, exist_ok=True)
    text = markdown_table(rows)
    (output_dir / "table.json").write_text(json.dumps(rows, indent=2))
    (output_dir / "table.md").write_text(text)
    return text
