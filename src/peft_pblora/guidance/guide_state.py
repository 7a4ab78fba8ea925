"""What a guidance processor needs beyond `(input_ids, scores)`: the generate call it runs in, and a guide's state.

A `LogitsProcessor` is called with `(input_ids, scores)` only. The generate call it runs in (the model generating,
its generation config and model kwargs) is found on the call stack, once per generation, to refuse what cannot be
guided correctly: a guide that shares its PBLoRA layers with the model generating, alpha rows that do not match the
prompts, padded prompts without the processor's attention mask.

A guide runs in inference mode and at the guidance's preference during its own forward only: the modes and the
stored preference of the caller's model are put back after each forward, so a processor never changes them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from transformers import GenerationConfig, GenerationMixin

from ..tuners.pblora.layer import PBLoraLayer
from ..tuners.pblora.model import pblora_layers, preference_per_layer
from ..tuners.pblora.preference import expand_preference_rows

_MISSING = object()
_ASSISTED_LOCALS = ("assistant_model", "candidate_generator")  # generate's locals when it decodes assisted


@dataclass
class GenerateCall:
    """The `generate` call a logits processor is running in, as found on the call stack."""

    model: nn.Module
    generation_config: GenerationConfig
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    assisted: bool = False  # an enclosing generate decodes with an assistant model or candidate generator

    @property
    def rows_per_prompt(self) -> int:
        """How many rows generate made of each prompt (`num_beams` or `num_return_sequences`, repeat_interleave)."""
        config = self.generation_config
        return max(int(config.num_beams or 1), int(config.num_return_sequences or 1))

    def pad_token_ids(self) -> set[int]:
        """The pad token ids generate knows of (its generation config's)."""
        ids = set()
        tensor = getattr(self.generation_config, "_pad_token_tensor", None)
        if isinstance(tensor, torch.Tensor):
            ids.update(int(value) for value in tensor.reshape(-1).tolist())
        if isinstance(self.generation_config.pad_token_id, int):
            ids.add(self.generation_config.pad_token_id)
        return ids

    def prompts_are_padded(self, prompt_length: int) -> bool:
        """Whether generate's own attention mask has padding in the prompt (generate drops an all-ones mask)."""
        mask = self.model_kwargs.get("attention_mask")
        if not isinstance(mask, torch.Tensor) or mask.dim() != 2 or mask.shape[1] < prompt_length:
            return False
        return bool((mask[:, :prompt_length] == 0).any())


def find_generate_call(max_depth: int = 64) -> GenerateCall | None:
    """The innermost `generate` decoding loop on the call stack (a GenerationMixin method with a generation config).

    The frames above it are searched too for assisted decoding (an `assistant_model` or a `candidate_generator`):
    the assistant's generate runs the same logits processors, so the innermost call is then not the model guided.
    """
    frame = sys._getframe(1)
    call = None
    try:
        for _ in range(max_depth):
            if frame is None:
                break
            local = frame.f_locals
            owner, config = local.get("self"), local.get("generation_config")
            if isinstance(owner, GenerationMixin):
                if call is None and isinstance(config, GenerationConfig):
                    kwargs = local.get("model_kwargs")
                    call = GenerateCall(owner, config, kwargs if isinstance(kwargs, dict) else {})
                if call is not None and any(local.get(name) is not None for name in _ASSISTED_LOCALS):
                    call.assisted = True
                    break
            frame = frame.f_back
        return call
    finally:
        del frame


def pblora_layer_ids(model: nn.Module) -> set[int]:
    """Identities of the PBLoRA layers inside `model`."""
    return {id(module) for module in model.modules() if isinstance(module, PBLoraLayer)}


def shares_pblora_layers(model: nn.Module, layer_ids: set[int]) -> bool:
    """Whether `model` holds one of these PBLoRA layers (the same objects: the same weights and the same state)."""
    return bool(layer_ids) and any(id(module) in layer_ids for module in model.modules())


def leading_pad_counts(input_ids: torch.Tensor, pad_token_ids: Iterable[int]) -> torch.Tensor:
    """Number of pad tokens each row starts with."""
    is_pad = torch.zeros_like(input_ids, dtype=torch.bool)
    for pad in pad_token_ids:
        is_pad |= input_ids == pad
    return is_pad.int().cumprod(dim=1).sum(dim=1)


def looks_left_padded(input_ids: torch.Tensor, pad_token_ids: Iterable[int]) -> bool:
    """Rows starting with different numbers of pad tokens: prompts of different lengths padded on the left.

    Prompts of one length are not padded, whatever their first token (a pad id that doubles as BOS).
    """
    pad_token_ids = [pad for pad in pad_token_ids if pad is not None]
    if input_ids.shape[0] < 2 or not pad_token_ids:
        return False
    counts = leading_pad_counts(input_ids, pad_token_ids)
    return bool((counts != counts[0]).any())


class GuideState:
    """Run-time state one guide needs during its forward: inference mode and, for a PBLoRA guide, its preference.

    `prepare` records, for one generation, which of the guide's modules are in training mode and the preference rows
    to put on its PBLoRA layers; `active()` applies both around one forward and then puts back exactly what was there.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.training_modules: list[nn.Module] = []
        self.preferences: list[tuple[PBLoraLayer, str, torch.Tensor]] = []

    def prepare(self, preference: torch.Tensor | None, adapter_names: list[str], rows: int) -> None:
        """Record the modules to switch to inference mode and the preference rows for a batch of `rows`."""
        self.training_modules = [module for module in self.model.modules() if module.training]
        self.preferences = []
        if preference is None:
            return
        rows_preference = expand_preference_rows(preference, rows, name="alpha")
        layers = list(pblora_layers(self.model))
        for name in adapter_names:
            for module, on_device in preference_per_layer(layers, name, rows_preference):
                self.preferences.append((module, name, on_device))

    @contextmanager
    def active(self) -> Iterator[None]:
        """Inference mode and the guidance's preference during the block; the caller's modes and preference after."""
        for module in self.training_modules:
            module.training = False
        saved = []
        try:
            for layer, name, preference in self.preferences:
                saved.append((layer, name, layer.pblora_preference.get(name, _MISSING)))
                layer.pblora_preference[name] = preference
            yield
        finally:
            for layer, name, previous in reversed(saved):
                if previous is _MISSING:
                    layer.pblora_preference.pop(name, None)
                else:
                    layer.pblora_preference[name] = previous
            for module in self.training_modules:
                module.training = True
