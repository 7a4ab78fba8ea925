"""PBLoraModel: the PEFT tuner that injects PBLoRA layers and carries the preference to them."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from peft.tuners.tuners_utils import BaseTuner, BaseTunerLayer
from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
from torch import nn
from transformers.pytorch_utils import Conv1D

from .config import PBLoraConfig
from .layer import PBLoraLayer, PBLoraLinear
from .preference import PreferenceLike, missing_preference_error, validate_preference


def pblora_layers(model: nn.Module) -> Iterator[PBLoraLayer]:
    """Every PBLoRA layer inside `model`."""
    return (module for module in model.modules() if isinstance(module, PBLoraLayer))


def preference_per_layer(
    layers: Iterable[PBLoraLayer], adapter_name: str, preference: torch.Tensor
) -> Iterator[tuple[PBLoraLayer, torch.Tensor]]:
    """Each layer holding `adapter_name`, with `preference` on its core's device and dtype (converted once each)."""
    converted: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}
    for layer in layers:
        if adapter_name not in layer.pblora_core:
            continue
        weight = next(layer.pblora_core[adapter_name].parameters())
        key = (weight.device, weight.dtype)
        if key not in converted:
            converted[key] = preference.to(device=weight.device, dtype=weight.dtype)
        yield layer, converted[key]


def set_preference(
    model: nn.Module,
    preference: PreferenceLike,
    adapter_name: str | list[str] | None = None,
    batch_size: int | None = None,
) -> torch.Tensor:
    """Validate `preference` and store it on every PBLoRA layer of `model` until it is replaced.

    Works on a PeftModel and on a transformers model that loaded a PBLoRA adapter with `load_adapter`.
    `adapter_name` defaults to the active adapter(s); `batch_size` checks the number of preference rows.
    Returns the validated preference.

    Examples:
        >>> import torch
        >>> from peft import get_peft_model
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from peft_pblora import PBLoraConfig, set_preference
        >>> _ = torch.manual_seed(0)
        >>> base = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
        >>> config = PBLoraConfig(r1=2, r2=2, target_modules=["q_proj"], init_weights=False)
        >>> model = get_peft_model(base, config).eval()
        >>> ids = torch.tensor([[3, 4, 5], [6, 7, 8]])
        >>> _ = set_preference(model, [1.0, 0.0])  # one alpha for the whole batch
        >>> helpful = model(ids).logits
        >>> _ = set_preference(model, [[1.0, 0.0], [0.0, 1.0]])  # or one row per example
        >>> mixed = model(ids).logits
        >>> torch.allclose(helpful[0], mixed[0]), torch.allclose(helpful[1], mixed[1])
        (True, False)
    """
    layers = list(pblora_layers(model))
    if not layers:
        raise ValueError("The model has no PBLoRA layers; wrap it with get_peft_model(model, PBLoraConfig(...))")
    if adapter_name is None:
        adapter_names = list(layers[0].active_adapters)
    else:
        adapter_names = [adapter_name] if isinstance(adapter_name, str) else list(adapter_name)
    available = {name for layer in layers for name in layer.pblora_A}
    unknown = [name for name in adapter_names if name not in available]
    if unknown:
        raise ValueError(f"Unknown PBLoRA adapter(s) {unknown}; the model has {sorted(available)}")
    # every check runs before any layer changes, so a refused preference leaves the stored one in place
    validated_per_adapter = {}
    for name in adapter_names:
        num_preferences = next(layer.num_preferences[name] for layer in layers if name in layer.num_preferences)
        validated_per_adapter[name] = validate_preference(preference, num_preferences, batch_size=batch_size)
        for layer in layers:
            merged = layer.merged_preference.get(name)
            if merged is not None and not torch.equal(merged, validated_per_adapter[name].to(merged)):
                raise ValueError(
                    f"PBLoRA adapter '{name}' is merged for preference {merged.tolist()}; call unmerge_adapter() "
                    "before changing it"
                )
    validated = None
    for name, validated in validated_per_adapter.items():
        for layer, on_device in preference_per_layer(layers, name, validated):
            layer.set_preference(name, on_device)
    return validated


def _batch_size_of_call(args: tuple, kwargs: dict) -> int | None:
    """Number of examples in a forward or generate call, from input_ids or inputs_embeds."""
    for candidate in (kwargs.get("input_ids"), kwargs.get("inputs_embeds"), args[0] if args else None):
        if isinstance(candidate, torch.Tensor) and candidate.dim() >= 2:
            return candidate.shape[0]
    return None


