"""More candidate answers for the objectives whose pairs cover few prompts.

An objective the model seldom varies on (a feature it rarely writes, such as asides in parentheses) gets pairs on a
handful of prompts from four samples each, and the PARM learns it from those few pairs repeated. More answers per
prompt give it pairs on more prompts. Only the objectives that had few pairs pair the extra answers: the others keep
the pairs the first samples give. `build_preference_data` samples them (`more_samples_if_few_pairs`); this module
holds how they are marked in the candidates cache and which objectives may use them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from datasets import DatasetDict, load_from_disk

from ..evaluation.steering_diagnosis import FEW_PAIRS_SHARE, few_pair_objectives
from .pairing import (
    PairingOptions,
    objective_dataset,
    objective_pair_positions,
    side_shares,
    with_pairing_read,
)

MORE_SAMPLES_PAIR_SHARE = FEW_PAIRS_SHARE
"""An objective whose pairs among the first answers cover fewer than this share of the prompts pairs the extra answers:
the `few_pairs` flag's eighth. Half was tried on the steering benchmark: on the runs it was chosen on, words of the
senses and reasons steered more often with it; on twenty-one runs of objectives it was not chosen on it made 40 of 42
objective-runs steer against 38 on the benchmark's test prompts, but 39 of 42 against 41 on 48 prompts those runs had
not swept, and examples lost its steering at two seeds of three on both."""

MORE_SAMPLES_COLUMN = "more_samples"
"""The candidates cache's column saying, per prompt and candidate, whether it is one of the extra answers."""
MORE_SAMPLES_RECORD = "more_samples.json"
"""Beside the cached candidates: how many extra answers per prompt were sampled ({"per_prompt": N})."""


def more_samples_mask(cache_dir: str | Path) -> list[list[bool]]:
    """Per prompt and cached candidate, whether it is an extra answer (all False in a cache without extras)."""
    cached = load_from_disk(str(cache_dir))
    if MORE_SAMPLES_COLUMN in cached.column_names:
        return [list(row) for row in cached[MORE_SAMPLES_COLUMN]]
    return [[False] * len(row) for row in cached["responses"]]


def more_samples_per_prompt(cache_dir: str | Path) -> int:
    """How many extra answers per prompt the cache's extras were sampled as (0: none)."""
    path = Path(cache_dir) / MORE_SAMPLES_RECORD
    return int(json.loads(path.read_text())["per_prompt"]) if path.is_file() else 0


def write_more_samples_record(cache_dir: str | Path, per_prompt: int) -> None:
    """Records how many extra answers per prompt the cache holds (`MORE_SAMPLES_RECORD`)."""
    (Path(cache_dir) / MORE_SAMPLES_RECORD).write_text(json.dumps({"per_prompt": per_prompt}))


def without_extras(rows: Sequence[Sequence[Any]], marks: Sequence[Sequence[bool]]) -> list[list[Any]]:
    """Each prompt's entries (answers, scores, mask values, system prompts) but for the extra answers'."""
    return [
        [entry for entry, extra in zip(row, row_marks, strict=True) if not extra]
        for row, row_marks in zip(rows, marks, strict=True)
    ]


def with_extra_answers(
    first: Sequence[Sequence[str]], extra: Sequence[Sequence[str]]
) -> tuple[list[list[str]], list[list[bool]]]:
    """Each prompt's first candidates, then its extra answers not among them (each distinct answer once), and per
    candidate whether it is an extra one."""
    candidates, marks = [], []
    for answers, more in zip(first, extra, strict=True):
        merged = dict.fromkeys(answers, False)
        for answer in more:
            merged.setdefault(answer, True)
        candidates.append(list(merged))
        marks.append(list(merged.values()))
    return candidates, marks


def prompts_with_pairs(
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    pairing: PairingOptions,
    usable: Mapping[str, Sequence[Sequence[bool]]],
) -> dict[str, set[str]]:
    """The prompts that give each objective a pair among the candidates it may use (`pairing` with its read choices
    filled in, as `with_pairing_read` returns it)."""
    paired = {}
    for name in scores:
        positions = objective_pair_positions(name, responses, scores, pairing, usable[name])
        paired[name] = {prompts[index] for index, *_ in positions}
    return paired


def objectives_with_few_pairs(
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    pairing: PairingOptions,
    usable: Mapping[str, Sequence[Sequence[bool]]],
    prompts_held_out: Collection[str] = (),
    share: float = MORE_SAMPLES_PAIR_SHARE,
) -> list[str]:
    """The objectives whose pairs among the candidates they may use, with what `pairing` leaves to the candidates
    read from them, cover fewer than `share` of the prompts they train on, counting distinct prompts.

    The pairs of `prompts_held_out` do not train where every objective has a pair among them; where one has none,
    training keeps every pair (as the end-to-end run's `training_pairs` does), and every prompt counts. Read here
    from the candidates given, before any extra answers join an objective's pairs."""
    read = with_pairing_read(pairing, prompts, responses, scores, usable)
    paired = prompts_with_pairs(prompts, responses, scores, read, usable)
    held_out = set(prompts_held_out) & set(prompts)
    split_kept = bool(held_out) and all(covered & held_out for covered in paired.values())
    counted = set(prompts) - held_out if split_kept else set(prompts)
    covered_counts = {name: len(covered & counted) for name, covered in paired.items()}
    return few_pair_objectives(covered_counts, len(counted), share)


def first_answers(
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    usable: Mapping[str, Sequence[Sequence[bool]]],
    extra: Sequence[Sequence[bool]],
) -> tuple[list[list[str]], dict[str, list[list[float]]], dict[str, list[list[bool]]]]:
    """The candidates, their scores and the usable masks with the extra answers left out."""
    return (
        without_extras(responses, extra),
        {name: without_extras(values, extra) for name, values in scores.items()},
        {name: without_extras(mask, extra) for name, mask in usable.items()},
    )


def usable_masks(
    responses: Sequence[Sequence[str]],
    objectives: Sequence[str],
    usable: Mapping[str, Sequence[Sequence[bool]]] | None,
    extra: Sequence[Sequence[bool]],
    extra_for: Sequence[str],
) -> dict[str, list[list[bool]]]:
    """Per objective, the candidates its pairs may use: those `usable` allows (None: all), the extra answers only for
    the objectives in `extra_for`."""
    usable = usable or {}
    masks = {}
    for name in objectives:
        allowed = usable.get(name) or [[True] * len(row) for row in responses]
        masks[name] = [
            [keep and (name in extra_for or not is_extra) for keep, is_extra in zip(row, marks, strict=True)]
            for row, marks in zip(allowed, extra, strict=True)
        ]
    return masks


def pairs_with_extras_for(
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    pairing: PairingOptions,
    usable: Mapping[str, Sequence[Sequence[bool]]],
    extra: Sequence[Sequence[bool]],
    extra_for: Sequence[str],
) -> tuple[DatasetDict, PairingOptions, dict[str, dict[str, float]]]:
    """Every objective's pairs (`objective_dataset`), the objectives in `extra_for` among all the candidates `usable`
    allows them, the others among the first answers only, as if the extras did not exist: what `pairing` leaves to
    the candidates (whole samples only, score matching) and the side shares are read the same way. Returns the pairs,
    the pairing with those choices filled in, and the side shares."""
    pairing.check_objectives(list(scores))
    views = {False: first_answers(responses, scores, usable, extra)}
    if extra_for:  # read over every candidate only where an objective pairs the extras
        views[True] = (responses, scores, usable)
    reads = {key: with_pairing_read(pairing, prompts, *view) for key, view in views.items()}
    shares = {key: side_shares(*view[:2], reads[key], view[2]) for key, view in views.items()}

    def read_for(name: str) -> PairingOptions:
        return reads[name in extra_for]

    chosen = replace(
        pairing,
        whole_samples_only=[name for name in scores if name in read_for(name).whole_samples_only],
        score_matched=[name for name in scores if name in read_for(name).score_matched],
    )
    datasets = {}
    for name in scores:
        view_responses, view_scores, view_usable = views[name in extra_for]
        datasets[name] = objective_dataset(name, prompts, view_responses, view_scores, chosen, view_usable[name])
    return DatasetDict(datasets), chosen, {name: shares[name in extra_for][name] for name in scores}
