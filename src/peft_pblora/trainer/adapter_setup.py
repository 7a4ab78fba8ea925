"""The PBLoRA model a PARMTrainer trains: objectives in alpha's order, adapter added or checked, resumes vetted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from peft import PeftModel, get_peft_model
from transformers import set_seed
from trl.trainer.utils import create_model_from_path, disable_dropout_in_model

from ..tuners.pblora.config import PBLoraConfig
from ..tuners.pblora.peft_type import PBLORA_PEFT_TYPE
from .parm_config import PARMConfig
from .preference_data import resolve_objectives


def objectives_in_alpha_order(train_dataset: Any, args: PARMConfig) -> list[str]:
    """The data's objectives, in `args.objective_names` order when given (alpha's order)."""
    objectives = resolve_objectives(train_dataset, args.label_columns, "train_dataset")
    if args.objective_names is None:
        return objectives
    if sorted(args.objective_names) != sorted(objectives):
        raise ValueError(f"objective_names {args.objective_names} do not match the dataset's {objectives}")
    return list(args.objective_names)


def prepare_pblora_model(
    model: Any,
    args: PARMConfig,
    peft_config: PBLoraConfig | None,
    objectives: list[str],
    quantization_config: Any | None = None,
) -> PeftModel:
    """`model` (a causal LM, its name or path, or a PeftModel) as the PeftModel to train, its PBLoRA config checked
    against the objectives and given their names and beta_r; a name is loaded only once every check has passed."""
    if not isinstance(model, PeftModel):
        if not isinstance(peft_config, PBLoraConfig):
            raise ValueError("Pass peft_config=PBLoraConfig(...) or a PeftModel that holds a PBLoRA adapter")
        config = peft_config
    else:
        config = model.active_peft_config
        if not isinstance(config, PBLoraConfig):
            raise ValueError(f"The PeftModel's active adapter is {type(config).__name__}, not PBLoRA")
    if config.num_preferences != len(objectives):
        raise ValueError(
            f"PBLoraConfig.num_preferences={config.num_preferences} but the data has {len(objectives)} "
            f"objectives {objectives}"
        )
    default_names = [f"objective_{index}" for index in range(len(objectives))]
    if config.objective_names not in (default_names, objectives):
        raise ValueError(
            f"PBLoraConfig.objective_names {config.objective_names} differ from the data's objectives {objectives}"
        )
    config.objective_names = list(objectives)
    config.beta_r = args.beta_r_per_objective(len(objectives))
    if isinstance(model, str):  # loaded only once every check has passed, as TRL's trainers load it
        model_init_kwargs = dict(args.model_init_kwargs or {})
        if quantization_config is not None:
            if "quantization_config" in model_init_kwargs:
                raise ValueError(
                    "quantization_config is set both as a trainer argument and in args.model_init_kwargs; "
                    "set it in one place"
                )
            model_init_kwargs["quantization_config"] = quantization_config
        if args.distributed_state.distributed_type in ("MULTI_GPU", "DEEPSPEED"):
            model_init_kwargs["device_map"] = None  # each process holds its replica
        model = create_model_from_path(model, **model_init_kwargs)
    elif quantization_config is not None:
        raise ValueError(
            "quantization_config applies when the model is loaded from a name or path; this model is already "
            "loaded: pass its name, or load it quantized yourself"
        )
    if not isinstance(model, PeftModel):
        set_seed(args.seed)  # the adapter's random start comes from the run's seed, not from what ran before
        model = get_peft_model(model, config)
    if args.disable_dropout:
        disable_dropout_in_model(model)
    if args.activation_checkpointing:
        model.enable_input_require_grads()
    return model


def check_checkpoint_adapter(model: Any, checkpoint: Path, objectives: list[str]) -> None:
    """Refuse a checkpoint whose PBLoRA adapter has other objectives (or order), k, ranks or core than `model`'s.

    Resuming with the objectives in another order would make each alpha weight mean another objective.
    """
    adapter_name = model.active_adapter if isinstance(model, PeftModel) else "default"
    folder = checkpoint if adapter_name == "default" else checkpoint / adapter_name
    config_file = folder / "adapter_config.json"
    if not config_file.is_file():
        return  # not a PEFT checkpoint: transformers reports what it cannot load
    saved = json.loads(config_file.read_text(encoding="utf-8"))
    current = model.peft_config.get(adapter_name) if isinstance(model, PeftModel) else None
    if not isinstance(current, PBLoraConfig) or saved.get("peft_type") != PBLORA_PEFT_TYPE.value:
        return
    saved_names = saved.get("objective_names")
    if saved_names is not None and list(saved_names) != list(objectives):
        raise ValueError(
            f"resume_from_checkpoint {checkpoint} was trained with objective_names {saved_names} (alpha order) "
            f"but this run has {objectives}: each alpha weight would mean another objective. Resume with the "
            "same objectives in the same order (PARMConfig.objective_names), or start a new run"
        )
    differing = [
        f"{field}={saved.get(field)!r} in the checkpoint, {getattr(current, field)!r} here"
        for field in ("num_preferences", "r1", "r2", "core")
        if field in saved and saved[field] != getattr(current, field)
    ]
    if differing:
        raise ValueError(
            f"resume_from_checkpoint {checkpoint} holds a PBLoRA adapter of another shape: "
            f"{'; '.join(differing)}. Resume with the PBLoraConfig the checkpoint was trained with, or start a "
            "new run"
        )
