"""Checks of one run setting at a time: its type, range, texts, folder and device, each failing with an error that
names the setting; `settings` runs them and the checks between settings."""

from __future__ import annotations

import math
import numbers
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from ..guidance.arguments import MIN_BETA
from ..trainer.parm_config import PREFERENCE_SAMPLING

MAX_GRID_PREFERENCES = 10_000  # a sweep decodes every test prompt at each: more is a typo, not a plan
MAX_STRENGTH_COMBINATIONS = 16384  # the diagnosis scores each combination of per-objective strengths (~8 s)
MAX_SEED = 2**32 - 1  # numpy's seeds, which the trainer sets


@contextmanager
def naming(setting: str) -> Iterator[None]:
    """Lets a ValueError or TypeError raised in the block name `setting` (prefixed where its message does not)."""
    try:
        yield
    except (ValueError, TypeError) as error:
        if setting in str(error):
            raise
        raise type(error)(f"{setting}: {error}") from error


def type_name(hint: Any) -> str:
    """A field's type in words, for errors: 'a whole number', 'a list of texts or None'..."""
    if isinstance(hint, types.UnionType):
        return " or ".join(type_name(option) for option in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return f"a list of {type_name(typing.get_args(hint)[0]).removeprefix('a ')}s"
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "a text", type(None): "None"}
    return words[hint]


