"""The run's diagnosis before the sweep: held-out pairs for the trainer's evaluation, the guided probe's prompts and
the flags it raises (see `peft_pblora.evaluation.steering_diagnosis`)."""

from __future__ import annotations

import itertools
import json
import logging
import math
import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from datasets import DatasetDict

from ..evaluation.probe_scores import objectives_scored_alike, shares_at_top_where_weight_is_zero
from ..evaluation.steering_diagnosis import (
    base_nll_gaps,
    degenerate_share_of,
    degenerate_shares,
    diagnose,
    empty_answer_shares,
    few_pair_objectives,
    off_language_shares,
    pair_accuracy_at_vertices,
    probe_can_tell,
    probe_effects,
    training_margins,
)
from ..evaluation.steering_flags import ADVICE, DEGENERATE_FLAGS, LEARNED_MARGIN, PROBE_FLAGS

logger = logging.getLogger("peft_pblora.pipeline")

HELD_OUT_EVALUATION_FILE = "held_out_evaluation.json"
NOT_STEERING_FLAGS = {*PROBE_FLAGS, "probe_inconclusive", "probe_cannot_tell"}
STEERING_T_STATISTIC = 2.0  # a probe rise beyond two standard errors, as `diagnose` passes it
MIN_T_GAIN_FOR_WEAKER = 1.0
"""How much a weaker combination of strengths must raise the least-steering objective's probe t statistic to be
chosen over a stronger one that passes as many objectives: a t statistic has a standard error of about one, so a
smaller gain is the probe's noise, no reason to give up the stronger guidance."""


class _RankedCombination(NamedTuple):
    """One probed combination of strengths as `choose_strengths` ranks it."""

    before_the_t_statistics: tuple
    """What ranks first: degenerate vertices and answers, objectives out of sight or blind, objectives passing."""
    ascending_t_statistics: list[float]
    """Its objectives' probe t statistics, least first."""
    choice: tuple[float, ...]
    """Its strengths in objective order."""
    strengths: dict[str, float]
    record: dict

    @property
    def least_t_statistic(self) -> float:
        """The least-steering objective's probe t statistic; 0 without any."""
        return self.ascending_t_statistics[0] if self.ascending_t_statistics else 0.0


def held_out_prompts(train_prompts: Sequence[str], share: float, seed: int) -> list[str]:
    """A seeded `share` of the train prompts whose pairs are kept out of training: at least one when share > 0 and
    there are two or more train prompts, never all of them."""
    if share <= 0:
        return []
    count = max(1, round(share * len(train_prompts)))
    return random.Random(seed).sample(list(train_prompts), min(count, len(train_prompts) - 1))


def choose_probe_prompts(pool: Sequence[str], taken: Sequence[str], count: int, seed: int) -> list[str]:
    """`count` prompts of `pool` that are neither train nor test prompts (a seeded choice); fewer where the pool has
    fewer left."""
    unused = [prompt for prompt in dict.fromkeys(pool) if prompt not in set(taken)]
    return random.Random(seed).sample(unused, min(count, len(unused)))


def split_pairs(data: DatasetDict, objectives: Sequence[str], held_out: Sequence[str]) -> tuple[dict, dict]:
    """Each objective's pairs split by prompt into (train, held out); an objective without held-out pairs gets none.
    Raises a ValueError where holding out would leave an objective no pair to train on."""
    held = set(held_out)
    train, evaluation = {}, {}
    for name in objectives:
        pairs = data[name]
        train[name] = pairs.filter(lambda row: row["prompt"] not in held)
        kept_out = pairs.filter(lambda row: row["prompt"] in held)
        if len(kept_out):
            evaluation[name] = kept_out
        if len(pairs) and not len(train[name]):
            raise ValueError(
                f"every pair of objective {name!r} is on a held-out prompt: lower --held_out_pair_share (0 keeps "
                "every pair for training) or give the objective pairs on more prompts"
            )
    return train, evaluation


def write_held_out_evaluation(adapter_dir: Path, metrics: dict, pairs: dict[str, int]) -> None:
    (adapter_dir / HELD_OUT_EVALUATION_FILE).write_text(json.dumps({"metrics": metrics, "pairs": pairs}, indent=2))


