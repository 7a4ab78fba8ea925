"""PARMConfig: training arguments of the PARMTrainer, on TRL's configuration base."""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from trl.trainer.base_config import _BaseConfig

from ..tuners.pblora.checks import (
    check_choice,
    check_int,
    check_names,
    check_optional_length,
    check_positive_reals,
    check_real,
)
from ..tuners.pblora.preference import validate_preference
from .loss import LOSS_TYPES, SCALARIZATIONS

PREFERENCE_SAMPLING = ("batch", "example", "importance")


@dataclass
class PARMConfig(_BaseConfig):
    """Configuration of the `PARMTrainer`: TRL's configuration base (`transformers.TrainingArguments` with TRL's
    defaults) plus the PARM objective.

    This class holds only the settings specific to PARM training; for the rest (learning rate, batch size, epochs,
    saving, logging...) see `transformers.TrainingArguments`. Fields TRL's `DPOConfig` / `RewardConfig` also have
    keep TRL's names and defaults (`model_init_kwargs`, `disable_dropout`, `dataset_num_proc`, `max_length`,
    `precompute_ref_log_probs`, `precompute_ref_batch_size`), except `precompute_ref_log_probs`, on by default here.
    Defaults differ from TrainingArguments as TRL's trainers do: logging every 10 steps, activation checkpointing on,
    unused columns kept; bf16 is on only where a CUDA device is present (TRL: wherever fp16 is not set). With
    `trl.TrlParser` (or `transformers.HfArgumentParser`) it becomes command-line arguments: dict fields take a JSON
    string (`--label_columns '{"helpful": "better_response_id"}'`), `eval_preferences` takes numbers read k at a time
    (`--eval_preferences 1 0 0.5 0.5`), comma-joined vectors (`1,0 0.5,0.5`) or JSON (`'[[1, 0], [0.5, 0.5]]'`).

    Args:
        beta_r (list[float] | float, optional):
            Bradley-Terry temperature of the reward margin: one value for every objective, or one per objective in
            alpha order (PARM: 0.01; GenARM: 0.5 helpful / 0.01 harmless on PKU-SafeRLHF). Defaults to `[0.01]`.
        reference_free (bool, optional):
            `True` (the paper): reward = summed log pi_PARM(response). `False`: reward = summed log pi_PARM -
            log pi_ref, the reference being the PARM's own model with the adapter disabled (DPO's implicit reward).
            Defaults to `True`.
        reference_relative_rewards (list[str], optional):
            Objectives whose reward subtracts the reference (as `reference_free=False` does for all), for an
            objective whose pairs differ in many ways besides it.
        precompute_ref_log_probs (bool, optional):
            Where a reward subtracts the reference, score every response under it once before training and keep the
            rewards as dataset columns, instead of one extra forward per step. Defaults to `True` (TRL: `False`): the
            reference is the PARM's own model with the adapter disabled, so precomputing costs no extra memory and is
            exact.
        precompute_ref_batch_size (int, optional):
            Batch size of that pass; defaults to `per_device_train_batch_size` for the training set and
            `per_device_eval_batch_size` for evaluation sets, as in TRL.
        length_normalized_rewards (list[str], optional):
            Objectives whose reward is the mean instead of the sum of the response's token log-probabilities, for an
            objective correlated with length (conciseness).
        dirichlet_concentration (float, optional):
            Training preferences are drawn as alpha ~ Dirichlet(c * ones(k)); 0.5 (official) favours the vertices.
            Defaults to `0.5`.
        preference_sampling (str, optional):
            `"batch"`: one alpha per micro-batch (the paper); `"example"`: one per example; `"importance"`: one per
            pair, tilted towards the pair's own objective and importance-weighted (linear scalarization only).
            Defaults to `"batch"`.
        loss_type (str, optional):
            `"sigmoid"`: each objective's Bradley-Terry loss -log sigmoid(beta_r * margin) (the paper); `"ipo"`:
            (margin - 1 / (2 beta_r))^2 on the summed rewards, which holds every objective's learned margin near
            1 / (2 beta_r) instead of widening it without bound on an objective that is easy to learn. The names of
            TRL's `DPOConfig.loss_type`, one type here.
            Defaults to `"sigmoid"`.
        scalarization (str, optional):
            `"linear"`: sum_i alpha_i L_i (the paper); `"tchebycheff"`: max_i alpha_i L_i, which also reaches
            non-convex parts of a Pareto front. Defaults to `"linear"`.
        objective_names (list[str], optional):
            Objectives in alpha order. Defaults to the `train_dataset` dict's key order, or `label_columns`' order for
            a multi-label dataset. Saved in the adapter config so inference uses the same order.
        label_columns (dict[str, str] | str, optional):
            For one multi-label dataset (prompt, response_0, response_1): objective -> column holding the index (0/1)
            of the preferred response, e.g. `{"helpful": "better_response_id", "harmless": "safer_response_id"}`; a
            JSON string of that mapping on the command line.
        max_prompt_length (int | None, optional):
            Prompt tokens kept (the last ones); `None` keeps all, else at least 1. Defaults to `512`.
        max_length (int | None, optional):
            Prompt + response tokens kept; the response is cut to fit. `None` keeps all, else at least 1 (it may be
            below `max_prompt_length`, as with TRL: prompts are often shorter); a pair whose prompt leaves no room,
            or whose responses become identical when cut, is refused when the trainer tokenizes the data, naming
            the row. Defaults to `1024`.
        eval_preferences (list[list[float]] | list[float] | str, optional):
            Preferences to evaluate at; defaults to the simplex vertices and its centre. A flat list of numbers is
            read k at a time (k: `objective_names` or `label_columns` where given, else the trainer's objectives); a
            string is JSON or such numbers.
        model_init_kwargs (dict | str, optional):
            Keyword arguments for `from_pretrained` when the trainer's `model` is a name or path (a JSON string on
            the command line); `dtype` defaults to float32, as in TRL.
        disable_dropout (bool, optional):
            Turn every dropout of the model off, PBLoRA's `lora_dropout` included, so that the two responses of a
            pair are scored by the same function (as TRL's DPO and reward trainers). Defaults to `True`.
        dataset_num_proc (int, optional):
            Processes of `datasets.map` when the trainer tokenizes the data. Defaults to `None` (one).
        logging_steps (float, optional):
            Log every X update steps. Defaults to `10`.
        bf16 (bool, optional):
            bf16 mixed precision; defaults to `True` where CUDA is available and fp16 is not set (TRL: wherever fp16
            is not set, which would make CPU runs bf16).
        activation_checkpointing (bool, optional):
            Defaults to `True`, as TRL; set through this name (TRL's base still sets the deprecated
            `gradient_checkpointing`, which warns on transformers 5).
        remove_unused_columns (bool, optional):
            Kept `False`: the PARM collator needs its own columns. Defaults to `False`.

    Raises:
        TypeError: If a PARM field has the wrong type (`beta_r="0.1"`, `max_length=2.5`, `objective_names="ab"`).
        ValueError: If `beta_r` or `dirichlet_concentration` is not positive and finite, a length is below 1,
            `preference_sampling` / `scalarization` is unknown or the two do not go together, a dict field's string
            is not a JSON object, or `eval_preferences` are not points of one simplex.

    Examples:
        >>> from peft_pblora import PARMConfig
        >>> args = PARMConfig(output_dir="parm", beta_r=[0.5, 0.01], preference_sampling="importance")
        >>> args.beta_r_per_objective(2), args.activation_checkpointing, args.logging_steps
        ([0.5, 0.01], True, 10)
        >>> PARMConfig(output_dir="parm", beta_r=0.1).beta_r_per_objective(3)  # one value for every objective
        [0.1, 0.1, 0.1]
        >>> args = PARMConfig(output_dir="parm",
        ...     label_columns='{"a": "a_id", "b": "b_id"}', eval_preferences="1 0 .5 .5")
        >>> args.label_columns, args.eval_preferences  # the command line's forms; k = 2 from label_columns
        ({'a': 'a_id', 'b': 'b_id'}, [[1.0, 0.0], [0.5, 0.5]])
    """

    _VALID_DICT_FIELDS = _BaseConfig._VALID_DICT_FIELDS + ["model_init_kwargs"]

    beta_r: list[float] = field(
        default_factory=lambda: [0.01],
        metadata={
            "help": "Bradley-Terry temperature of the reward margin: one value for every objective, or one per "
            "objective in alpha order (PARM: 0.01; GenARM: 0.5 helpful / 0.01 harmless on PKU-SafeRLHF). A float is "
            "taken as a one-value list."
        },
    )
    reference_free: bool = field(
        default=True,
        metadata={
            "help": "True (the paper): reward = summed log pi_PARM(response). False: reward = summed log pi_PARM - "
            "log pi_ref, the reference being the PARM's own model with the adapter disabled (DPO's implicit reward): "
            "every response starts at reward 0, so the prior's preference for short answers does not decide a "
            "margin before training. Costs one forward without gradients per response (precompute_ref_log_probs)."
        },
    )
    reference_relative_rewards: list[str] | None = field(
        default=None,
        metadata={
            "help": "Objectives whose reward subtracts the reference (as reference_free=False does for all): for "
            "an objective whose pairs differ in many ways besides it (tone between two different answers), the "
            "reference cancels the likelihood differences that would otherwise set its margins."
        },
    )
    precompute_ref_log_probs: bool = field(
        default=True,
        metadata={
            "help": "Where a reward subtracts the reference, score every response under it (the adapter disabled, a "
            "frozen model) once before training and keep the rewards as dataset columns, instead of one extra "
            "forward per step. Exact: the reference does not change in training. TRL's name; on by default here."
        },
    )
    precompute_ref_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Batch size of the reference pass; None: per_device_train_batch_size for the training set, "
            "per_device_eval_batch_size for evaluation sets."
        },
    )
    length_normalized_rewards: list[str] | None = field(
        default=None,
        metadata={
            "help": "Objectives whose reward is the mean instead of the sum of the response's token log-probabilities "
            "(the paper sums for all). A summed reward favours short answers before any training, so for an "
            "objective correlated with length (conciseness) its margin is set by length alone and saturates."
        },
    )
    dirichlet_concentration: float = field(
        default=0.5,
        metadata={"help": "alpha ~ Dirichlet(c * ones(k)); 0.5 (official) puts mass near the simplex vertices."},
    )
    preference_sampling: str = field(
        default="batch",
        metadata={
            "help": "'batch': one alpha per micro-batch for all its examples (paper); 'example': one each; "
            "'importance': one per pair, drawn tilted towards the pair's own objective and importance-weighted, so "
            "the expected linear loss is the paper's but no pair is drawn at a weight near 0."
        },
    )
    loss_type: str = field(
        default="sigmoid",
        metadata={
            "help": "'sigmoid': each objective's Bradley-Terry loss -log sigmoid(beta_r * margin) (the paper); "
            "'ipo': (margin - 1/(2 beta_r))^2 on the summed rewards, which holds every objective's learned margin "
            "near 1/(2 beta_r) instead of widening it without bound on an objective that is easy to learn."
        },
    )
    scalarization: str = field(
        default="linear",
        metadata={
            "help": "'linear': sum_i alpha_i L_i (the paper); 'tchebycheff': max_i alpha_i L_i, which also reaches "
            "non-convex parts of a Pareto front."
        },
    )
    objective_names: list[str] | None = field(
        default=None,
        metadata={
            "help": "Objectives in alpha order. Defaults to the train_dataset dict's key order, or label_columns' "
            "order for a multi-label dataset. Saved in the adapter config so inference uses the same order."
        },
    )
    train_only_objectives: list[str] | None = field(
        default=None,
        metadata={
            "help": "Train only these objectives' own directions of a per-objective PBLoRA core (their rows of A, "
            "columns of B and blocks of G); every other entry of the adapter keeps the value it starts with, exactly. "
            "For training on from a saved PARM where one objective was not learned, without training the others "
            "past what served them. None: train everything."
        },
    )
    label_columns: dict[str, str] | str | None = field(
        default=None,
        metadata={
            "help": "For one multi-label dataset (prompt, response_0, response_1): objective -> column holding the "
            "index (0/1) of the preferred response, as a JSON string on the command line, e.g. "
            '\'{"helpful": "better_response_id", "harmless": "safer_response_id"}\'.'
        },
    )
    max_prompt_length: int | None = field(
        default=512, metadata={"help": "Prompt tokens kept (the last ones), at least 1; None keeps all."}
    )
    max_length: int | None = field(
        default=1024,
        metadata={
            "help": "Prompt + response tokens kept; the response is cut to fit. At least 1; None keeps all. A pair "
            "left with no response token, or whose responses become identical when cut, is refused when the data "
            "is tokenized."
        },
    )
    eval_preferences: list[list[float]] | str | None = field(
        default=None,
        metadata={
            "help": "Preferences to evaluate at (default: the simplex vertices and its centre): numbers read k at a "
            "time (1 0 0.5 0.5), comma-joined vectors (1,0 0.5,0.5) or JSON ('[[1, 0], [0.5, 0.5]]').",
            "nargs": "+",  # several words on the command line; HfArgumentParser passes metadata to add_argument
        },
    )
    model_init_kwargs: dict[str, Any] | str | None = field(
        default=None,
        metadata={
            "help": "Keyword arguments for from_pretrained when the trainer's `model` is a name or path, as a JSON "
            "string on the command line; dtype defaults to float32."
        },
    )
    disable_dropout: bool = field(
        default=True,
        metadata={
            "help": "Turn every dropout of the model off (PBLoRA's lora_dropout included), so both responses of a "
            "pair are scored by the same function."
        },
    )
    dataset_num_proc: int | None = field(
        default=None, metadata={"help": "Number of processes of datasets.map when the data is tokenized."}
    )
    logging_steps: float = field(default=10, metadata={"help": "Log every X update steps."})
    activation_checkpointing: bool | None = field(
        default=None,
        metadata={
            "help": "Recompute activations in backward to save memory (~20%% slower). Defaults to True, as TRL."
        },
    )
    gradient_checkpointing: bool | None = field(
        default=None,
        metadata={"help": "Deprecated alias of activation_checkpointing (transformers 5), will be removed in v6."},
    )
    bf16: bool | None = field(
        default=None,
        metadata={"help": "bf16 mixed precision; defaults to True where CUDA is available and fp16 is not set."},
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Kept False: the PARM collator needs its own columns."}
    )

    def __post_init__(self) -> None:
        if self.activation_checkpointing is None and self.gradient_checkpointing is None:
            self.activation_checkpointing = True  # TRL's default: recompute activations in backward to save memory
        if self.bf16 is None:
            self.bf16 = torch.cuda.is_available() and not self.fp16
        super().__post_init__()
        self.beta_r = check_positive_reals(self.beta_r, "beta_r")
        self.dirichlet_concentration = check_real(
            self.dirichlet_concentration, "dirichlet_concentration", positive=True
        )
        self.max_prompt_length = check_optional_length(self.max_prompt_length, "max_prompt_length")
        self.max_length = check_optional_length(self.max_length, "max_length")
        if self.dataset_num_proc is not None:
            self.dataset_num_proc = check_int(self.dataset_num_proc, "dataset_num_proc", minimum=1)
        if self.precompute_ref_batch_size is not None:
            self.precompute_ref_batch_size = check_int(
                self.precompute_ref_batch_size, "precompute_ref_batch_size", minimum=1
            )
        if self.objective_names is not None:
            self.objective_names = check_names(self.objective_names, "objective_names")
        if self.train_only_objectives is not None:
            self.train_only_objectives = check_names(
                self.train_only_objectives, "train_only_objectives", allow_str=True
            )
        if self.length_normalized_rewards is not None:
            self.length_normalized_rewards = check_names(
                self.length_normalized_rewards, "length_normalized_rewards", allow_str=True
            )
        if self.reference_relative_rewards is not None:
            self.reference_relative_rewards = check_names(
                self.reference_relative_rewards, "reference_relative_rewards", allow_str=True
            )
        if isinstance(self.model_init_kwargs, str):  # a JSON object was parsed by TrainingArguments
            raise ValueError(f"model_init_kwargs must be a dict or a JSON object, got {self.model_init_kwargs!r}")
        if isinstance(self.label_columns, str):
            self.label_columns = parse_json_object(self.label_columns, "label_columns")
        if self.label_columns is not None:
            if not isinstance(self.label_columns, Mapping) or not all(
                isinstance(key, str) and isinstance(value, str) for key, value in self.label_columns.items()
            ):
                raise TypeError(f"label_columns must map objective names to column names, got {self.label_columns!r}")
            if not self.label_columns:
                raise ValueError("label_columns must name at least one objective, got {}")
        if self.eval_preferences is not None:
            known_k = len(self.objective_names or self.label_columns or []) or None
            self.eval_preferences = parse_eval_preferences(self.eval_preferences, known_k)
        check_choice(self.preference_sampling, "preference_sampling", PREFERENCE_SAMPLING)
        check_choice(self.scalarization, "scalarization", SCALARIZATIONS)
        check_choice(self.loss_type, "loss_type", LOSS_TYPES)
        if self.preference_sampling == "importance" and self.scalarization != "linear":
            raise ValueError(
                "preference_sampling='importance' keeps the expected loss only for a linear scalarization, "
                f"got scalarization={self.scalarization!r}"
            )

    def eval_preferences_for(self, num_objectives: int) -> list[list[float]] | None:
        """eval_preferences as k-vectors (a flat list is read k at a time); None where they are not set."""
        if self.eval_preferences is None:
            return None
        return parse_eval_preferences(self.eval_preferences, num_objectives)

    def beta_r_per_objective(self, num_objectives: int) -> list[float]:
        """beta_r as one value per objective; raises if it has neither one value nor one per objective."""
        if len(self.beta_r) == 1:
            return [float(self.beta_r[0])] * num_objectives
        if len(self.beta_r) != num_objectives:
            raise ValueError(f"beta_r has {len(self.beta_r)} values but there are {num_objectives} objectives")
        return [float(value) for value in self.beta_r]

    def length_normalized_per_objective(self, objectives: list[str]) -> list[bool]:
        """Whether each objective's reward is length-normalised; raises on a name that is not an objective."""
        return objectives_named(self.length_normalized_rewards, objectives, "length_normalized_rewards")

    def reference_relative_per_objective(self, objectives: list[str]) -> list[bool]:
        """Whether each objective's reward subtracts the reference (all of them when reference_free is False)."""
        if not self.reference_free:
            return [True] * len(objectives)
        return objectives_named(self.reference_relative_rewards, objectives, "reference_relative_rewards")


