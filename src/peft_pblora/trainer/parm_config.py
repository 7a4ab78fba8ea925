"""PARMConfig: training arguments of the PARMTrainer, TRL style."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments

from ..tuners.pblora.checks import (
    check_choice,
    check_names,
    check_optional_length,
    check_positive_reals,
    check_real,
)
from ..tuners.pblora.preference import validate_preference
from .loss import SCALARIZATIONS

PREFERENCE_SAMPLING = ("batch", "example", "importance")


@dataclass
class PARMConfig(TrainingArguments):
    """Configuration of the `PARMTrainer`: `transformers.TrainingArguments` plus the PARM objective.

    This class holds only the settings specific to PARM training; for the rest (learning rate, batch size, epochs,
    saving, logging...) see `transformers.TrainingArguments`. Defaults differ from TrainingArguments as TRL's trainers
    do: logging every 10 steps, activation checkpointing on, bf16 on where a CUDA device is present (and fp16 is not
    asked for), unused columns kept. With `transformers.HfArgumentParser` it becomes command-line arguments.

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
        precompute_reference_rewards (bool, optional):
            Score every response under the reference once before training and keep the rewards as dataset columns,
            instead of one extra forward per step (TRL's `precompute_ref_log_probs`). Defaults to `True`.
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
        scalarization (str, optional):
            `"linear"`: sum_i alpha_i L_i (the paper); `"tchebycheff"`: max_i alpha_i L_i, which also reaches
            non-convex parts of a Pareto front. Defaults to `"linear"`.
        objective_names (list[str], optional):
            Objectives in alpha order. Defaults to the `train_dataset` dict's key order, or `label_columns`' order for
            a multi-label dataset. Saved in the adapter config so inference uses the same order.
        label_columns (dict[str, str], optional):
            For one multi-label dataset (prompt, response_0, response_1): objective -> column holding the index (0/1)
            of the preferred response, e.g. `{"helpful": "better_response_id", "harmless": "safer_response_id"}`.
        max_prompt_length (int | None, optional):
            Prompt tokens kept (the last ones); `None` keeps all, else at least 1. Defaults to `512`.
        max_length (int | None, optional):
            Prompt + response tokens kept; the response is cut to fit. `None` keeps all, else at least 1 (it may be
            below `max_prompt_length`, as with TRL: prompts are often shorter); a pair whose prompt leaves no room,
            or whose responses become identical when cut, is refused when the trainer tokenizes the data, naming
            the row. Defaults to `1024`.
        eval_preferences (list[list[float]], optional):
            Preferences to evaluate at; defaults to the simplex vertices and its centre.
        model_init_kwargs (dict, optional):
            Keyword arguments for `from_pretrained` when the trainer's `model` is a name or path.
        logging_steps (float, optional):
            Log every X update steps. Defaults to `10`.
        bf16 (bool, optional):
            bf16 mixed precision; defaults to `True` where CUDA is available and fp16 is not set.
        remove_unused_columns (bool, optional):
            Kept `False`: the PARM collator needs its own columns. Defaults to `False`.

    Raises:
        TypeError: If a PARM field has the wrong type (`beta_r="0.1"`, `max_length=2.5`, `objective_names="ab"`).
        ValueError: If `beta_r` or `dirichlet_concentration` is not positive and finite, a length is below 1 or
            `max_length` does not exceed `max_prompt_length`, or `preference_sampling` / `scalarization` is unknown
            or the two do not go together.

    Examples:
        >>> from peft_pblora import PARMConfig
        >>> args = PARMConfig(output_dir="parm", beta_r=[0.5, 0.01], preference_sampling="importance")
        >>> args.beta_r_per_objective(2), args.activation_checkpointing, args.logging_steps
        ([0.5, 0.01], True, 10)
        >>> PARMConfig(output_dir="parm", beta_r=0.1).beta_r_per_objective(3)  # one value for every objective
        [0.1, 0.1, 0.1]
    """

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
            "margin before training. Costs one forward without gradients per response (precompute_reference_rewards)."
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
    precompute_reference_rewards: bool = field(
        default=True,
        metadata={
            "help": "Where a reward subtracts the reference, score every response under it (the adapter disabled, a "
            "frozen model) once before training and keep the rewards as dataset columns, instead of one extra "
            "forward per step (TRL's precompute_ref_log_probs). Exact: the reference does not change in training."
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
    label_columns: dict[str, str] | None = field(
        default=None,
        metadata={
            "help": "For one multi-label dataset (prompt, response_0, response_1): objective -> column holding the "
            "index (0/1) of the preferred response, e.g. {'helpful': 'better_response_id', "
            "'harmless': 'safer_response_id'}."
        },
    )
    max_prompt_length: int | None = field(
        default=512, metadata={"help": "Prompt tokens kept (the last ones), at least 1; None keeps all."}
    )
    max_length: int | None = field(
        default=1024,
        metadata={
            "help": "Prompt + response tokens kept; the response is cut to fit. At least 1 and more than "
            "max_prompt_length; None keeps all. A pair left with no response token, or whose responses become "
            "identical when cut, is refused when the data is tokenized."
        },
    )
    eval_preferences: list[list[float]] | None = field(
        default=None,
        metadata={"help": "Preferences to evaluate at; defaults to the simplex vertices and its centre."},
    )
    model_init_kwargs: dict | None = field(
        default=None, metadata={"help": "Keyword arguments for from_pretrained when `model` is a name or path."}
    )
    logging_steps: float = field(default=10, metadata={"help": "Log every X update steps."})
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
        if self.objective_names is not None:
            self.objective_names = check_names(self.objective_names, "objective_names")
        if self.length_normalized_rewards is not None:
            self.length_normalized_rewards = check_names(
                self.length_normalized_rewards, "length_normalized_rewards", allow_str=True
            )
        if self.reference_relative_rewards is not None:
            self.reference_relative_rewards = check_names(
                self.reference_relative_rewards, "reference_relative_rewards", allow_str=True
            )
        if self.label_columns is not None:
            if not isinstance(self.label_columns, Mapping) or not all(
                isinstance(key, str) and isinstance(value, str) for key, value in self.label_columns.items()
            ):
                raise TypeError(f"label_columns must map objective names to column names, got {self.label_columns!r}")
            if not self.label_columns:
                raise ValueError("label_columns must name at least one objective, got {}")
        if self.eval_preferences is not None:
            check_eval_preferences(self.eval_preferences)
        check_choice(self.preference_sampling, "preference_sampling", PREFERENCE_SAMPLING)
        check_choice(self.scalarization, "scalarization", SCALARIZATIONS)
        if self.preference_sampling == "importance" and self.scalarization != "linear":
            raise ValueError(
                "preference_sampling='importance' keeps the expected loss only for a linear scalarization, "
                f"got scalarization={self.scalarization!r}"
            )

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