def read_held_out_evaluation(adapter_dirs: dict[str, Path], objectives: Sequence[str]) -> tuple[dict, dict]:
    """Pair accuracy at the vertices and held-out pair counts per objective, from one adapter for all objectives
    (`adapter_dirs` = {"": dir}) or one single-objective adapter per objective ({objective: dir}: its accuracy at
    its own vertex only)."""
    accuracy: dict[str, dict[str, float]] = {}
    pairs: dict[str, int] = {}
    for owner, directory in adapter_dirs.items():
        path = directory / HELD_OUT_EVALUATION_FILE
        if not path.is_file():
            continue
        record = json.loads(path.read_text())
        names = list(objectives) if owner == "" else [owner]
        accuracy.update(pair_accuracy_at_vertices(record["metrics"], names))
        pairs.update({name: int(count) for name, count in record["pairs"].items()})
    return accuracy, pairs


def vertex_scores(objectives: Sequence[str], probe_points: Sequence[dict]) -> list[dict[str, list[float]]]:
    """Per vertex, in objective order, every objective's per-prompt scores (the probe's scored answers)."""
    return [point["per_prompt"] for point in probe_points]


def summed_log_ratio_objectives(
    objectives: Sequence[str],
    mean_rewarded: Sequence[str],
    reference_free: bool,
    reference_relative: Sequence[str],
) -> list[str]:
    """The objectives rewarded by their summed log-ratio to the starting model, whose training margins the diagnosis
    reads: the form the `not_learned` threshold was measured on (a mean reward's margin is per token, and a
    reference-free one starts from the frozen model's own preference). Every objective is reference-relative without
    `reference_free`, else those in `reference_relative`."""
    return [
        name for name in objectives if name not in mean_rewarded and (not reference_free or name in reference_relative)
    ]


def read_training_margins(log_paths: Sequence[Path], objectives: Sequence[str]) -> dict[str, float]:
    """Each objective's reward margin over the last third of training, from the training logs (train_log.json of
    the PARM, or of each ARM); a missing log gives none."""
    margins: dict[str, float] = {}
    for path in log_paths:
        if path.is_file():
            margins.update(training_margins(json.loads(path.read_text()), objectives))
    return margins


