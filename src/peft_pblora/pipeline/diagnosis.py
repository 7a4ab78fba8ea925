"""The run's diagnosis before the sweep: held-out pairs for the trainer's evaluation, the guided probe's prompts and
the flags it raises (see `peft_pblora.evaluation.steering_diagnosis`); `strength_search` chooses the strengths from
it."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from datasets import DatasetDict

from ..evaluation.probe_scores import objectives_scored_alike, shares_at_top_where_weight_is_zero
from ..evaluation.steering_diagnosis import (
    base_nll_gaps,
    degenerate_shares,
    diagnose,
    empty_answer_shares,
    few_pair_objectives,
    off_language_shares,
    pair_accuracy_at_vertices,
    probe_effects,
    training_margins,
)
from ..evaluation.steering_flags import ADVICE, PROBE_FLAGS

logger = logging.getLogger("peft_pblora.pipeline")

HELD_OUT_EVALUATION_FILE = "held_out_evaluation.json"
NOT_STEERING_FLAGS = {*PROBE_FLAGS, "probe_inconclusive", "probe_cannot_tell"}


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


def flagged_objectives(record: Mapping[str, Any], flags: Iterable[str]) -> list[str]:
    """The objectives of a diagnosis record flagged with any of `flags`, in its order."""
    wanted = set(flags)
    return [item["objective"] for item in record["objectives"] if wanted & set(item["flags"])]


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
