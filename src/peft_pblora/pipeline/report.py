"""The report stage's files: report.md (one small function per section), scores.csv and pareto.png."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path

from ..evaluation import pareto_plot
from ..evaluation.metrics import STEERING_SPEARMAN_TARGET
from .baselines import arm_rank, svd_lora_rank
from .pairing_lines import pairing_section
from .run_folder import FOLDER_SETTINGS, RESULT_NEUTRAL_SETTINGS, atomic_path, write_text_atomic
from .settings import METHOD_LABELS, PER_OBJECTIVE_CORE, RunSettings
from .steering_verdict_lines import (
    degenerate_vertex_lines,
    fragile_lines,
    lifted_lines,
    little_room_lines,
    no_gain_lines,
    off_language_vertex_lines,
    token_limit_lines,
    verdict_lines,
)


def options_other_than_defaults(settings: RunSettings) -> list[str]:
    """The command-line options that make `settings` from the defaults for its objectives (output folder and the
    result-neutral settings left out): the run's recipe in one line. Settings whose default follows from others
    (lora_alpha from the method, core and r2; preference_sampling from the scalarisation; reference_relative_rewards
    from length_matched) are compared with the default for those."""
    deciding = ("method", "core", "r2", "scalarization", "length_matched")
    plain = asdict(RunSettings(objectives=list(settings.objectives), device=settings.device))
    derived = RunSettings(
        objectives=list(settings.objectives), device=settings.device,
        **{name: getattr(settings, name) for name in deciding},
    )  # fmt: skip
    defaults = {**asdict(derived), **{name: plain[name] for name in deciding}}
    default_objectives = next(item for item in fields(RunSettings) if item.name == "objectives").default_factory()
    defaults["objectives"] = default_objectives  # the other list defaults follow from the objectives
    options = []
    for name, value in asdict(settings).items():
        if name in FOLDER_SETTINGS + RESULT_NEUTRAL_SETTINGS or value == defaults[name]:
            continue
        if isinstance(value, bool):
            options.append(f"--{name}" if value else f"--no_{name}")
        elif isinstance(value, list):
            options.append(" ".join([f"--{name}", *(map(str, value) if value else ["none"])]))
        else:
            options.append(f"--{name} {value}")
    return options


# -- report.md, section by section -----------------------------------------------------------------------------------


def reward_models(settings: RunSettings, method: str) -> str:
    """What guides (or, for Rewarded Soups, is mixed): the PARM's adapter or the k ARMs, and their starting model."""
    if settings.parm_model:
        starting_model = f"`{settings.parm_model}`"
    elif settings.parm_layers:
        starting_model = f"its first {settings.parm_layers} layers"
    else:
        starting_model = "a copy of the base"
    if method == "parm":
        blocks = ", one block per objective" if settings.core == PER_OBJECTIVE_CORE else ""
        return f"PARM = {starting_model} + PBLoRA (r1={settings.r1}, r2={settings.r2}{blocks})"
    if method == "svd_lora":
        return f"PARM = {starting_model} + SVD-LoRA (diag of {svd_lora_rank(settings)} singular values and c alpha)"
    return (
        f"{len(settings.objectives)} single-objective ARMs, each {starting_model} + PBLoRA (r1={settings.r1}, "
        f"r2={arm_rank(settings)}, k=1)"
    )


def plausibility_note(settings: RunSettings) -> str:
    share = settings.guidance_plausibility
    return "" if share is None else f" among tokens at least {share:g} as likely as the base's top token"


def rescaled_objectives(objectives: Sequence[str], strengths: Sequence[float] | None) -> dict[str, float]:
    """The objectives a run guided at other than full strength (`weaker_objective_strengths`,
    `stronger_objective_strengths`, `fixed_objective_strengths`), with their strengths."""
    return {name: value for name, value in zip(objectives, strengths or [], strict=False) if value != 1.0}


def guidance_strength(settings: RunSettings, sweep: dict) -> str:
    """'1/beta = 4', and the objectives guided at another strength (chosen by the probe, or fixed), with their
    strengths."""
    text = f"1/beta = {1 / settings.guidance_beta:g}"
    rescaled = rescaled_objectives(sweep["objectives"], sweep.get("objective_strengths"))
    if rescaled:
        listed = ", ".join(f"{name} x{value:g}" for name, value in rescaled.items())
        chosen_by = (
            "fixed_objective_strengths"
            if settings.fixed_objective_strengths
            else "the strengths the probe found steer best"
        )
        text += f" ({listed}: {chosen_by})"
    return text


