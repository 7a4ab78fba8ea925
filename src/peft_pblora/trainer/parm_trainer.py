"""PARMTrainer: one preference-aware autoregressive reward model trained across all objectives (PARM)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from peft import PeftModel
from torch import nn
from transformers import PreTrainedModel
from transformers.trainer_utils import get_last_checkpoint
from trl.trainer.base_trainer import _BaseTrainer
from trl.trainer.utils import get_config_model_id

from ..tuners.pblora.config import PBLoraConfig
from ..tuners.pblora.model import set_preference
from ..tuners.pblora.own_directions import OwnDirectionsOnly
from .adapter_setup import check_checkpoint_adapter, objectives_in_alpha_order, prepare_pblora_model
from .data_collator import PARMDataCollator
from .data_parallel_exit import free_data_parallel_reducers
from .frozen_directions import RestoreFrozenDirections
from .loss import ObjectiveStatistics, objective_statistics, rewards_from_log_probs, scalarize
from .model_card import PARM_PAPER, parm_model_card
from .parm_config import PARMConfig
from .preference_data import (
    PAIR_WEIGHTS_COLUMN,
    PreferenceTokenizer,
    build_grouped_dataset,
    is_prepared,
    resolve_objectives,
)
from .preference_draws import MicroBatchPreferenceDraws, preference_label, simplex_vertices_and_centre
from .reference_rewards import with_reference_rewards
from .sequence_log_probs import full_logits_requested, sequence_log_probs


class PARMTrainer(_BaseTrainer):
    """Trainer for one preference-aware reward model (PARM) that serves every trade-off between k objectives.

    Each micro-batch (or example, see `PARMConfig.preference_sampling`) draws alpha ~ Dirichlet, scores every
    response by its summed log-probability under the PBLoRA model at alpha, and minimises sum_i alpha_i L_i of the
    objectives' Bradley-Terry losses (or their Tchebycheff max). A TRL trainer (on TRL's trainer base, itself a
    `transformers.Trainer`), so it fits any TRL / transformers pipeline (accelerate, DDP, callbacks, checkpoints)
    and writes TRL's model card, with the PARM paper and the set-up, on `save_model` and `push_to_hub`. The data
    goes through TRL's data utilities (standard or conversational, explicit or implicit prompt, see
    `preference_data`). The objectives' order is alpha's order and is saved with the adapter; `evaluate` reports
    each objective's loss, accuracy and margin at `eval_preferences`.

    Args:
        model (str | PreTrainedModel | PeftModel):
            The model to train: a causal LM (or its name / path, loaded with `PARMConfig.model_init_kwargs`) that
            `peft_config` wraps, or a `PeftModel` that already holds a PBLoRA adapter.
        args (PARMConfig, optional):
            Training arguments. Defaults to `PARMConfig(output_dir="parm")`.
        train_dataset (dict[str, Dataset] | Dataset):
            `{objective: Dataset}` of preference pairs in TRL's preference format (`prompt`, `chosen`, `rejected`;
            or `chosen`, `rejected` with the prompt implicit), one dataset per objective, or one multi-label
            `Dataset` (`prompt`, `response_0`, `response_1` and one label column per objective, named by
            `PARMConfig.label_columns`).
        eval_dataset (Dataset | dict, optional):
            One eval set in `train_dataset`'s forms: a multi-label `Dataset`, or a dict keyed by the objectives. A
            dict none of whose keys is an objective holds named eval sets, as in TRL and transformers (`{"dev": ...,
            "test": ...}`, each in those forms), reported as `eval_<name>_...`.
        processing_class (PreTrainedTokenizerBase):
            The tokenizer; its pad token (or else its EOS token) pads the batches.
        peft_config (PBLoraConfig, optional):
            The adapter to add when `model` is not a `PeftModel`. Its `num_preferences` must equal the number of
            objectives; `objective_names` and `beta_r` are filled in from the data and `args`.
        data_collator (Callable, optional):
            Defaults to a `PARMDataCollator` padding with the tokenizer's pad token.
        callbacks (list[TrainerCallback], optional):
            Passed to `transformers.Trainer`.
        optimizers (tuple, optional):
            (optimizer, scheduler), passed to `transformers.Trainer`. Defaults to `(None, None)`.
        quantization_config (BitsAndBytesConfig, optional):
            Quantization of the base when `model` is a name or path (QLoRA: the frozen base in 4 bits, the PBLoRA
            weights in full precision), as TRL's trainers take it. Refused with a model already loaded.

    Raises:
        ValueError: If `args` is not a `PARMConfig`, `train_dataset` or `processing_class` is missing, the
            datasets' objectives disagree, or the PBLoRA config does not match the objectives.

    Examples:
        >>> import tempfile
        >>> import torch
        >>> from datasets import Dataset
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
        >>> from peft_pblora import PARMConfig, PARMTrainer, PBLoraConfig
        >>> _ = torch.manual_seed(0)
        >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
        >>> backend = Tokenizer(models.WordLevel({"<pad>": 0, "</s>": 1, **{f"w{i}": i for i in range(2, 64)}},
        ...     unk_token="<pad>"))
        >>> backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>")
        >>> pairs = Dataset.from_dict({"prompt": ["w3 w4", "w5 w6"], "chosen": ["w7 w7", "w8"],
        ...     "rejected": ["w9", "w10 w10"]})
        >>> args = PARMConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=2, num_train_epochs=1,
        ...     beta_r=0.5, use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True)
        >>> trainer = PARMTrainer(model=model, args=args, train_dataset={"helpful": pairs, "harmless": pairs},
        ...     processing_class=tokenizer, peft_config=PBLoraConfig(r1=2, r2=2, target_modules=["q_proj", "v_proj"]))
        >>> trainer.objectives  # alpha's order
        ['helpful', 'harmless']
        >>> result = trainer.train()
        {...'train_loss': ...}
        >>> result.global_step
        1
        >>> trainer.model.peft_config["default"].objective_names  # saved with the adapter
        ['helpful', 'harmless']
    """

    loss_is_scaled_for_ga = False  # the Trainer divides each micro-batch loss by the accumulation steps

    _tag_names = ["trl", "parm", "pblora", "peft-pblora"]
    _name = "PARM"
    _paper = PARM_PAPER

    def __init__(
        self,
        model: str | PreTrainedModel | PeftModel,
        args: PARMConfig | None = None,
        train_dataset: Dataset | Mapping[str, Dataset] | None = None,
        eval_dataset: Dataset | Mapping[str, Dataset] | None = None,
        processing_class: Any | None = None,
        peft_config: PBLoraConfig | None = None,
        data_collator: Any | None = None,
        callbacks: list | None = None,
        optimizers: tuple = (None, None),
        quantization_config: Any | None = None,
    ) -> None:
        args = args if args is not None else PARMConfig(output_dir="parm")
        if not isinstance(args, PARMConfig):
            raise ValueError(f"args must be a PARMConfig, got {type(args).__name__}")
        if train_dataset is None:
            raise ValueError("train_dataset is required: {objective: Dataset} or one multi-label Dataset")
        if processing_class is None:
            raise ValueError("processing_class (the tokenizer) is required")
        objectives = objectives_in_alpha_order(train_dataset, args)
        self.objectives = objectives
        eval_sets = self._eval_sets(eval_dataset, args.label_columns) if eval_dataset is not None else None
        self.beta_r = torch.tensor(args.beta_r_per_objective(len(objectives)))
        self.length_normalized = args.length_normalized_per_objective(objectives)
        self.reference_relative = torch.tensor(args.reference_relative_per_objective(objectives))
        self.eval_preferences = args.eval_preferences_for(len(objectives)) or simplex_vertices_and_centre(
            len(objectives)
        )
        for alpha in self.eval_preferences:
            if len(alpha) != len(objectives) or abs(sum(alpha) - 1) > 1e-4 or min(alpha) < 0:
                raise ValueError(f"eval_preferences entry {alpha} is not a point of the {len(objectives)}-simplex")

        model = prepare_pblora_model(model, args, peft_config, objectives, quantization_config)
        self.own_directions = None  # every entry trains unless train_only_objectives names some objectives
        if args.train_only_objectives is not None:
            self.own_directions = OwnDirectionsOnly(model, args.train_only_objectives, model.active_adapter)
            callbacks = [*(callbacks or []), RestoreFrozenDirections(self.own_directions)]
        self._preference_tokenizer = PreferenceTokenizer(processing_class, args.max_prompt_length, args.max_length)
        self._label_columns = args.label_columns
        self._dataset_num_proc = args.dataset_num_proc
        train_grouped = self._tokenize(train_dataset, "train_dataset")
        eval_grouped = None
        if eval_sets is not None:
            eval_grouped = {name: self._tokenize(part, what) for name, (what, part) in eval_sets.items()}
            if None in eval_grouped:
                eval_grouped = eval_grouped[None]
        if data_collator is None:
            pad = processing_class.pad_token_id
            data_collator = PARMDataCollator(pad if pad is not None else processing_class.eos_token_id)
        super().__init__(
            model=model,
            args=args,
            data_collator=data_collator,
            train_dataset=train_grouped,
            eval_dataset=eval_grouped,
            processing_class=processing_class,
            callbacks=callbacks,
            optimizers=optimizers,
        )
        if args.precompute_ref_log_probs and self.reference_relative.any():
            self.train_dataset = self._with_reference_rewards(self.train_dataset, args.per_device_train_batch_size)
            if isinstance(self.eval_dataset, Mapping):
                self.eval_dataset = {
                    name: self._with_reference_rewards(part) for name, part in self.eval_dataset.items()
                }
            elif self.eval_dataset is not None:
                self.eval_dataset = self._with_reference_rewards(self.eval_dataset)
        self._train_statistics: dict[str, list[float]] = defaultdict(list)
        self._preference_draws = MicroBatchPreferenceDraws(args.seed, args.dirichlet_concentration, len(objectives))

    def train(
        self,
        resume_from_checkpoint: str | bool | None = None,
        trial: Any = None,
        ignore_keys_for_eval: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """transformers' train, after checking that a checkpoint to resume from holds this run's adapter.

        Resuming with the objectives in another order (or other names) would make each alpha weight mean another
        objective and rewrite the saved `objective_names`; another k, r1, r2 or core would fail deep in loading.
        """
        if resume_from_checkpoint:
            checkpoint = resume_from_checkpoint
            if isinstance(checkpoint, bool):
                checkpoint = get_last_checkpoint(self.args.output_dir)
            if checkpoint is not None:
                check_checkpoint_adapter(self.accelerator.unwrap_model(self.model), Path(checkpoint), self.objectives)
        return super().train(
            resume_from_checkpoint=resume_from_checkpoint,
            trial=trial,
            ignore_keys_for_eval=ignore_keys_for_eval,
            **kwargs,
        )

    def _send_telemetry(self) -> None:
        """No usage ping: TRL's base reports its own trainers; this plugin sends nothing, as before it used TRL."""

    def _eval_sets(self, eval_dataset: Any, label_columns: Mapping[str, str] | None) -> dict[Any, tuple[str, Any]]:
        """{name: (what, data)} of the eval sets `eval_dataset` holds, the name None for a single one.

        A Dataset, or a dict keyed by objectives, is one eval set (PARM's forms); a dict none of whose keys is an
        objective holds named eval sets (TRL's meaning), each in those forms. Each set must have the training
        objectives.
        """
        named = isinstance(eval_dataset, Mapping) and not set(eval_dataset) & set(self.objectives)
        sets = (
            {name: (f"eval_dataset[{name!r}]", part) for name, part in eval_dataset.items()}
            if named
            else {None: ("eval_dataset", eval_dataset)}
        )
        for what, part in sets.values():
            if is_prepared(part):
                continue
            eval_objectives = resolve_objectives(part, label_columns, what)
            if sorted(eval_objectives) != sorted(self.objectives):
                raise ValueError(
                    f"{what} has objectives {eval_objectives} but train_dataset has {self.objectives} (a dict keyed "
                    "by objectives is one eval set; name eval sets with keys that are not objectives)"
                )
        return sets

    def _tokenize(self, dataset: Any, what: str) -> Dataset:
        """Raw preference data in any accepted form as the trainer's tokenized rows; tokenized rows pass through."""
        if is_prepared(dataset):
            return dataset
        return build_grouped_dataset(
            dataset,
            self.objectives,
            self._label_columns,
            self._preference_tokenizer,
            what=what,
            num_proc=self._dataset_num_proc,
        )

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """transformers' save_model, then the PARM model card (README.md) next to the adapter, as TRL's trainers."""
        super().save_model(output_dir, _internal_call)
        if self.is_world_process_zero():
            self._write_model_card(output_dir or self.args.output_dir)

    def end(self) -> None:
        """Wait for every process, free the DDP wrappers' gradient reducers, then transformers' end (trackers
        finished, process group destroyed). Every rank must call it, once, on a normal exit: the wait is a collective.

        A CPU (gloo) rank could otherwise deadlock at exit: its main thread, freeing the process group from the DDP
        reducer with the GIL held, waited for a gloo worker's lock, while the worker, holding it, waited for the GIL
        to free a collective's tensors (see `data_parallel_exit`). Without its reducer the wrapper frees the group
        with the GIL released. Where no process group is initialized (one process, or a group already destroyed)
        there is nothing to wait for or free.
        """
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            self.accelerator.wait_for_everyone()
            free_data_parallel_reducers([self.model_wrapped, *getattr(self.accelerator, "_models", [])])
        super().end()

    def create_model_card(
        self,
        model_name: str | None = None,
        dataset_name: str | None = None,
        tags: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """TRL's model card for this PARM in `args.output_dir` (what `push_to_hub` uploads); see `parm_model_card`."""
        if self.is_world_process_zero():
            self._write_model_card(self.args.output_dir, model_name, dataset_name, tags)

    def _write_model_card(
        self,
        output_dir: str,
        model_name: str | None = None,
        dataset_name: str | None = None,
        tags: str | list[str] | None = None,
    ) -> None:
        model = self.accelerator.unwrap_model(self.model)
        base_model = get_config_model_id(model.config)
        tags = {tags} if isinstance(tags, str) else set(tags or [])
        config = model.active_peft_config if isinstance(model, PeftModel) else None
        card = parm_model_card(
            args=self.args,
            objectives=self.objectives,
            beta_r=self.beta_r.tolist(),
            length_normalized=self.length_normalized,
            reference_relative=self.reference_relative.tolist(),
            pblora_config=config,
            base_model=base_model if base_model and not Path(base_model).is_dir() else None,
            model_name=model_name or Path(output_dir).name,
            hub_model_id=self.hub_model_id,
            dataset_name=dataset_name,
            tags=sorted(tags | set(self._tag_names)),
        )
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        card.save(str(Path(output_dir) / "README.md"))

    def _draw_preference(self, rows: int) -> torch.Tensor:
        """alpha for this micro-batch: one (k,) for all rows, or one per row with preference_sampling='example'."""
        if self.args.preference_sampling == "example":
            return self._preference_draws.one_per_example(self.state.global_step, rows, self.args.process_index)
        return self._preference_draws.one_per_batch(self.state.global_step)

    def _draw_pair_preferences(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """preference_sampling='importance': per-pair (alphas, loss weights), see objective_tilted_preferences."""
        return self._preference_draws.tilted_per_pair(self.state.global_step, labels, self.args.process_index)

    def batch_statistics(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor],
        preference: torch.Tensor,
        loss_weights: torch.Tensor | None = None,
    ) -> ObjectiveStatistics:
        """Score both responses of every pair at `preference` and compare them.

        `preference` is (k,) or one row per batch row, and each loss is weighted by its alpha; with `loss_weights`
        (P, k), `preference` holds one row per pair and the losses are weighted by `loss_weights` instead. Either is
        multiplied by the pair's own weight where the data gives one (`inputs["pair_weights"]`, the `weight` column).
        """
        pair_rows = inputs["pair_rows"]
        pairs = pair_rows.shape[0]
        preference = preference.to(pair_rows.device)
        if loss_weights is not None:
            if preference.shape != loss_weights.shape or preference.shape[0] != pairs:
                raise ValueError(
                    f"per-pair preference {tuple(preference.shape)} and loss_weights {tuple(loss_weights.shape)} "
                    f"must both have one row per pair ({pairs})"
                )
            pair_preferences = preference
        elif preference.dim() == 2:
            pair_preferences = preference[pair_rows]
        else:
            pair_preferences = preference.expand(pairs, -1)
        if preference.dim() == 2:
            set_preference(model, torch.cat([pair_preferences, pair_preferences]).cpu())
        else:
            set_preference(model, preference.cpu())
        rewards = self._rewards(model, inputs)
        if self.reference_relative.any():
            reference_rewards = inputs.get("reference_rewards")
            if reference_rewards is None:
                with torch.no_grad(), self.accelerator.unwrap_model(model).disable_adapter():
                    reference_rewards = self._rewards(model, inputs)
            rewards = rewards - reference_rewards * self.reference_relative.to(rewards.device, rewards.dtype)
        weights = pair_preferences if loss_weights is None else loss_weights.to(pair_preferences.device)
        if PAIR_WEIGHTS_COLUMN in inputs:
            weights = weights * inputs[PAIR_WEIGHTS_COLUMN].to(weights.device, weights.dtype).unsqueeze(1)
        return objective_statistics(
            rewards[:pairs],
            rewards[pairs:],
            inputs["preference_labels"],
            self.beta_r.to(rewards.device),
            weights,
            self.args.loss_type,
        )

    def _with_reference_rewards(self, dataset: Dataset, batch_size: int | None = None) -> Dataset:
        """Each response's reward under the reference, once (`with_reference_rewards`). Batches of
        `precompute_ref_batch_size`, else `batch_size`, else `per_device_eval_batch_size` (as TRL)."""
        return with_reference_rewards(
            dataset,
            self.accelerator.unwrap_model(self.model),
            lambda rows: self._prepare_inputs(self.data_collator(rows)),
            self._rewards,
            self.args.precompute_ref_batch_size or batch_size or self.args.per_device_eval_batch_size,
        )

    def _rewards(self, model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(S, k): every response's reward per objective, the sum (or mean) of its token log-probabilities.

        Only the completion positions are projected onto the vocabulary, a chunk of tokens at a time (see
        `sequence_log_probs`); PEFT_PBLORA_FULL_LOGITS=1 takes the full-logits reference path instead.
        """
        summed, counts = sequence_log_probs(
            model,
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            position_ids=inputs["position_ids"],
            completion_mask=inputs["completion_mask"],
            logits_to_keep=int(inputs["completion_length"]) + 1,
            full_logits=full_logits_requested(),
        )
        return rewards_from_log_probs(summed, counts, self.length_normalized)

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> torch.Tensor | tuple[torch.Tensor, ObjectiveStatistics]:
        if self.args.preference_sampling == "importance":
            preference, loss_weights = self._draw_pair_preferences(inputs["preference_labels"])
            statistics = self.batch_statistics(model, inputs, preference, loss_weights)
        else:
            statistics = self.batch_statistics(model, inputs, self._draw_preference(int(inputs["num_rows"])))
        loss = scalarize(statistics.weighted_losses, self.args.scalarization)
        if model.training:
            self._record(statistics)
        return (loss, statistics) if return_outputs else loss

    def _record(self, statistics: ObjectiveStatistics) -> None:
        for index, name in enumerate(self.objectives):
            if statistics.counts[index] > 0:
                self._train_statistics[f"{name}/loss"].append(statistics.losses[index].item())
                self._train_statistics[f"{name}/accuracy"].append(statistics.accuracies[index].item())
                self._train_statistics[f"{name}/margin"].append(statistics.margins[index].item())

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Adds the per-objective training loss, preference accuracy and reward margin since the last log."""
        if "loss" in logs and self._train_statistics:
            for key, values in self._train_statistics.items():
                logs[f"objective/{key}"] = float(np.mean(values))
            self._train_statistics.clear()
        super().log(logs, start_time)

    def evaluate(
        self,
        eval_dataset: Dataset | Mapping[str, Any] | str | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> dict[str, float]:
        """Per-objective loss, accuracy and margin at each of `eval_preferences`; `<prefix>_loss` at the last one
        (the centre by default).

        `eval_dataset` may be raw data in any form the constructor takes (it is tokenized here), tokenized rows, the
        name of one of the constructor's named eval sets, or None for the constructor's eval set(s). Named eval sets
        report `<prefix>_<name>_...`.
        """
        if eval_dataset is None:
            eval_dataset = self.eval_dataset
            if eval_dataset is None:
                raise ValueError("evaluate needs an eval_dataset: pass one here or to the PARMTrainer")
        elif isinstance(eval_dataset, str):
            if not isinstance(self.eval_dataset, Mapping) or eval_dataset not in self.eval_dataset:
                raise ValueError(f"evaluate: no named eval set {eval_dataset!r} was given to the PARMTrainer")
            eval_dataset = self.eval_dataset[eval_dataset]
        else:
            sets = self._eval_sets(eval_dataset, self._label_columns)
            eval_dataset = {name: self._tokenize(part, what) for name, (what, part) in sets.items()}
            if self.args.precompute_ref_log_probs and self.reference_relative.any():
                eval_dataset = {name: self._with_reference_rewards(part) for name, part in eval_dataset.items()}
            eval_dataset = eval_dataset.pop(None) if None in eval_dataset else eval_dataset
        if isinstance(eval_dataset, Mapping):  # named eval sets
            metrics = {}
            for name, part in eval_dataset.items():
                metrics.update(self.evaluate(part, ignore_keys, f"{metric_key_prefix}_{name}"))
            return metrics
        dataloader = self.get_eval_dataloader(eval_dataset)
        model = self.model
        was_training = model.training
        model.eval()
        metrics: dict[str, float] = {}
        k = len(self.objectives)
        scalarized = []
        for alpha in self.eval_preferences:
            preference = torch.tensor(alpha, dtype=torch.float32)
            totals = torch.zeros(4, k, device=self.args.device)
            for inputs in dataloader:
                inputs = self._prepare_inputs(inputs)
                with torch.no_grad():
                    statistics = self.batch_statistics(model, inputs, preference)
                counts = statistics.counts.to(totals.dtype)
                totals += torch.stack(
                    [statistics.losses * counts, statistics.accuracies * counts, statistics.margins * counts, counts]
                )
            totals = self.accelerator.reduce(totals, reduction="sum")
            counts = totals[3].clamp(min=1)
            label = preference_label(alpha)
            for index, name in enumerate(self.objectives):
                metrics[f"{metric_key_prefix}_{name}_loss@{label}"] = (totals[0, index] / counts[index]).item()
                metrics[f"{metric_key_prefix}_{name}_accuracy@{label}"] = (totals[1, index] / counts[index]).item()
                metrics[f"{metric_key_prefix}_{name}_margin@{label}"] = (totals[2, index] / counts[index]).item()
            weighted = preference.to(totals.device) * totals[0] / counts
            scalarized.append(scalarize(weighted, self.args.scalarization).item())
        metrics[f"{metric_key_prefix}_loss"] = scalarized[-1]
        model.train(was_training)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics
