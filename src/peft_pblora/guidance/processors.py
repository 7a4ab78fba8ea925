"""Guided decoding inside model.generate: a frozen base model steered by reward models, token by token.

PARM: scores = log_softmax(base) + (1/beta) log_softmax(PARM(alpha)), two forwards per token whatever k is.
GenARM: scores = log_softmax(base) + sum_i (alpha_i/beta) log_softmax(ARM_i), 1 + k forwards per token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from peft import PeftModel
from torch import nn
from transformers import LogitsProcessor, LogitsProcessorList

from ..data.chat import chat_texts, left_padding
from ..tuners.pblora.model import pblora_layers, set_preference
from ..tuners.pblora.preference import PreferenceLike, expand_preference_rows, validate_preference
from .guide_cache import CachedGuide, CompiledCachedGuide
from .vocabulary import shared_vocabulary_size


def validate_beta(beta: float) -> float:
    """beta must be a finite positive number: guidance weight is 1/beta."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a finite number > 0 (the guide's weight is 1/beta), got {beta!r}")
    return float(beta)


def _bare_model(model: nn.Module) -> nn.Module:
    """The transformers model inside a PeftModel: its PBLoRA layers carry the preference, without PEFT's wrappers."""
    return model.get_base_model() if isinstance(model, PeftModel) else model