def typed(name: str, value: Any, hint: Any) -> Any:
    """`value` as the type `hint` declares (whole numbers become floats where a float is declared, a tuple a list);
    a TypeError naming the setting where it is not of that type."""
    if isinstance(hint, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return typed(name, value, option)
            except TypeError:
                continue
    elif typing.get_origin(hint) is list:
        if isinstance(value, list | tuple):
            return [typed(name, item, typing.get_args(hint)[0]) for item in value]
    elif hint is type(None):
        if value is None:
            return None
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint in (int, float):
        number = numbers.Real if hint is float else numbers.Integral
        if isinstance(value, number) and not isinstance(value, bool):
            try:
                return hint(value)
            except OverflowError:  # an int beyond float's range
                raise ValueError(f"{name} must be a finite number, got an int of {len(str(value))} digits") from None
    elif isinstance(value, hint):
        return value
    raise TypeError(f"{name} must be {type_name(hint)}, got {type(value).__name__} {value!r:.80}")


def check_types(settings: Any) -> None:
    """Every field of the dataclass `settings` of the type it declares (see `typed`), converted in place."""
    hints = typing.get_type_hints(type(settings))
    for item in fields(settings):
        setattr(settings, item.name, typed(item.name, getattr(settings, item.name), hints[item.name]))


def finite(value: float) -> bool:
    """Whether `value` is a finite real; an int beyond float's range is not (as `tuners.pblora.checks.check_real`)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def check_range(name: str, value: float | None, low: float, above: bool = False, high: float | None = None) -> None:
    """`value` (unless None) finite, at least `low` (above it, with `above`) and at most `high`."""
    if value is None:
        return
    low_ok = value > low if above else value >= low
    if not (finite(value) and low_ok and (high is None or value <= high)):
        bounds = f"{'>' if above else '>='} {low!r}" + (f" and <= {high!r}" if high is not None else "")
        kind = "a finite number " if isinstance(value, float) or not finite(value) else ""
        raise ValueError(f"{name} must be {kind}{bounds}, got {value!r:.80}")


def check_texts(name: str, value: str | list[str] | None) -> None:
    """A text setting (or each text of a list setting) is not empty, and a list names nothing twice."""
    texts = [value] if isinstance(value, str) else value or []
    if any(not text.strip() for text in texts):
        raise ValueError(f"{name} must not be empty or blank, got {value!r}")
    repeated = sorted({text for text in texts if texts.count(text) > 1})
    if repeated:
        raise ValueError(f"{name} gives {repeated} twice")


def check_output_dir(output_dir: str) -> None:
    """The run folder is a folder or can be made one: neither it nor a folder above it is a file."""
    if "\0" in output_dir:
        raise ValueError(f"output_dir {output_dir!r} holds a NUL character")
    with naming("output_dir"):
        path = Path(output_dir)
        for place in (path, *path.parents):
            if place.exists() and not place.is_dir():
                raise ValueError(f"output_dir {output_dir!r}: {str(place)!r} is a file, not a folder")


def check_device(device: str | None) -> None:
    """A device torch knows, and for CUDA one this machine has."""
    if device is None:
        return
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as error:
        raise ValueError(f"device {device!r} is not a device: 'cpu', 'cuda', 'cuda:1'... ({error})") from None
    if parsed.type == "cuda" and (not torch.cuda.is_available() or (parsed.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"device {device!r}: no such CUDA device here ({torch.cuda.device_count()} visible)")


def check_grid(step: float, num_objectives: int) -> None:
    """grid_step divides 1 into whole steps, and the sweep's grid is of a size that can be decoded."""
    divisions = round(1 / step)
    if abs(divisions * step - 1) > 1e-9:
        raise ValueError(f"grid_step must divide 1 into whole steps (0.5, 0.25, 0.2, 0.1...), got {step}")
    size = math.comb(divisions + num_objectives - 1, num_objectives - 1)
    if size > MAX_GRID_PREFERENCES:
        raise ValueError(
            f"grid_step {step} gives {size} preferences for {num_objectives} objectives, more than "
            f"{MAX_GRID_PREFERENCES}; take a larger step"
        )


def check_strengths_beside_full(name: str, strengths: list[float], *, weaker: bool) -> None:
    """Strengths tried beside full strength move away from 1, each further than the one before: weaker ones lie in
    (0, 1) and decrease, stronger ones are finite, above 1 and increase."""
    for value in strengths:
        check_range(name, value, 0 if weaker else 1, above=True, high=1 if weaker else None)
    direction = -1.0 if weaker else 1.0
    if any(direction * (later - earlier) <= 0 for earlier, later in zip([1.0, *strengths], strengths, strict=False)):
        trend, side = ("decrease", "below") if weaker else ("increase", "above")
        raise ValueError(f"{name} must {trend} from 1, each {side} the one before; got {strengths}")


def check_strength_combinations(weaker: list[float], stronger: list[float], num_objectives: int) -> None:
    """The diagnosis's combinations of per-objective strengths are few enough to score: (2 + len(weaker) +
    len(stronger)) ** num_objectives where weaker strengths are given (full strength, each strength given, and half
    the weakest, which the search adds where a vertex stays degenerate), (1 + len(stronger)) ** num_objectives where
    only stronger ones are."""
    strengths = [*weaker, *stronger]
    combinations = (1 + len(strengths) + (1 if weaker else 0)) ** num_objectives
    if strengths and combinations > MAX_STRENGTH_COMBINATIONS:
        raise ValueError(
            f"weaker_objective_strengths and stronger_objective_strengths: {len(strengths)} strengths for "
            f"{num_objectives} objectives give up to {combinations} combinations for the diagnosis to score (with "
            f"half the weakest, which the search adds where a vertex stays degenerate), more than "
            f"{MAX_STRENGTH_COMBINATIONS}; give fewer strengths"
        )


def settled(value: list[str] | None, default: list[str]) -> list[str]:
    """A list setting as given, `default` for None, or empty for ["none"] (the command line's way to say none)."""
    if value is None:
        return list(default)
    return [] if value == ["none"] else list(value)


def strengths_by_name(entries: list[str], names: list[str]) -> dict[str, float]:
    """`fixed_objective_strengths` entries (NAME=STRENGTH) as {objective: strength}, every objective of `names`
    present (1 where not named); {} without entries. Raises on an entry that is not NAME=STRENGTH, a name that is
    not an objective, a name given twice or a strength that is not a finite number above 0."""
    if not entries:
        return {}
    strengths = dict.fromkeys(names, 1.0)
    seen = set()
    for entry in entries:
        name, separator, value = str(entry).rpartition("=")
        if not separator:
            raise ValueError(f"fixed_objective_strengths takes NAME=STRENGTH entries, got {entry!r}")
        if name not in names:
            raise ValueError(f"fixed_objective_strengths names {name!r}, which is not an objective {names}")
        if name in seen:
            raise ValueError(f"fixed_objective_strengths gives {name!r} twice")
        seen.add(name)
        try:
            strength = float(value)
        except ValueError:
            raise ValueError(f"fixed_objective_strengths: {name}'s strength must be a number, got {value!r}") from None
        check_range(f"fixed_objective_strengths ({name})", strength, 0, above=True)
        strengths[name] = strength
    return strengths


def check_own_direction_retraining(settings: Any) -> None:
    """`retrain_only_not_learned` continues a PARM's per-objective core: it needs the longer epochs, one adapter whose
    objectives own their directions, and nothing else."""
    if settings.epochs_if_not_learned is None:
        raise ValueError(
            "retrain_only_not_learned says how the longer training of epochs_if_not_learned trains; set "
            "epochs_if_not_learned too"
        )
    if settings.method != "parm" or settings.core != "per_objective":
        raise ValueError(
            "retrain_only_not_learned trains the flagged objectives' own directions of the per-objective core: it "
            f"needs method 'parm' and core 'per_objective', got method {settings.method!r} and core {settings.core!r}"
        )


def check_values(settings: Any) -> None:
    """The checks of `RunSettings` one setting at a time (ranges, choices, texts); those between settings are in its
    __post_init__."""
    check_texts("output_dir", settings.output_dir)
    check_output_dir(settings.output_dir)
    for name in ("base_model", "parm_model", "prompts", "prompts_split", "objectives", "target_modules"):
        check_texts(name, getattr(settings, name))
    for name in ("preference_pairs", "sampling_system_prompts", "length_normalized_rewards", "length_matched"):
        check_texts(name, getattr(settings, name))
    for name in ("reference_relative_rewards", "whole_samples_only", "score_matched", "system_prompted_objectives"):
        check_texts(name, getattr(settings, name))
    if not settings.target_modules:
        raise ValueError("target_modules must name at least one layer")
    for name in ("train_prompts", "test_prompts", "sample_tokens", "sample_batch_size", "sweep_tokens"):
        check_range(name, getattr(settings, name), 1)
    for name in ("sweep_batch_size", "parm_layers", "r2", "max_length"):
        check_range(name, getattr(settings, name), 2 if name == "max_length" else 1)
    check_range("samples_per_prompt", settings.samples_per_prompt, 2)
    more = settings.more_samples_if_few_pairs
    if more != 0 and not (finite(more) and more >= 2):
        raise ValueError(
            f"more_samples_if_few_pairs must be 0 (never) or at least 2 answers per prompt, got {more!r:.80}"
        )
    check_range("r1", settings.r1, 0)
    check_range("seed", settings.seed, 0, high=MAX_SEED)
    check_range("train_seed", settings.train_seed, 0, high=MAX_SEED)
    check_range("min_train_steps", settings.min_train_steps, 1)
    for name in ("epochs", "learning_rate", "dirichlet_concentration", "lora_alpha"):
        check_range(name, getattr(settings, name), 0, above=True)
    longer = settings.epochs_if_not_learned
    if longer is not None and not (finite(longer) and longer > settings.epochs):
        raise ValueError(
            f"epochs_if_not_learned must be more than epochs ({settings.epochs:g}): the longer training an objective "
            f"the PARM did not learn gets; got {longer!r:.80}"
        )
    if settings.retrain_only_not_learned:
        check_own_direction_retraining(settings)
    if settings.word_choice_pairs_unfinished and settings.word_choice_pairs is not True:
        raise ValueError("word_choice_pairs_unfinished says how the word-choice pairs end: set word_choice_pairs too")
    if settings.word_choice_weight_share is not None:
        if settings.word_choice_pairs is not True:
            raise ValueError("word_choice_weight_share bounds the word-choice pairs: set word_choice_pairs too")
        check_range("word_choice_weight_share", settings.word_choice_weight_share, 0, above=True)
    check_range("guidance_beta", settings.guidance_beta, MIN_BETA)  # guided decoding's own lower bound on beta
    check_strengths_beside_full("weaker_objective_strengths", settings.weaker_objective_strengths, weaker=True)
    check_strengths_beside_full("stronger_objective_strengths", settings.stronger_objective_strengths, weaker=False)
    if settings.guidance_plausibility is not None:
        check_range("guidance_plausibility", settings.guidance_plausibility, 0, above=True, high=1)
    check_range("grid_step", settings.grid_step, 0, above=True, high=1)
    check_range("max_length_ratio", settings.max_length_ratio, 1)
    check_range("max_score_difference", settings.max_score_difference, 0)
    check_range("word_choice_pair_weight", settings.word_choice_pair_weight, 0)
    for value in settings.beta_r or []:
        check_range("beta_r", value, 0, above=True)
    if settings.preference_sampling is not None and settings.preference_sampling not in PREFERENCE_SAMPLING:
        raise ValueError(
            f"preference_sampling must be one of {PREFERENCE_SAMPLING} (or None), got {settings.preference_sampling!r}"
        )
    check_device(settings.device)
