"""The launch script's argument dataclasses beside `PARMConfig`: data (`PARMScriptArguments`), model
(`PARMModelConfig`, TRL's `ModelConfig`) and adapter (`PBLoraArguments`), and the PBLoRA config they make."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trl import ModelConfig, ScriptArguments

from ..tuners.pblora.config import PBLoraConfig

DATASET_KEYS = ("path", "name", "data_dir", "data_files")  # what an objective_datasets entry may pass to load_dataset


@dataclass
class PARMScriptArguments(ScriptArguments):
    """TRL's `ScriptArguments` plus the PARM data: one dataset per objective, or one multi-label dataset.

    Args:
        objective_datasets (dict[str, str | dict] | str, optional):
            Objective -> its preference dataset (prompt / chosen / rejected), in alpha order: a hub id, a folder
            saved with `save_to_disk`, a data folder, or a `.json` / `.jsonl` / `.csv` / `.parquet` file; or a
            mapping of `load_dataset` arguments (`path`, `name`, `data_dir`, `data_files`). A JSON string on the
            command line, a mapping in the YAML config. Leave `dataset_name` unset with it.
        dataset_name (str, optional):
            Instead of `objective_datasets`: one multi-label dataset (prompt / response_0 / response_1 and a label
            column per objective named by `PARMConfig.label_columns`, which default to the `label_columns.json`
            beside a saved dataset, as `recipes/relabel_pairs.py` writes it).
        max_train_samples (int, optional):
            Keep only the first N training rows of each dataset.
    """

    objective_datasets: dict[str, Any] | str | None = field(
        default=None,
        metadata={
            "help": "Objective -> preference dataset (prompt/chosen/rejected) in alpha order: a hub id, a saved "
            "folder, a data folder or file, or a dict of load_dataset arguments (path, name, data_dir, data_files). "
            'A JSON string on the command line, e.g. \'{"helpful": "data/helpful.jsonl"}\'.'
        },
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Keep only the first N training rows of each dataset."}
    )

    def __post_init__(self) -> None:
        if isinstance(self.objective_datasets, str):
            try:
                self.objective_datasets = json.loads(self.objective_datasets)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"objective_datasets must be a JSON object (objective -> dataset), got {self.objective_datasets!r}"
                ) from error
        if self.objective_datasets is not None:
            check_objective_datasets(self.objective_datasets)
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise ValueError(f"max_train_samples must be at least 1, got {self.max_train_samples}")


def check_objective_datasets(objective_datasets: object) -> None:
    """Each entry is a non-empty source string or a mapping of `load_dataset` arguments holding `path`."""
    if not isinstance(objective_datasets, Mapping) or not objective_datasets:
        raise ValueError(f"objective_datasets must map objective names to datasets, got {objective_datasets!r}")
    for name, source in objective_datasets.items():
        if isinstance(source, Mapping):
            unknown = sorted(set(source) - set(DATASET_KEYS))
            if unknown or not isinstance(source.get("path"), str):
                raise ValueError(
                    f"objective_datasets[{name!r}] must give 'path' and only {list(DATASET_KEYS)}, got {dict(source)}"
                )
        elif not isinstance(source, str) or not source:
            raise ValueError(f"objective_datasets[{name!r}] must be a dataset id or path, got {source!r}")


@dataclass
class PARMModelConfig(ModelConfig):
    """TRL's `ModelConfig` with PBLoRA's defaults for the adapter fields it shares with LoRA.

    `lora_alpha`, `lora_dropout`, `lora_target_modules` and `lora_modules_to_save` configure the PBLoRA adapter
    (its ranks are `PBLoraArguments.r1` / `r2`). The script always trains a PBLoRA adapter, so `use_peft` is
    ignored; `lora_r` (other than TRL's default 16), `lora_task_type` (other than CAUSAL_LM), `use_rslora`,
    `use_dora` and `lora_target_parameters` have no PBLoRA meaning and are refused.
    """

    lora_alpha: float = field(
        default=8, metadata={"help": "PBLoRA scale numerator: s = lora_alpha / r2 (the paper: 8, s = 2)."}
    )
    lora_target_modules: list[str] | None = field(
        default=None,
        metadata={"help": "Modules PBLoRA adapts (the paper: q_proj k_proj v_proj); default: PEFT's LoRA targets."},
    )


@dataclass
class PBLoraArguments:
    """The PBLoRA settings that LoRA's `ModelConfig` fields do not cover; `num_preferences` is the number of
    objectives and is not set here."""

    r1: int = field(default=4, metadata={"help": "PBLoRA preference-agnostic rank; 0 disables it (the paper: 4)."})
    r2: int = field(default=4, metadata={"help": "PBLoRA preference-aware rank, at least 1 (the paper: 4)."})
    core: str = field(
        default="bilinear",
        metadata={"help": "Preference core: 'bilinear' (PBLoRA), 'per_objective' or 'diagonal' (see PBLoraConfig)."},
    )


LORA_ONLY_OPTIONS = ("use_rslora", "use_dora", "lora_target_parameters")


def pblora_config(model_args: ModelConfig, pblora_args: PBLoraArguments, objectives: list[str]) -> PBLoraConfig:
    """The adapter to train: `pblora_args`' ranks and core, the LoRA-named fields of `model_args`, one preference
    weight per objective (the trainer records their names).

    Raises:
        ValueError: If `model_args` asks for a LoRA option PBLoRA does not have, naming it.
    """
    set_options = [name for name in LORA_ONLY_OPTIONS if getattr(model_args, name)]
    if set_options:
        raise ValueError(f"{set_options} are LoRA options that PBLoRA does not have; remove them")
    if model_args.lora_r != 16:  # TRL's default: anything else was asked for
        raise ValueError(
            f"lora_r={model_args.lora_r} is LoRA's rank; PBLoRA's ranks are r1 (shared) and r2 (preference-aware)"
        )
    if model_args.lora_task_type != "CAUSAL_LM":
        raise ValueError(f"a PARM is a causal LM: lora_task_type must be CAUSAL_LM, got {model_args.lora_task_type!r}")
    return PBLoraConfig(
        r1=pblora_args.r1,
        r2=pblora_args.r2,
        core=pblora_args.core,
        num_preferences=len(objectives),
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=model_args.lora_target_modules,
        modules_to_save=model_args.lora_modules_to_save,
        task_type="CAUSAL_LM",
    )
