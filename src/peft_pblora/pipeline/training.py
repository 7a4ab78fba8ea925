"""The run's training stage: the PARMConfig a run's settings give, and one PBLoRA adapter trained on the run's pairs
with its held-out evaluation, training log and parameter count written beside it."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from peft import PeftModel

from ..trainer.parm_config import PARMConfig
from ..trainer.parm_trainer import PARMTrainer
from ..tuners.pblora.config import PBLoraConfig
from .diagnosis import held_out_prompts, split_pairs, write_held_out_evaluation
from .reward_forms import RewardForms
from .run_folder import write_json_atomic
from .settings import RunSettings

logger = logging.getLogger("peft_pblora.pipeline")


def trainer_arguments(
    settings: RunSettings, forms: RewardForms, objectives: list[str], output_dir: Path
) -> PARMConfig:
    """The PARMConfig that trains one adapter on `objectives` (all of them for a PARM, one for an ARM) with the
    run's reward `forms`."""
    beta_r = forms.beta_r if len(forms.beta_r) == 1 else [
        forms.beta_r[settings.objective_names.index(name)] for name in objectives
    ]  # fmt: skip
    return PARMConfig(
        output_dir=str(output_dir), per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        num_train_epochs=settings.epochs, learning_rate=settings.learning_rate, lr_scheduler_type="cosine",
        warmup_steps=2, weight_decay=0.05,
        beta_r=beta_r,
        length_normalized_rewards=[name for name in forms.length_normalized_rewards if name in objectives],
        reference_free=settings.reference_free,
        reference_relative_rewards=[name for name in settings.reference_relative_rewards if name in objectives],
        dirichlet_concentration=settings.dirichlet_concentration, scalarization=settings.scalarization,
        loss_type=settings.loss_type, preference_sampling=settings.preference_sampling,
        max_prompt_length=settings.max_length // 2,
        max_length=settings.max_length, logging_steps=1, save_strategy="no", report_to="none",
        activation_checkpointing=False, use_cpu=settings.device == "cpu",
        seed=settings.seed if settings.train_seed is None else settings.train_seed,
        disable_tqdm=not settings.show_progress,
    )  # fmt: skip


def steps_by_epochs(settings: RunSettings, pair_counts: dict[str, int]) -> int:
    """Optimiser steps the epochs make over pairs of these counts: a row holds one pair per objective, the fewer pairs
    cycling, so an epoch is as many rows as the objective with the most pairs has."""
    batches = math.ceil(max(pair_counts.values()) / settings.batch_size)
    epoch_steps = max(batches // settings.gradient_accumulation_steps, 1)  # as the transformers Trainer counts them
    return math.ceil(settings.epochs * epoch_steps)


def optimiser_steps(settings: RunSettings, pair_counts: dict[str, int]) -> int:
    """The optimiser steps training takes over pairs of these counts: the epochs', or `min_train_steps` where more."""
    return max(steps_by_epochs(settings, pair_counts), settings.min_train_steps or 0)


def steps_for_pairs(settings: RunSettings, pair_counts: dict[str, int]) -> int:
    """The trainer's `max_steps`: -1 (the epochs decide) unless the epochs over these pairs give fewer steps than
    `settings.min_train_steps`, then that many."""
    if settings.min_train_steps is None or not pair_counts:
        return -1
    by_epochs = steps_by_epochs(settings, pair_counts)
    if by_epochs >= settings.min_train_steps:
        return -1
    logger.info(
        "%s epochs over %d pairs make %d steps, below --min_train_steps: training %d steps",
        settings.epochs, max(pair_counts.values()), by_epochs, settings.min_train_steps,
    )  # fmt: skip
    return settings.min_train_steps


def training_pairs(
    settings: RunSettings, data: Any, objectives: list[str], train_prompts: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`objectives`' pairs of `data` that train, and those held out to evaluate the training (the pairs of a
    `held_out_pair_share` of `train_prompts`; none where an objective would have none held out)."""
    held_out = held_out_prompts(train_prompts, settings.held_out_pair_share, settings.seed)
    train_pairs, held_out_pairs = split_pairs(data, objectives, held_out)
    if held_out and len(held_out_pairs) < len(objectives):
        logger.warning(
            "no held-out pairs for %s: every pair trains, and no pair accuracy is measured before the sweep",
            sorted(set(objectives) - set(held_out_pairs)),
        )
        return {name: data[name] for name in objectives}, {}
    return train_pairs, held_out_pairs


def as_user_turns(pairs: dict[str, Any]) -> dict[str, Any]:
    """Each objective's pairs with the prompt as one user message: the trainer then renders it by the chat template,
    as guided decoding does."""

    def user_turn(row: dict) -> dict:
        return {"prompt": [{"role": "user", "content": row["prompt"]}]}

    return {name: dataset.map(user_turn, remove_columns="prompt") for name, dataset in pairs.items()}


def train_adapter(
    settings: RunSettings,
    forms: RewardForms,
    start_model: Any,
    tokenizer: Any,
    train_prompts: list[str],
    data: Any,
    adapter_dir: Path,
    log_dir: Path,
    objectives: list[str],
    r1: int,
    r2: int,
    core: str,
    train_only_objectives: list[str] | None = None,
    max_steps: int | None = None,
) -> Path:
    """Train one PBLoRA adapter (ranks r1 and r2, `core`) on `objectives`' pairs of `data`, starting from
    `start_model`, into `adapter_dir`, with the run's reward `forms`; pairs on a held-out share of `train_prompts`
    evaluate it, and the training log goes to `log_dir`/train_log.json. A `start_model` holding a PBLoRA adapter
    (a PeftModel) trains on, only `train_only_objectives`' own directions where given; `max_steps` fixes the optimiser
    steps (else the epochs and `min_train_steps` decide)."""
    args = trainer_arguments(settings, forms, objectives, settings.path / "trainer")
    args.train_only_objectives = train_only_objectives
    peft_config = PBLoraConfig(
        r1=r1, r2=r2, num_preferences=len(objectives), core=core,
        lora_alpha=settings.lora_alpha, lora_dropout=0.0, target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )  # fmt: skip
    train_pairs, held_out_pairs = training_pairs(settings, data, objectives, train_prompts)
    if settings.train_in_chat_format:
        train_pairs, held_out_pairs = as_user_turns(train_pairs), as_user_turns(held_out_pairs)
    counts = {name: len(pairs) for name, pairs in train_pairs.items()}
    args.max_steps = max_steps if max_steps is not None else steps_for_pairs(settings, counts)
    trainer = PARMTrainer(
        model=start_model,
        args=args,
        train_dataset=train_pairs,
        eval_dataset=held_out_pairs or None,
        processing_class=tokenizer,
        peft_config=None if isinstance(start_model, PeftModel) else peft_config,
    )
    trainable = sum(parameter.numel() for parameter in trainer.model.parameters() if parameter.requires_grad)
    trainer.train()
    evaluation = trainer.evaluate() if held_out_pairs else None  # before saving: a saved adapter is never retrained
    trainer.save_model(str(adapter_dir))
    if evaluation is not None:
        write_held_out_evaluation(
            adapter_dir, evaluation, {name: len(pairs) for name, pairs in held_out_pairs.items()}
        )
    write_json_atomic(log_dir / "train_log.json", trainer.state.log_history)
    write_json_atomic(adapter_dir / "trainable_parameters.json", {"trainable_parameters": trainable})
    return adapter_dir