def diagnosis_record(
    objectives: Sequence[str],
    probe_prompts: Sequence[str],
    probe_points: Sequence[dict],
    held_out: tuple[dict, dict],
    margins: dict[str, float] | None = None,
    prompts_with_pairs: dict[str, int] | None = None,
    pair_prompts: int | None = None,
    unguided: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """diagnosis.json: the probe's answers and effects, the held-out pair accuracy, the training margins, the prompts
    each objective's training pairs are on (of `pair_prompts`), the frozen base's own answers to the probe prompts
    (`unguided`: their `texts` and `base_nll`, the base's likelihood of them, which the vertices' `quality["base_nll"]`
    is read against) and each objective's flags (the probe's vertices are in objective order, as `Run._diagnose`
    decodes them)."""
    accuracy, pairs = held_out
    effects = probe_effects(vertex_scores(objectives, probe_points), objectives) if probe_points else {}
    degenerate = degenerate_shares(probe_points, objectives) if probe_points else {}
    empty = empty_answer_shares(probe_points, objectives) if probe_points else {}
    diagnoses = diagnose(
        objectives, accuracy, pairs, effects, training_margin=margins, degenerate_share=degenerate,
        empty_answer_share=empty, prompts_with_pairs=prompts_with_pairs, pair_prompts=pair_prompts,
        share_at_top_where_weight_is_zero=shares_at_top_where_weight_is_zero(probe_points, objectives),
        scored_alike=objectives_scored_alike(probe_points, objectives),
        base_nll_gap=base_nll_gaps(probe_points, objectives, (unguided or {}).get("base_nll")),
        off_language_share=off_language_shares(probe_points, objectives),
    )  # fmt: skip
    probe = {"prompts": list(probe_prompts), "effects": effects, "vertices": list(probe_points)}
    if unguided is not None:
        probe["unguided"] = dict(unguided)
    return {
        "objectives": [item.to_dict() for item in diagnoses],
        "probe": probe,
        "pair_accuracy": accuracy,
        "held_out_pairs": pairs,
        "training_margins": margins or {},
        "prompts_with_pairs": prompts_with_pairs or {},
        "pair_prompts": pair_prompts,
    }


def probe_t_statistic(effect: dict[str, float | None]) -> float:
    """A probe effect over its standard error: a rise with no spread is +inf, no change 0, a fall with no spread or a
    non-finite effect or error (a scorer's NaN) -inf, and an effect without an error (one prompt) 0."""
    value, error = effect["effect"], effect["standard_error"]
    if error is None:
        return 0.0
    if not (math.isfinite(value) and math.isfinite(error)):
        return -math.inf
    if error:
        return value / error
    return math.copysign(math.inf, value) if value else 0.0


def diagnosis_with_strength_search(
    objectives: Sequence[str],
    weaker_strengths: Sequence[float],
    stronger_strengths: Sequence[float],
    probe_at: Callable[[float], list[dict]],
    record_of: Callable[[list[dict]], dict],
) -> dict[str, Any]:
    """The diagnosis record (`record_of(vertex points)`) at the strengths the probe finds steer best.

    `probe_at(strength)` answers the probe at every vertex with every objective at that strength. While no objective
    has a probe flag, `probe_inconclusive` or `probe_cannot_tell` at full strength the adapter stays as trained;
    else the probe runs at each of `weaker_strengths` too, and where it cannot judge an objective at full strength
    (`probe_can_tell` false: its answers rarely show it) or finds one inconclusive, at each of `stronger_strengths`
    as well (`objectives_allowed_stronger`);
    `choose_strengths` then picks a strength per objective. The record keeps every strength's probe points
    (`probe_at_strength`), so a changed scorer can choose again without decoding."""
    points_at = {1.0: probe_at(1.0)}
    record = record_of(points_at[1.0])
    not_steering = flagged_objectives(record, NOT_STEERING_FLAGS)
    tried = [*weaker_strengths] if not_steering else []
    tried += [*stronger_strengths] if objectives_allowed_stronger(record) else []
    if points_at[1.0] and tried:
        logger.warning(
            "%s not steering at full strength in the probe: probing every vertex at strengths %s",
            ", ".join(not_steering), ", ".join(f"{level:g}" for level in tried),
        )  # fmt: skip
        points_at.update({level: probe_at(level) for level in tried})
    return choose_strengths(objectives, points_at, record_of)


def choose_strengths(
    objectives: Sequence[str], points_at: dict[float, list[dict]], record_of: Callable[[list[dict]], dict]
) -> dict[str, Any]:
    """The diagnosis record of the best combination of per-objective strengths among those probed (`points_at`:
    strength -> the probe's points at every vertex with every objective at that strength).

    At objective i's vertex only its own strength acts (the adapter there is s_i times its part), so vertex i's
    points at strength s_i give every combination's vertices. The choice is joint, as steering is: an objective's
    probe effect is its rise at its own vertex over the other vertices, which the other objectives' strengths move.
    Only an objective the probe cannot judge or finds inconclusive at full strength (`objectives_allowed_stronger`)
    is guided above it; it is, where that makes it pass the probe or raises the least t statistic by more than
    `MIN_T_GAIN_FOR_WEAKER` (the ranking below). Best: fewest
    degenerate vertices, then the smallest share of degenerate answers at them (an objective that degenerates at every
    strength gets the strength where it degenerates least, even where a stronger one makes more objectives pass the
    probe: a probe that passes at a degenerate vertex is no sign the sweep steers), then fewest objectives kept out of
    the probe's sight (`objectives_out_of_sight`: those it cannot judge in the combination but can, with their vertex
    not degenerate, in one where their own strength is higher; a rare feature weakened until its answers no longer
    show it does not steer), then the objectives the probe cannot judge at any combination
    (`probe_blind_objectives`) nearest the strongest strength probed (their answers rarely show the objective, so a
    weaker strength would be chosen by the others' noise at a cost to it the probe cannot see, and a feature the model
    seldom writes needs the stronger push to show: each is guided at the strongest strength whose vertex does not
    degenerate, even where a weaker one would make another objective pass), then most objectives whose probe t
    statistic passes `STEERING_T_STATISTIC` (so an objective that steers is not weakened for one that no strength makes
    steer), then the largest t statistic of the least-steering objective, where a weaker combination counts as larger
    only by at least `MIN_T_GAIN_FOR_WEAKER` (among those within it of the largest: the largest strength below full
    strength, then the least strength above it, then the largest t statistic of the least-steering objective and,
    where that ties, of the next-least, and so on: its leximin), then the earliest in `points_at`'s order for the
    first objective, then the next. The record adds the strengths chosen
    (`objective_strengths`), every combination's t statistics (`strengths_tried`) and the probe points per strength
    (`probe_at_strength`)."""
    at_full_strength = record_of(points_at[1.0])
    allowed_stronger = objectives_allowed_stronger(at_full_strength)
    combinations = []
    for choice in itertools.product(points_at, repeat=len(objectives)):
        if any(level > 1.0 and name not in allowed_stronger for name, level in zip(objectives, choice, strict=True)):
            continue
        if all(level == 1.0 for level in choice) or not points_at[1.0]:
            record = at_full_strength
        else:
            record = record_of([points_at[level][index] for index, level in enumerate(choice)])
        combinations.append((choice, record, set(unjudged_objectives(record))))
    blind = probe_blind_objectives(objectives, [unseen for _, _, unseen in combinations])
    out_of_sight = objectives_out_of_sight(objectives, combinations)
    levels = list(points_at)
    ranked, tried = [], []
    for (choice, record, _), hidden in zip(combinations, out_of_sight, strict=True):
        strengths = dict(zip(objectives, choice, strict=True))
        statistics = {name: probe_t_statistic(effect) for name, effect in record["probe"]["effects"].items()}
        entry = strengths_entry(strengths, record, statistics)
        steering = sum(value > STEERING_T_STATISTIC for value in statistics.values())
        degenerate_share = round(sum(degenerate_share_of(item) for item in record["objectives"]), 9)
        blind_below_strongest = sum(sum(level > strengths[name] for level in levels) for name in blind)
        before_the_t_statistics = (
            len(entry["degenerate_at_vertex"]), degenerate_share, len(hidden), blind_below_strongest, -steering
        )  # fmt: skip
        ranked.append(
            _RankedCombination(before_the_t_statistics, sorted(statistics.values()), choice, strengths, record)
        )
        tried.append(entry)
    best_before = min(item.before_the_t_statistics for item in ranked)
    contenders = [item for item in ranked if item.before_the_t_statistics == best_before]
    largest_least = max(item.least_t_statistic for item in contenders)
    within_noise = [item for item in contenders if item.least_t_statistic >= largest_least - MIN_T_GAIN_FOR_WEAKER]
    chosen = min(
        within_noise,
        key=lambda item: (
            -sum(min(level, 1.0) for level in item.choice), sum(max(level, 1.0) for level in item.choice),
            tuple(-value for value in item.ascending_t_statistics),
        ),
    )  # fmt: skip
    strengths, record = chosen.strengths, chosen.record
    probed = [{"strength": level, "vertices": points} for level, points in points_at.items()]
    return {**record, "objective_strengths": strengths, "strengths_tried": tried, "probe_at_strength": probed}


def objectives_allowed_stronger(record: dict) -> list[str]:
    """The objectives of a full-strength diagnosis record that may be guided above full strength: those the probe
    cannot judge (`unjudged_objectives`: a feature their answers rarely show) and those it finds inconclusive (a rise
    within two standard errors: guidance too weak to move them clearly, or a rise that starts only at high weights)
    whose training margin, where recorded, reached `LEARNED_MARGIN`. A stronger guidance of a direction the PARM barely
    learned amplifies its noise: on the steering benchmark such a probe passed at twice the strength and the sweep did
    not steer, and the pass hid the `not_learned` flag whose longer training made it steer."""
    margins = record.get("training_margins") or {}
    inconclusive = {
        name
        for name in flagged_objectives(record, ["probe_inconclusive"])
        if margins.get(name, LEARNED_MARGIN) >= LEARNED_MARGIN
    }
    unjudged = set(unjudged_objectives(record))
    return [name for name in record["probe"]["effects"] if name in unjudged or name in inconclusive]


def unjudged_objectives(record: dict) -> list[str]:
    """The objectives of a diagnosis record that its probe cannot judge (`probe_can_tell` false: their answers differ
    between their vertex and the others on too few prompts, none included): the only ones guided above full
    strength."""
    effects = record["probe"]["effects"]
    return [name for name, effect in effects.items() if not probe_can_tell(effect, STEERING_T_STATISTIC)]


def objectives_out_of_sight(objectives: Sequence[str], combinations: Sequence[tuple]) -> list[set[str]]:
    """Per combination `(strengths in objective order, record, unjudged objectives)`, the objectives the probe cannot
    judge there but can, with their vertex not degenerate, in a combination where their own strength is higher. One
    unjudged at a strength no lower than every strength it is judged at is not: nothing stronger would show it."""
    judged_at: dict[str, set[float]] = {name: set() for name in objectives}
    for choice, record, unjudged in combinations:
        degenerate = degenerate_objectives(record)
        for name, level in zip(objectives, choice, strict=True):
            if name not in unjudged and name not in degenerate:
                judged_at[name].add(level)
    return [
        {
            name
            for name, level in zip(objectives, choice, strict=True)
            if name in unjudged and any(higher > level for higher in judged_at[name])
        }
        for choice, _, unjudged in combinations
    ]


def probe_blind_objectives(objectives: Sequence[str], unjudged_by_combination: Sequence[Collection[str]]) -> list[str]:
    """The objectives the probe cannot judge (`unjudged_objectives`, one collection per combination of strengths
    probed) in every combination: at no strength do the probe's answers show them enough to choose a strength by."""
    return [
        name
        for name in objectives
        if unjudged_by_combination and all(name in unjudged for unjudged in unjudged_by_combination)
    ]


def flagged_objectives(record: Mapping[str, Any], flags: Iterable[str]) -> list[str]:
    """The objectives of a diagnosis record flagged with any of `flags`, in its order."""
    wanted = set(flags)
    return [item["objective"] for item in record["objectives"] if wanted & set(item["flags"])]


def degenerate_objectives(record: dict) -> list[str]:
    """The objectives of a diagnosis record whose vertex degenerates (a flag in `DEGENERATE_FLAGS`), in its order."""
    return flagged_objectives(record, DEGENERATE_FLAGS)


def strengths_entry(strengths: dict[str, float], record: dict, statistics: dict[str, float]) -> dict[str, Any]:
    """One probed combination of strengths: its degenerate vertices and its objectives' probe t statistics
    (`statistics`, an infinite one written as None, JSON having no infinity)."""
    return {
        "objective_strengths": strengths,
        "degenerate_at_vertex": degenerate_objectives(record),
        "probe_t_statistics": {name: value if math.isfinite(value) else None for name, value in statistics.items()},
    }


def warn_about_few_pairs(prompts_with_pairs: Mapping[str, int], prompts: int) -> list[str]:
    """One warning per objective flagged `few_pairs` (`few_pair_objectives`: its training pairs on too few of the
    `prompts` they are made from), logged before training starts, so that pairs can be added before the training's
    time is spent; returns the lines."""
    lines = [
        f"objective {name!r}: few_pairs (training pairs on {prompts_with_pairs[name]} of {prompts} prompts): "
        f"{ADVICE['few_pairs']}"
        for name in few_pair_objectives(prompts_with_pairs, prompts)
    ]
    for line in lines:
        logger.warning(line)
    return lines


def warn_about_flags(record: dict) -> list[str]:
    """One line per flagged objective, logged as a warning before the sweep starts; returns the lines."""
    lines = []
    for item in record["objectives"]:
        for flag, advice in zip(item["flags"], item["advice"], strict=True):
            lines.append(f"objective {item['objective']!r}: {flag}: {advice}")
    for line in lines:
        logger.warning(line)
    return lines