def parse_json_object(value: str, name: str) -> dict:
    """A dict field given as a string (the command line's form): it must be a JSON object."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(f'{name} must be a JSON object such as \'{{"a": "b"}}\', got {value!r}: {error}') from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{name} must be a JSON object, got {value!r}")
    return parsed


def _words_to_numbers(words: list[str], name: str) -> list[float]:
    values = []
    for word in words:
        try:
            values.append(float(word))
        except ValueError:
            raise ValueError(f"{name}: {word!r} is not a number") from None
    return values


def parse_eval_preferences(value: Any, num_objectives: int | None) -> list[list[float]] | list[float]:
    """eval_preferences in any accepted form, as k-vectors checked to lie on one simplex.

    Forms: a list of vectors; a flat list of numbers, read `num_objectives` at a time (kept flat, checked as numbers
    only, while k is unknown); a string holding JSON or numbers; the command line's words (`["1", "0", "0.5", "0.5"]`,
    `["1,0", "0.5,0.5"]` or one JSON word).
    """
    name = "eval_preferences"
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, str) for item in value):
        if len(value) == 1 and value[0].strip().startswith("["):
            try:
                value = json.loads(value[0])
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{name} must be JSON such as '[[1, 0], [0.5, 0.5]]', got {value[0]!r}: {error}"
                ) from None
        elif any("," in word for word in value):
            value = [_words_to_numbers(word.replace(",", " ").split(), name) for word in value]
        else:
            value = _words_to_numbers(" ".join(value).split(), name)
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of preference vectors, got {value!r}")
    if not value:
        raise ValueError(f"{name} must hold at least one preference vector, got []")
    if all(isinstance(item, numbers.Real) and not isinstance(item, bool) for item in value):
        flat = [float(item) for item in value]
        if num_objectives is None:
            return flat  # read k at a time once the trainer knows the objectives
        if len(flat) % num_objectives:
            raise ValueError(
                f"{name} holds {len(flat)} numbers, not a whole number of preferences of {num_objectives} objectives"
            )
        value = [flat[start : start + num_objectives] for start in range(0, len(flat), num_objectives)]
    check_eval_preferences(value)
    if num_objectives is not None and len(value[0]) != num_objectives:
        raise ValueError(f"{name} entries have {len(value[0])} weights but there are {num_objectives} objectives")
    return [[float(weight) for weight in entry] for entry in value]


def check_eval_preferences(eval_preferences: object) -> None:
    """Each entry of eval_preferences must be a point of one simplex (same k for all)."""
    if isinstance(eval_preferences, (str, bytes)) or not isinstance(eval_preferences, (list, tuple)):
        raise TypeError(f"eval_preferences must be a list of preference vectors, got {eval_preferences!r}")
    if not eval_preferences:
        raise ValueError("eval_preferences must hold at least one preference vector, got []")
    first = eval_preferences[0]
    k = len(first) if isinstance(first, (list, tuple)) else 0
    for entry in eval_preferences:
        if not isinstance(entry, (list, tuple)) or any(isinstance(w, bool) for w in entry):
            raise TypeError(f"eval_preferences entries must be lists of numbers, got {entry!r}")
        validate_preference(entry, max(k, 1), name=f"eval_preferences entry {list(entry)}")


def objectives_named(names: list[str] | None, objectives: list[str], setting: str) -> list[bool]:
    """One flag per objective: whether `names` lists it; raises on a name that is not an objective."""
    names = list(names or [])
    unknown = [name for name in names if name not in objectives]
    if unknown:
        raise ValueError(f"{setting} names {unknown}, which are not objectives {objectives}")
    return [name in names for name in objectives]
