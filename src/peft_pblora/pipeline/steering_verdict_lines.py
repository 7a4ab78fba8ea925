"""The report's lines that say in words whether alpha steered each objective: the verdicts, and the notes on a token
limit that hides longer answers, on degenerate answers at an objective's vertex, on an objective that steers without
rising above the unguided model, on one that stays within noise because the other objectives' guidance already raises
it, on one the unguided model already writes at its highest score and on a verdict that another draw of test prompts
would likely turn over."""

from __future__ import annotations

import shlex

from ..data.length_following import LENGTH_FOLLOWING_SIGN
from ..evaluation.answer_quality import vertex_point
from ..evaluation.base_likelihood import is_off_language
from ..evaluation.metrics import STEERING_SPEARMAN_TARGET
from ..evaluation.steering_verdicts import (
    STEERING_VERDICT_ADVICE,
    is_fragile_verdict,
    lifted_by_other_objectives,
    rises_above_base,
    steering_verdicts,
)
from ..evaluation.weight_curves import leaves_little_room


def fall_note(fall: dict) -> str:
    """Where an objective's score falls with more weight, in words: ' (weight 0.5 -> 1: -0.292 +/- 0.079)'."""
    return (
        f" (weight {fall['from_weight']:g} -> {fall['to_weight']:g}: -{fall['fall']:.3f} +/- "
        f"{fall['standard_error']:.3f})"
    )


def level_note(level: dict) -> str:
    """Where an objective's score levels off, in words: ' (0.993 from weight 0.5 on: +0.871 +/- 0.043 over its lowest
    weight)'."""
    return (
        f" ({level['score']:.3f} from weight {level['at_weight']:g} on: {level['rise']:+.3f} +/- "
        f"{level['standard_error']:.3f} over its lowest weight)"
    )


def late_rise_note(late_rise: dict) -> str:
    """Where an objective's score starts to rise, in words: ' (0.021 up to weight 0.5, then +0.150 +/- 0.030 to its
    top weight)'."""
    return (
        f" ({late_rise['score']:.3f} up to weight {late_rise['from_weight']:g}, then {late_rise['rise']:+.3f} +/- "
        f"{late_rise['standard_error']:.3f} to its top weight)"
    )


RUN_FOLDER_PLACEHOLDER = "RUN_FOLDER"  # where a trial's command is written without the run's folder


def strengths_by_objective(metrics: dict) -> dict[str, float]:
    """The strength each objective was guided at (`objective_strengths`, in objective order), by name; {} for a run
    that kept the adapter as trained."""
    return dict(zip(metrics.get("objectives", []), metrics.get("objective_strengths") or [], strict=False))


def strengths_option(metrics: dict, changed: dict[str, float]) -> str:
    """The `--fixed_objective_strengths` option of a trial that guides the `changed` objectives at their strengths
    and every other objective as the run guided it (`objective_strengths`): the option puts an objective it does not
    name at 1, so one the run weakened must be named to stay weakened. Those at 1 and unchanged go unnamed."""
    strengths = strengths_by_objective(metrics)
    trial = {objective: strengths.get(objective, 1.0) for objective in metrics.get("objectives", [])} | changed
    named = " ".join(
        f"{objective}={strength:g}" for objective, strength in trial.items() if objective in changed or strength != 1.0
    )
    return f"--fixed_objective_strengths {named}"


def strengths_trial_command(metrics: dict, changed: dict[str, float], output_dir: str) -> str | None:
    """The command that sweeps the run in `output_dir` again with the `changed` objectives at their strengths and the
    others as the run guided them (`strengths_option`): on the same folder `peft-pblora report` redoes the probe and
    the sweep, keeping the training unless the new probe finds an objective not learned where
    `--epochs_if_not_learned` asks to train again. None for a method with no per-objective strengths (PARM only)."""
    if metrics.get("method", "parm") != "parm":
        return None
    return f"peft-pblora report --output_dir {shlex.quote(output_dir)} {strengths_option(metrics, changed)}"


def late_rise_trial(name: str, metrics: dict, output_dir: str = RUN_FOLDER_PLACEHOLDER) -> str:
    """What to try for an objective that rises late: for a PARM, the command that sweeps the run again with its
    strength doubled and every other objective's as the run guided it; nothing for another method."""
    doubled = {name: 2 * strengths_by_objective(metrics).get(name, 1.0)}
    command = strengths_trial_command(metrics, doubled, output_dir)
    return "" if command is None else f"; to try: {command}"