SWEEP_DECODING_LABELS = {"greedy": "greedy", "sample": "sampled at temperature 1"}


def setup_section(settings: RunSettings, sweep: dict) -> list[str]:
    """The title and one line on the method, models, objectives, prompts and decoding."""
    method = sweep.get("method", "parm")
    return [
        f"# {METHOD_LABELS[method]} run report",
        "",
        f"Method `{method}`; base model `{settings.base_model}`; {reward_models(settings, method)}; objectives "
        f"{sweep['objectives']}; {settings.train_prompts} train / {settings.test_prompts} held-out test prompts; "
        f"guidance {guidance_strength(settings, sweep)}{plausibility_note(settings)}; "
        f"{SWEEP_DECODING_LABELS[settings.sweep_decoding]}, "
        f"{settings.sweep_tokens} new tokens.",
    ]


def options_section(settings: RunSettings) -> list[str]:
    options = " ".join(options_other_than_defaults(settings))
    return [f"Options other than the defaults: {f'`{options}`' if options else 'none'}."]


def reward_forms_section(metrics: dict) -> list[str]:
    """How each objective was rewarded in training, with its pairs' length sign, and who chose the form."""
    forms = metrics.get("reward_forms")
    if not forms:
        return []
    described = [
        f"{name} {'mean log-probability per token' if form['reward'] == 'mean' else 'summed log-probability'} "
        f"(beta_r {form['beta_r']:g}; length sign {form['length_sign']:+.2f})"
        for name, form in forms["objectives"].items()
    ]
    if forms["chosen_from_pairs"]:
        chooser = f"chosen from the pairs: the mean where |length sign| >= {forms['length_following_sign']:g}"
    else:  # given, or saved by a folder made when the scorers declared the forms
        chooser = "as the settings' length_normalized_rewards says"
    return [f"Rewards in training: {'; '.join(described)}; {chooser}."]


def mean_with_error(point: dict, name: str) -> str:
    """'mean +/- standard error' of one objective at one sweep point (the mean alone for older sweeps)."""
    error = point.get("standard_errors", {}).get(name)
    return f"{point['scores'][name]:.3f}" + ("" if error is None else f" +/- {error:.3f}")


def table_row(label: str, point: dict, objectives: list[str], likelihood: bool = False) -> str:
    scores = [mean_with_error(point, name) for name in objectives]
    quality = [f"{point['quality'][share]:.2f}" for share in ("empty", "unfinished", "repetitive")]
    if likelihood:
        value = point["quality"].get("base_nll")
        quality.append("n/a" if value is None else f"{value:.2f}")
    return "| " + " | ".join([label, *scores, *quality]) + " |"


def scores_section(sweep: dict) -> list[str]:
    """Per swept preference and for the unguided base: each objective's mean score and the answers' quality, with
    the base's negative log-likelihood per answer token where the sweep measured it."""
    objectives = sweep["objectives"]
    likelihood = "base_nll" in sweep["base"].get("quality", {})
    return [
        "| alpha | "
        + " | ".join(objectives)
        + " | empty | unfinished | repetitive |"
        + (" base NLL / token |" if likelihood else ""),
        "|---|" + "---|" * (len(objectives) + 3 + likelihood),
        *(table_row(str(point["alpha"]), point, objectives, likelihood) for point in sweep["points"]),
        table_row("base, unguided", sweep["base"], objectives, likelihood),
    ]


def listed(items: list[str], empty: str = "not available") -> str:
    return ", ".join(items) or empty


def spearman_lines(metrics: dict) -> list[str]:
    correlations = [
        f"{name} {'undefined (constant)' if value is None else f'{value:.2f}'}"
        for name, value in metrics["spearman_score_vs_weight"].items()
    ]
    resampled = [
        f"{name} reaches {value['threshold']:g} in {value['share_at_least_threshold']:.0%} of {value['resamples']} "
        f"resamples, {value['confidence_level']:.0%} interval [{value['interval_low']:.2f}, "
        f"{value['interval_high']:.2f}]"
        for name, value in metrics.get("spearman_over_resampled_prompts", {}).items()
    ]
    return [
        "- Spearman correlation of each objective's mean score with its weight "
        f"(target >= {STEERING_SPEARMAN_TARGET:g}): " + ", ".join(correlations),
        f"- The same over test prompts resampled with replacement: {listed(resampled)}",
    ]