def _vocab_size(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    return getattr(config, "vocab_size", None)


def _check_prompt_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    if attention_mask is None:
        return None
    if not isinstance(attention_mask, torch.Tensor) or attention_mask.dim() != 2:
        raise ValueError("attention_mask must be the (batch, prompt length) mask of the tokenized prompts")
    return attention_mask


class _GuidedDecodingProcessor(LogitsProcessor):
    """Adds weighted guide log-probabilities to the base model's log-probabilities at every step."""

    def __init__(
        self,
        guides: Sequence[nn.Module],
        beta: float,
        attention_mask: torch.Tensor | None,
        num_prompts: int | None,
        tokenizer: Any | None,
        guide_tokenizer: Any | None,
        compile: bool = False,
        max_new_tokens: int | None = None,
        compile_options: dict[str, Any] | None = None,
    ) -> None:
        self.beta = validate_beta(beta)
        attention_mask = _check_prompt_mask(attention_mask)
        self.tokenizer, self.guide_tokenizer = tokenizer, guide_tokenizer
        if compile:
            self.guides = [
                CompiledCachedGuide(_bare_model(guide), attention_mask, num_prompts, max_new_tokens, compile_options)
                for guide in guides
            ]
        else:
            self.guides = [CachedGuide(_bare_model(guide), attention_mask, num_prompts) for guide in guides]
        self.pad_token_id = getattr(getattr(self.guides[0].model, "config", None), "pad_token_id", None)
        self.attention_mask = attention_mask
        self._shared_vocab: int | None = None
        self._weights: torch.Tensor | None = None
        if tokenizer is not None or guide_tokenizer is not None:
            for guide in guides:
                size = _vocab_size(guide)
                if size is not None:
                    shared_vocabulary_size(size, size, tokenizer, guide_tokenizer)

    def check_base_vocabulary(self, base_vocab_size: int) -> int:
        """Number of token ids shared by the base and every guide; raises if the vocabularies differ."""
        shared = base_vocab_size
        for guide in self.guides:
            guide_size = _vocab_size(guide.model)
            if guide_size is not None:
                shared = min(
                    shared, shared_vocabulary_size(base_vocab_size, guide_size, self.tokenizer, self.guide_tokenizer)
                )
        return shared

    def reset(self) -> None:
        """Forget the guides' caches so the processor can follow a new generate call with the same prompts' mask."""
        for guide in self.guides:
            guide.reset()

    def _row_weights(self, rows: int) -> torch.Tensor:
        """(rows, number of guides) weights of each guide's log-probabilities."""
        raise NotImplementedError

    def _on_new_generation(self, input_ids: torch.Tensor) -> None:
        if self.attention_mask is None and self.pad_token_id is not None and input_ids.shape[0] > 1:
            if (input_ids[:, 0] == self.pad_token_id).any():
                raise ValueError(
                    f"The prompts look left-padded (a row starts with pad token id {self.pad_token_id}) but no "
                    "attention_mask was given: pass attention_mask=enc.attention_mask"
                )

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.guides[0].is_new_generation(input_ids):
            self._shared_vocab = self.check_base_vocabulary(scores.shape[-1])
            self._on_new_generation(input_ids)
            self._weights = self._row_weights(input_ids.shape[0]).to(scores.device)  # fixed for the whole call
        guide_logits = [guide.next_token_logits(input_ids) for guide in self.guides]
        shared, weights = self._shared_vocab, self._weights
        guided = torch.log_softmax(scores.float(), dim=-1)
        bonus = sum(
            weights[:, index : index + 1] * torch.log_softmax(logits[:, :shared].float(), dim=-1)
            for index, logits in enumerate(guide_logits)
        )
        if shared == guided.shape[-1]:
            return guided + bonus
        guided = guided.clone()
        guided[:, :shared] += bonus
        guided[:, shared:] = -math.inf  # the guides cannot score these ids
        return guided


class PARMGuidance(_GuidedDecodingProcessor):
    """Steers generate() with a preference-aware reward model: log pi_base + (1/beta) log pi_PARM(alpha).

    `parm` is a PeftModel with a PBLoRA adapter (alpha: one vector (k,) for the batch or one row per prompt
    (batch, k)) or a plain model merged for one alpha (alpha=None). Pass the tokenized batch's `attention_mask` for
    padded prompts. The PARM keeps its own KV cache: one cached forward per generated token. `compile=True` runs
    that step compiled on a static cache sized for `max_new_tokens` (CUDA graphs on a GPU); `compile_options` go
    to torch.compile (default mode="reduce-overhead", dynamic=False).
    """

    def __init__(
        self,
        parm: nn.Module,
        alpha: PreferenceLike | None = None,
        beta: float = 1.0,
        attention_mask: torch.Tensor | None = None,
        tokenizer: Any | None = None,
        parm_tokenizer: Any | None = None,
        adapter_name: str | None = None,
        compile: bool = False,
        max_new_tokens: int | None = None,
        compile_options: dict[str, Any] | None = None,
    ) -> None:
        self.parm = parm
        self.adapter_name = adapter_name
        layers = list(pblora_layers(parm))
        if layers:
            if alpha is None:
                raise ValueError("The PARM has a PBLoRA adapter: pass alpha, one vector or one row per prompt")
            name = adapter_name or layers[0].active_adapters[0]
            if name not in layers[0].num_preferences:
                raise ValueError(f"Unknown PBLoRA adapter {name!r}; the PARM has {sorted(layers[0].num_preferences)}")
            prompts = attention_mask.shape[0] if isinstance(attention_mask, torch.Tensor) else None
            self.alpha = validate_preference(alpha, layers[0].num_preferences[name], batch_size=prompts, name="alpha")
        elif alpha is not None:
            raise ValueError(
                "The PARM has no PBLoRA adapter (a merged PARM is fixed to one alpha): pass alpha=None, or pass the "
                "PeftModel to steer per call"
            )
        else:
            self.alpha = None
        num_prompts = self.alpha.shape[0] if self.alpha is not None and self.alpha.dim() == 2 else None
        super().__init__(
            [parm], beta, attention_mask, num_prompts, tokenizer, parm_tokenizer,
            compile=compile, max_new_tokens=max_new_tokens, compile_options=compile_options,
        )  # fmt: skip

    def _on_new_generation(self, input_ids: torch.Tensor) -> None:
        super()._on_new_generation(input_ids)
        if self.alpha is None:
            return
        rows = input_ids.shape[0]
        if self.alpha.dim() == 2 and rows % self.alpha.shape[0] != 0:
            raise ValueError(f"alpha has {self.alpha.shape[0]} rows but generate passed {rows} sequences")
        adapter = self.adapter_name or None
        set_preference(self.parm, expand_preference_rows(self.alpha, rows, name="alpha"), adapter_name=adapter)

    def _row_weights(self, rows: int) -> torch.Tensor:
        return torch.full((rows, 1), 1.0 / self.beta)


class GenARMGuidance(_GuidedDecodingProcessor):
    """GenARM's multi-objective decoding: log pi_base + sum_i (alpha_i / beta) log pi_ARM_i, 1 + k forwards a token.

    One single-objective autoregressive reward model per objective; alpha is one vector (k,) or one row per prompt.
    """

    def __init__(
        self,
        arms: Sequence[nn.Module],
        alpha: PreferenceLike,
        beta: float = 1.0,
        attention_mask: torch.Tensor | None = None,
        tokenizer: Any | None = None,
        arm_tokenizer: Any | None = None,
        compile: bool = False,
        max_new_tokens: int | None = None,
        compile_options: dict[str, Any] | None = None,
    ) -> None:
        if len(arms) == 0:
            raise ValueError("GenARMGuidance needs at least one reward model")
        prompts = attention_mask.shape[0] if isinstance(attention_mask, torch.Tensor) else None
        self.alpha = validate_preference(alpha, len(arms), batch_size=prompts, name="alpha")
        num_prompts = self.alpha.shape[0] if self.alpha.dim() == 2 else None
        super().__init__(
            arms, beta, attention_mask, num_prompts, tokenizer, arm_tokenizer,
            compile=compile, max_new_tokens=max_new_tokens, compile_options=compile_options,
        )  # fmt: skip

    def _row_weights(self, rows: int) -> torch.Tensor:
        weights = expand_preference_rows(self.alpha, rows, name="alpha")
        return (weights if weights.dim() == 2 else weights.expand(rows, -1)) / self.beta


def guided_generate(
    base: nn.Module,
    parm: nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    alpha: PreferenceLike | None,
    beta: float = 1.0,
    parm_tokenizer: Any | None = None,
    use_chat_template: bool = False,
    **generate_kwargs: Any,
) -> list[str]:
    """Generate a response for every prompt with `base`, steered by `parm` at `alpha`; returns the new texts.

    Prompts are left-padded into one batch; `use_chat_template` wraps each as a user message first. `alpha` is one
    vector or one row per prompt. Extra keyword arguments go to `base.generate` (max_new_tokens, do_sample, ...).
    Every input is checked before the base model runs.
    """
    if isinstance(prompts, str) or len(prompts) == 0:
        raise ValueError("prompts must be a non-empty list of strings")
    if tokenizer.pad_token_id is None:
        raise ValueError("The tokenizer has no pad token: set tokenizer.pad_token (e.g. to its eos_token) first")
    texts = list(prompts)
    if use_chat_template:
        texts = chat_texts(tokenizer, texts)
    with left_padding(tokenizer):
        encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not use_chat_template)
    device = next(base.parameters()).device
    encoded = {key: value.to(device) for key, value in encoded.items()}
    processor = PARMGuidance(
        parm, alpha, beta, attention_mask=encoded["attention_mask"], tokenizer=tokenizer, parm_tokenizer=parm_tokenizer
    )
    base_vocab = _vocab_size(base)
    if base_vocab is not None:
        processor.check_base_vocabulary(base_vocab)
    generate_kwargs.setdefault("pad_token_id", tokenizer.pad_token_id)
    output = base.generate(**encoded, logits_processor=LogitsProcessorList([processor]), **generate_kwargs)
    return tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