def late_rise_words(name: str, late_rise: dict, metrics: dict, output_dir: str) -> str:
    """The words after a late rise's verdict: where it starts to rise (`late_rise_note`) and what to try."""
    return late_rise_note(late_rise) + late_rise_trial(name, metrics, output_dir)


def metrics_verdicts(metrics: dict) -> dict[str, str]:
    """`steering_verdicts` of a metrics.json, judged again from its Spearman, effects, falls, levels and late rises
    (an older file may lack any of the last three, or the stored verdicts)."""
    return steering_verdicts(
        metrics.get("spearman_score_vs_weight", {}),
        metrics.get("steering_effect", {}),
        metrics.get("steepest_fall"),
        metrics.get("levels_off"),
        metrics.get("rises_late"),
    )


# where a greedy sweep's verdict may come from decoding, not the guidance: a greedy answer writes a guided word only
# where the guidance makes it the most likely, and loops more at a strong vertex
SAMPLED_SWEEP_VERDICTS = ("not_monotone", "falls_with_more_weight")
SAMPLED_SWEEP_TRIAL = (
    "; to try: the same folder swept sampled, its probe too (--sweep_decoding sample --probe_decoding sample; only "
    "the diagnosis and the sweep are redone). On 25 steering benchmark runs swept both ways a sampled sweep made "
    "steer all 4 objective-runs that were not monotone or fell greedy; of the 43 that steered greedy, 4 did not "
    "sampled and the others steered a median 0.83 as far. A sampled probe, on the same 25 runs, changed the "
    "strengths in 7 and made one more objective-run steer (44 of 50 against 43), losing none"
)


def sampled_sweep_trial(verdict: str, metrics: dict) -> str:
    """`SAMPLED_SWEEP_TRIAL` for a verdict that a sampled sweep may change, where the sweep was greedy."""
    greedy = metrics.get("sweep_decoding", "greedy") == "greedy"
    return SAMPLED_SWEEP_TRIAL if greedy and verdict in SAMPLED_SWEEP_VERDICTS else ""


def verdict_lines(metrics: dict, output_dir: str = RUN_FOLDER_PLACEHOLDER) -> list[str]:
    """Whether alpha steers each objective, said in words: HV and MIP can be high while it does not. A trial it names
    is written as a command on the run in `output_dir`."""
    falls, levels, late_rises = (
        metrics.get("steepest_fall", {}),
        metrics.get("levels_off", {}),
        metrics.get("rises_late", {}),
    )
    verdicts = metrics_verdicts(metrics)
    lines = [
        f"- {name}: {STEERING_VERDICT_ADVICE[verdict]}"
        + (fall_note(falls[name]) if verdict == "falls_with_more_weight" else "")
        + (level_note(levels[name]) if verdict == "levels_off" else "")
        + (late_rise_words(name, late_rises[name], metrics, output_dir) if verdict == "rises_late" else "")
        + sampled_sweep_trial(verdict, metrics)
        for name, verdict in verdicts.items()
    ]
    failing = [name for name, verdict in verdicts.items() if verdict != "steers"]
    target = f"Spearman >= {STEERING_SPEARMAN_TARGET:g} and an effect above two standard errors"
    heading = (
        f"**Alpha does not steer {', '.join(failing)}** (target: {target}); HV and MIP do not show this."
        if failing
        else f"Alpha steers every objective ({target})."
    )
    return [heading, "", *lines]


MOSTLY_CUT_SHARE = 0.5  # of the answers at a vertex stopped by the token limit
DEGENERATE_VERTEX_SHARE = 0.25  # of the answers at an objective's vertex, empty or repetitive


def degenerate_at_vertex(share: float, base_share: float | None) -> bool:
    """Whether a quarter or more of the answers at an objective's vertex are empty or repetitive, more than the
    unguided model's (where known): guidance, not the prompts, made them so."""
    return share >= DEGENERATE_VERTEX_SHARE and (base_share is None or share > base_share)