def front_lines(metrics: dict, label: str) -> list[str]:
    unsupported = [f"alpha {alpha}" for alpha in metrics["front_alphas_no_linear_weighting_picks"]]
    return [
        f"- Hypervolume (normalised scores, reference point {metrics['reference_point']}): {label} "
        f"{metrics['hypervolume_sweep']:.3f} vs base {metrics['hypervolume_base']:.3f}",
        f"- MIP (normalised): {label} {metrics['mip_sweep']:.3f} vs base {metrics['mip_base']:.3f}",
        "- Pareto points no linear weighting of the scores picks (a non-convex part of the front): "
        + listed(unsupported, "none"),
    ]


def cost_line(metrics: dict) -> str:
    return (
        f"- Cost: {metrics.get('trainable_parameters', 0):,} trainable parameters; decoding "
        f"{metrics.get('decoding_tokens_per_second', float('nan')):.1f} new tokens/s over the sweep"
        f"{GUIDANCE_PATH_NOTES.get(metrics.get('guidance_path'), '')}; peak resident "
        f"memory {metrics.get('peak_resident_memory_gib', float('nan')):.2f} GiB"
    )


GUIDANCE_PATH_NOTES = {
    "fused": " (fused: base and PARM rows in one forward)",
    "separate": " (the reward model's forward beside the base's)",
}


def steering_lines(metrics: dict) -> list[str]:
    effects = metrics["steering_effect"]
    against_zero = [
        f"{name} {value['effect']:+.3f} +/- {value['standard_error']:.3f}" for name, value in effects.items()
    ]
    over_base = [
        f"{name} {value['gain_over_base']['effect']:+.3f} +/- {value['gain_over_base']['standard_error']:.3f}"
        for name, value in effects.items()
        if "gain_over_base" in value
    ]
    return [
        "- Steering effect (score at the objective's vertex minus where its weight is 0, paired over prompts): "
        + listed(against_zero),
        f"- Gain over the base at the objective's vertex (paired over prompts): {listed(over_base)}",
    ]