def _take_preference_argument(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
    """Forward pre-hook of the wrapped transformers model: honour `preference=` on a call that bypasses PeftModel.

    transformers models drop unknown keyword arguments silently, so without this hook
    `peft_model.get_base_model()(ids, preference=alpha)` (or a model that loaded the adapter with `load_adapter`)
    would run at the stored preference. PeftModel strips the keyword before this hook sees the call.
    """
    if "preference" not in kwargs:
        return None
    kwargs = dict(kwargs)
    preference = kwargs.pop("preference")
    if preference is not None:
        set_preference(module, preference, batch_size=_batch_size_of_call(args, kwargs))
    return args, kwargs


def add_preference_argument(model: nn.Module) -> None:
    """Make `model(..., preference=alpha)` set alpha on the model's PBLoRA layers; idempotent."""
    if not any(hook is _take_preference_argument for hook in model._forward_pre_hooks.values()):
        model.register_forward_pre_hook(_take_preference_argument, with_kwargs=True)


class PBLoraModel(BaseTuner):
    """Creates a PBLoRA (Preference-aware Bilinear LoRA, PARM arXiv 2505.06274) model from a transformers model.

    The preference alpha reaches the layers through `set_preference` or the `preference=` keyword of a forward or
    generate call on the PeftModel; either way it stays on the layers until replaced.
    """

    prefix: str = "pblora_"
    tuner_layer_cls = PBLoraLayer
    target_module_mapping = TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

    def inject_adapter(self, model: nn.Module, adapter_name: str, *args: Any, **kwargs: Any) -> None:
        """PEFT's injection, then the hook that lets the bare transformers model take `preference=` too."""
        super().inject_adapter(model, adapter_name, *args, **kwargs)
        add_preference_argument(model)

    def _create_and_replace(
        self,
        pblora_config: PBLoraConfig,
        adapter_name: str,
        target: nn.Module,
        target_name: str,
        parent: nn.Module,
        current_key: str,
        **optional_kwargs: Any,
    ) -> None:
        if current_key is None:
            raise ValueError("Current Key shouldn't be `None`")
        if isinstance(target, PBLoraLayer):
            target.update_layer(adapter_name, pblora_config)
            return
        new_module = self._create_new_module(pblora_config, adapter_name, target)
        if adapter_name not in self.active_adapters:
            # an additional adapter is not trainable until it is made active
            new_module.requires_grad_(False)
        self._replace_module(parent, target_name, new_module, target)

    @staticmethod
    def _create_new_module(pblora_config: PBLoraConfig, adapter_name: str, target: nn.Module) -> PBLoraLinear:
        target_base_layer = target.get_base_layer() if isinstance(target, BaseTunerLayer) else target
        if isinstance(target_base_layer, nn.Linear):
            if pblora_config.fan_in_fan_out:
                warnings.warn("fan_in_fan_out is True but the target is nn.Linear; setting it to False.", stacklevel=2)
                pblora_config.fan_in_fan_out = False
        elif isinstance(target_base_layer, Conv1D):
            if not pblora_config.fan_in_fan_out:
                warnings.warn("fan_in_fan_out is False but the target is Conv1D; setting it to True.", stacklevel=2)
                pblora_config.fan_in_fan_out = True
        else:
            raise TypeError(
                f"Target module {target} is not supported: PBLoRA adapts torch.nn.Linear and transformers' Conv1D."
            )
        return PBLoraLinear(target, adapter_name, config=pblora_config, fan_in_fan_out=pblora_config.fan_in_fan_out)

    def set_preference(self, preference: PreferenceLike, adapter_name: str | list[str] | None = None) -> torch.Tensor:
        """Set the preference alpha, (k,) for the whole batch or (batch, k) one row per example, until replaced."""
        return set_preference(self.model, preference, adapter_name=adapter_name or self.active_adapters)

    @contextmanager
    def _enable_peft_forward_hooks(self, *args: Any, **kwargs: Any) -> Iterator[None]:
        """Every PeftModel forward and generate path enters here: store `preference=` and check it fits the batch.

        When the call's inputs are not visible here (PeftModelForCausalLM.forward keeps input_ids to itself), a
        one-call pre-hook on the wrapped model checks the batch instead.
        """
        preference = kwargs.get("preference")
        batch_size = _batch_size_of_call(args, kwargs)
        if batch_size is not None:
            if preference is not None:
                set_preference(self.model, preference, adapter_name=self.active_adapters, batch_size=batch_size)
            self._check_preference_fits_batch(batch_size)
            yield
            return
        if preference is not None:  # checked now, stored once the batch size is known: a refusal changes nothing
            for name in self.active_adapters:
                validate_preference(preference, self.peft_config[name].num_preferences)
        check = functools.partial(self._check_batch_before_forward, preference=preference)
        handle = self.model.register_forward_pre_hook(check, with_kwargs=True)
        try:
            yield
        finally:
            handle.remove()

    def _check_batch_before_forward(
        self, module: nn.Module, args: tuple, kwargs: dict, preference: PreferenceLike | None = None
    ) -> None:
        batch_size = _batch_size_of_call(args, kwargs)
        if preference is not None:
            set_preference(self.model, preference, adapter_name=self.active_adapters, batch_size=batch_size)
        if batch_size is not None:
            self._check_preference_fits_batch(batch_size)

    def _check_preference_fits_batch(self, batch_size: int) -> None:
        unchecked = set(self.active_adapters)
        for layer in pblora_layers(self.model):
            for name in unchecked & set(layer.pblora_A):
                unchecked.discard(name)
                stored = layer.pblora_preference.get(name)
                if stored is None and not (layer.merged or layer.disable_adapters):
                    raise missing_preference_error(name)
                if stored is not None and stored.dim() == 2 and stored.shape[0] not in (1, batch_size):
                    raise ValueError(
                        f"The preference of adapter '{name}' has {stored.shape[0]} rows but the batch has "
                        f"{batch_size} examples; pass one row per example or a single vector"
                    )
            if not unchecked:
                return

    def merge_and_unload(
        self,
        progressbar: bool = False,
        safe_merge: bool = False,
        adapter_names: list[str] | None = None,
        preference: PreferenceLike | None = None,
    ) -> nn.Module:
        """Merge delta-W(alpha) into the base weights and return the plain transformers model.

        `preference` sets the single alpha to merge for; without it the current preference is used.
        """
        if preference is not None:
            self.set_preference(preference, adapter_name=adapter_names)
        return super().merge_and_unload(progressbar=progressbar, safe_merge=safe_merge, adapter_names=adapter_names)

    def merge_adapter(
        self,
        adapter_names: list[str] | None = None,
        safe_merge: bool = False,
        preference: PreferenceLike | None = None,
    ) -> None:
        """Merge for one fixed preference (set here or before); `unmerge_adapter` restores W0 exactly."""
        if preference is not None:
            self.set_preference(preference, adapter_name=adapter_names)
        super().merge_adapter(adapter_names=adapter_names, safe_merge=safe_merge)