def halved_strength_trial(name: str, metrics: dict, output_dir: str = RUN_FOLDER_PLACEHOLDER) -> str:
    """What to try for an objective whose vertex degenerates or leaves the base's language: for a PARM, the command
    that sweeps the run in `output_dir` again with `name` at half the strength it was guided at and the others as
    they were (`strengths_trial_command`); for a method with no per-objective strengths, less training."""
    half = {name: strengths_by_objective(metrics).get(name, 1.0) * 0.5}
    command = strengths_trial_command(metrics, half, output_dir)
    return "less training" if command is None else f"half its strength ({command}) or less training"


def degenerate_vertex_lines(metrics: dict, output_dir: str = RUN_FOLDER_PLACEHOLDER) -> list[str]:
    """A warning for each objective whose answers at its own vertex are degenerate (`degenerate_at_vertex`, from
    `degenerate_share_at_vertex`): its score there comes partly from empty or looping text, which its verdict, read
    from the scores alone, does not show. The strength it names for a trial halves the run's own
    (`objective_strengths`), the others' kept (`halved_strength_trial`)."""
    base = metrics.get("degenerate_share_base")
    base_note = "" if base is None else f" (the unguided model's: {base:.0%})"
    return [
        f"- {name}: {share:.0%} of the answers at its vertex are empty or repeat a phrase{base_note}: its score there "
        "comes partly from degenerate text, which its verdict does not show; read a few (sweep.json), and try "
        f"{halved_strength_trial(name, metrics, output_dir)}"
        for name, share in metrics.get("degenerate_share_at_vertex", {}).items()
        if degenerate_at_vertex(share, base)
    ]


def off_language_vertex_lines(metrics: dict, output_dir: str = RUN_FOLDER_PLACEHOLDER) -> list[str]:
    """A warning for each objective whose answers at its own vertex the base finds far less likely than its own
    answers (`base_nll_at_vertex` at least `OFF_LANGUAGE_NLL_GAP` nats per token above `base_nll_unguided`): word
    salad that a word-counting objective scores high, which neither its verdict nor the empty and repetitive shares
    show. The trial it names is `halved_strength_trial`'s."""
    unguided = metrics.get("base_nll_unguided")
    if unguided is None:
        return []
    return [
        f"- {name}: its vertex's answers are off the base's language: {value:.2f} nats per token under the base, "
        f"against {unguided:.2f} for the unguided answers; its score there may come from word salad. Read a few "
        f"(sweep.json), and try {halved_strength_trial(name, metrics, output_dir)}"
        for name, value in metrics.get("base_nll_at_vertex", {}).items()
        if is_off_language(value - unguided)
    ]


def token_limit_lines(metrics: dict, sweep: dict, sweep_tokens: int) -> list[str]:
    """A warning for each objective that alpha does not steer, whose pairs prefer the longer answer and most of whose
    answers at its own vertex stop at the sweep's token limit: longer answers cannot show in such a sweep."""
    signs = {name: form["length_sign"] for name, form in metrics.get("reward_forms", {}).get("objectives", {}).items()}
    verdicts = metrics_verdicts(metrics)
    lines = []
    for index, name in enumerate(sweep["objectives"]):
        if verdicts.get(name) == "steers" or signs.get(name, 0.0) < LENGTH_FOLLOWING_SIGN:
            continue
        point = vertex_point(sweep, index)
        cut = point["quality"]["unfinished"] if point else 0.0
        if cut >= MOSTLY_CUT_SHARE:
            lines.append(
                f"- {name}: its pairs prefer the longer answer (length sign {signs[name]:+.2f}), and {cut:.0%} of the "
                f"answers at its vertex stop at the token limit ({sweep_tokens} tokens): longer answers cannot show "
                "in this sweep; raise --sweep_tokens, unless its score is already at its maximum"
            )
    return lines


def no_gain_lines(metrics: dict) -> list[str]:
    """A note for each objective that alpha steers whose score at its own vertex is within two standard errors of the
    unguided model's: its rise with its weight comes from the other objectives' guidance lowering it where its own
    weight is small, and its own guidance adds little to the base."""
    verdicts = metrics_verdicts(metrics)
    lines = []
    for name, effect in metrics.get("steering_effect", {}).items():
        gain = effect.get("gain_over_base")
        if verdicts.get(name) != "steers" or gain is None or rises_above_base(effect):
            continue
        lines.append(
            f"- {name}: steers, but at its vertex it scores no higher than the unguided model (gain "
            f"{gain['effect']:+.3f} +/- {gain['standard_error']:.3f}): its weight decides how far the other "
            "objectives' guidance lowers it, and its own guidance adds little to the base"
        )
    return lines


def lifted_lines(metrics: dict, output_dir: str = RUN_FOLDER_PLACEHOLDER) -> list[str]:
    """A note for each objective whose change with its weight is within noise and that the other objectives' guidance
    already raises above the unguided model where its own weight is 0 (`lifted_by_other_objectives`): the objectives
    do not conflict on it, so its weight has little of it left to trade. For a PARM, the trial it names sweeps the run
    in `output_dir` again with the others' strengths halved (from the run's `objective_strengths`) and this one's
    kept. An objective that falls or is not monotone gets its verdict's advice alone: its own guidance moves it, so
    the note would not explain it."""
    verdicts = metrics_verdicts(metrics)
    effects = metrics.get("steering_effect", {})
    strengths = strengths_by_objective(metrics)
    lines = []
    for name, effect in effects.items():
        if verdicts.get(name) != "within_noise" or not lifted_by_other_objectives(effect):
            continue
        lifted, gain = effect["gain_over_base_at_weight_zero"], effect["gain_over_base"]
        halved_others = {other: strengths.get(other, 1.0) * 0.5 for other in effects if other != name}
        command = strengths_trial_command(metrics, halved_others, output_dir)
        trial = (
            ""
            if command is None
            else f" Weakening the others' guidance ({command}) lowers the lift but can cost the others their "
            "steering: measure before relying on it"
        )
        lines.append(
            f"- {name}: the other objectives' guidance already raises it above the unguided model where its own "
            f"weight is 0 ({lifted['effect']:+.3f} +/- {lifted['standard_error']:.3f}; at its own vertex "
            f"{gain['effect']:+.3f} +/- {gain['standard_error']:.3f}): the objectives do not conflict on it here, "
            "so its weight has little of it left to trade: read alpha as steering the others while this one stays "
            f"raised.{trial}"
        )
    return lines


def little_room_lines(metrics: dict) -> list[str]:
    """A note for each objective that the unguided model already writes at its highest score in the sweep on most test
    prompts (`leaves_little_room`, from `base_at_highest_score`): its weight can raise it on the other prompts only,
    so its rise is small and its Spearman rests on small differences; a verdict that it does not steer may say there
    is little left to raise rather than that guidance does not follow its weight."""
    verdicts = metrics_verdicts(metrics)
    lines = []
    for name, entry in metrics.get("base_at_highest_score", {}).items():
        if not leaves_little_room(entry):
            continue
        reading = (
            "its verdict may say that there is little left to raise rather than that guidance does not follow its "
            "weight: read its effect and gain at its vertex"
            if verdicts.get(name, "steers") != "steers"
            else "it steers, over a small range"
        )
        lines.append(
            f"- {name}: the unguided model already scores its highest ({entry['highest_score']:.3g}) on "
            f"{entry['share']:.0%} of the test prompts, so its weight can raise it on the rest only: {reading}. "
            "To trade it against the others, test on prompts where the model does not already write it (--prompts), "
            "or use a scorer that grades beyond this ceiling"
        )
    return lines


def fragile_lines(metrics: dict) -> list[str]:
    """A note for each objective whose verdict more than one test-prompt resample in five would turn over
    (`is_fragile_verdict`): the verdict is within the prompts' noise, and more --test_prompts would settle it."""
    verdicts = metrics_verdicts(metrics)
    spearman = metrics.get("spearman_score_vs_weight", {})
    lines = []
    for name, resampled in metrics.get("spearman_over_resampled_prompts", {}).items():
        share = resampled["share_at_least_threshold"]
        if name in verdicts and is_fragile_verdict(verdicts[name] == "steers", spearman.get(name), share):
            lines.append(
                f"- {name}: the verdict is fragile: its Spearman reaches {resampled['threshold']:g} in {share:.0%} "
                "of the test prompts resampled with replacement, so another draw of prompts could turn it over; "
                "measure on more --test_prompts before relying on it (on 48 steering benchmark runs swept again on "
                "48 prompts they had not seen, 7 of 22 fragile verdicts turned over, against 2 of 74 others)"
            )
    return lines