def diagnosis_section(metrics: dict) -> list[str]:
    """The diagnosis made before the sweep: per objective the prompts its training pairs are on, its training margin,
    its held-out pair accuracy at its own vertex and at the others, the guided probe's effect, how much less likely
    the base finds the probe's answers at its vertex than its own (nats per token), and the flags with what to
    try."""
    diagnoses = metrics.get("steering_diagnosis")
    if not diagnoses:
        return []

    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    def covered(item: dict) -> str:
        count, prompts = item.get("prompts_with_pairs"), item.get("pair_prompts")
        if count is None:
            return ""
        return f"{count} of {prompts}" if prompts is not None else str(count)

    lines = [
        "Diagnosis before the sweep (the reward margin over the last third of training; held-out pairs; a guided "
        "probe at the vertices on prompts outside the split):",
        "",
        "| objective | prompts with training pairs | training margin | held-out pairs | pair accuracy at its vertex / "
        "at the others | probe effect | base NLL / token above its own | flags |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in diagnoses:
        probe = (
            ""
            if item["probe_effect"] is None
            else f"{item['probe_effect']:+.3f} +/- {item['probe_standard_error']:.3f}"
        )
        accuracy = f"{number(item['pair_accuracy_at_own_vertex'])} / {number(item['pair_accuracy_at_other_vertices'])}"
        gap = item.get("base_nll_gap_at_vertex")
        lines.append(
            f"| {item['objective']} | {covered(item)} | "
            f"{number(item.get('training_margin'))} | "
            f"{item['held_out_pairs']} | {accuracy} | "
            f"{probe} | "
            f"{'' if gap is None else f'{gap:+.2f}'} | "
            f"{', '.join(item['flags']) or 'none: steers'} |"
        )
    advice = [f"- {item['objective']}: {text}" for item in diagnoses for text in item["advice"]]
    return lines + ([""] + advice if advice else []) + retraining_lines(metrics)


def retraining_lines(metrics: dict) -> list[str]:
    """Where the adapters were trained again for longer (`--epochs_if_not_learned`): why, and which training the
    diagnosis above and the sweep are the kept one's."""
    retraining = metrics.get("retraining")
    if not retraining:
        return []
    not_learned = ", ".join(retraining["not_learned"])
    before, epochs = retraining["epochs_before"], retraining["epochs"]
    if retraining.get("own_directions_only"):
        why = (
            f"Trained on from the first training for {epochs - before:g} more epochs ({epochs:g} in all), only the "
            f"own directions of {not_learned}, not learned in {before:g}; the other objectives' are the first "
            "training's; "
        )
    else:
        why = f"Trained again for {epochs:g} epochs: not learned in {before:g} ({not_learned}); "
    if retraining.get("kept") == "first":
        kept = (
            f"the longer training's probe did not pass {', '.join(retraining['not_passed'])} either, so the first "
            "training is kept: the diagnosis above is the first training's, the longer one's is in retraining.json."
        )
    else:
        kept = "the diagnosis above is the longer training's, the first one's is in retraining.json."
    return ["", why + kept]


def metrics_section(metrics: dict, label: str, timings: dict) -> list[str]:
    """The sweep's metrics (metrics.json) as a list: correlations, front, cost, steering, normalisation, times."""
    return [
        *spearman_lines(metrics),
        *front_lines(metrics, label),
        cost_line(metrics),
        *steering_lines(metrics),
        f"- Normalisation: {metrics['normalisation']['method']}",
        f"- Stage times (s): {timings}",
    ]


def markdown_report(settings: RunSettings, sweep: dict, metrics: dict, path: Path) -> str:
    """report.md: the setup, the options, the scores table, the metrics and the Pareto plot."""
    timings_path = path / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    label = METHOD_LABELS[sweep.get("method", "parm")]
    sections = [
        setup_section(settings, sweep),
        options_section(settings),
        reward_forms_section(metrics),
        pairing_section(metrics),
        scores_section(sweep),
        verdict_lines(metrics, str(path)),
        token_limit_lines(metrics, sweep, settings.sweep_tokens),
        degenerate_vertex_lines(metrics, str(path)),
        off_language_vertex_lines(metrics, str(path)),
        no_gain_lines(metrics),
        lifted_lines(metrics, str(path)),
        little_room_lines(metrics),
        fragile_lines(metrics),
        metrics_section(metrics, label, timings),
        diagnosis_section(metrics),
        ["![Pareto plot](pareto.png)"],
    ]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"


# -- scores.csv and pareto.png ---------------------------------------------------------------------------------------


def write_scores_csv(sweep: dict, path: Path) -> None:
    """One row per swept preference: alpha, each objective's mean score and the answers' quality (with the base's
    negative log-likelihood per token where the sweep measured it)."""
    objectives = sweep["objectives"]
    shares = ["empty", "unfinished", "repetitive"]
    if "base_nll" in sweep["base"].get("quality", {}):
        shares.append("base_nll")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["alpha", *objectives, *shares])
        for point in sweep["points"]:
            writer.writerow(
                [json.dumps(point["alpha"]), *(point["scores"][name] for name in objectives)]
                + [point["quality"].get(share) for share in shares]
            )


def plot_sweep(sweep: dict, path: Path) -> None:
    """The sweep's front beside the unguided base (two or three objectives only)."""
    objectives = sweep["objectives"]
    if len(objectives) not in (2, 3):
        return
    scores = [[point["scores"][name] for name in objectives] for point in sweep["points"]]
    pareto_plot(
        {METHOD_LABELS[sweep.get("method", "parm")]: (sweep["alphas"], scores)},
        path,
        objectives,
        base_point=[sweep["base"]["scores"][name] for name in objectives],
    )


def write_report_files(settings: RunSettings, sweep: dict, metrics: dict, path: Path) -> None:
    """scores.csv, pareto.png and report.md in the run folder `path`, each written atomically."""
    with atomic_path(path / "scores.csv") as scores_path:
        write_scores_csv(sweep, scores_path)
    if len(sweep["objectives"]) in (2, 3):
        with atomic_path(path / "pareto.png") as plot_path:
            plot_sweep(sweep, plot_path)
    write_text_atomic(path / "report.md", markdown_report(settings, sweep, metrics, path))
