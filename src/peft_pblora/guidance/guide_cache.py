"""A guide model run in lockstep with generate(): one cached forward per new token, rows kept aligned."""

from __future__ import annotations

import inspect
import weakref
from typing import Any

import torch
from torch import nn
from transformers import StaticCache

from ..data.chat import position_ids_from_mask


def _accepts_logits_to_keep(model: nn.Module) -> bool:
    return "logits_to_keep" in inspect.signature(model.forward).parameters


class CachedGuide:
    """Keeps a guide model's KV cache in step with the sequences generate() passes to a logits processor.

    The first call runs the prompt with positions derived from the attention mask (left padding, absolute-position
    models such as GPT-2); each later call runs only the newest token. When beam search reorders its rows, each row
    is matched to the previous row holding its prefix (within its prompt's group) and the cache is reordered alike.
    """

    def __init__(
        self, model: nn.Module, prompt_attention_mask: torch.Tensor | None = None, num_prompts: int | None = None
    ) -> None:
        self.model = model
        self.prompt_attention_mask = prompt_attention_mask
        self.num_prompts = prompt_attention_mask.shape[0] if prompt_attention_mask is not None else num_prompts
        self._logits_to_keep = {"logits_to_keep": 1} if _accepts_logits_to_keep(model) else {}
        self.reset()

    def reset(self) -> None:
        """Forget the cache; the next call starts from a prompt."""
        self.cache = None
        self.sequences: torch.Tensor | None = None
        self.prompt: torch.Tensor | None = None
        self.attention_mask: torch.Tensor | None = None
        self.next_position: torch.Tensor | None = None

    def is_new_generation(self, input_ids: torch.Tensor) -> bool:
        """True when `input_ids` starts a generation (first call, or a repeat of the same prompts)."""
        if self.sequences is None:
            return True
        if input_ids.shape == self.prompt.shape and torch.equal(input_ids, self.prompt):
            return True
        if input_ids.shape[0] != self.sequences.shape[0] or input_ids.shape[1] != self.sequences.shape[1] + 1:
            raise ValueError(
                f"This guidance processor is following a batch of {tuple(self.sequences.shape)} sequences and got "
                f"{tuple(input_ids.shape)}, which does not continue it: create a new processor (with that batch's "
                "attention_mask) for each generate call, or call reset()"
            )
        return False

    @torch.no_grad()
    def next_token_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The guide's next-token logits (rows, vocab) for every row of `input_ids`."""
        if self.is_new_generation(input_ids):
            return self._prefill(input_ids)
        self._follow_reordered_rows(input_ids)
        return self._step(input_ids)

    def _prompt_mask_for(self, input_ids: torch.Tensor) -> torch.Tensor:
        rows, length = input_ids.shape
        mask = self.prompt_attention_mask
        if mask is None:
            return torch.ones_like(input_ids)
        mask = mask.to(input_ids.device)
        if mask.shape[1] != length or rows % mask.shape[0] != 0:
            raise ValueError(
                f"attention_mask has shape {tuple(mask.shape)} but generate passed prompts of shape "
                f"{tuple(input_ids.shape)}: pass the attention mask of the same tokenized batch"
            )
        return mask.repeat_interleave(rows // mask.shape[0], dim=0)

    def _prefill(self, input_ids: torch.Tensor) -> torch.Tensor:
        self.reset()
        prompt_mask = self._prompt_mask_for(input_ids)
        positions = position_ids_from_mask(prompt_mask)
        cache, self.attention_mask = self._empty_cache_and_mask(input_ids, prompt_mask)
        output = self.model(
            input_ids=input_ids,
            attention_mask=self.attention_mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            **self._logits_to_keep,
        )
        self.cache = output.cache
        self.prompt = self.sequences = input_ids
        self.next_position = positions[:, -1:] + 1
        return output.logits[:, -1]

    def _empty_cache_and_mask(
        self, input_ids: torch.Tensor, prompt_mask: torch.Tensor
    ) -> tuple[Any | None, torch.Tensor]:
        """The cache to run the prompt into (None: the model starts a dynamic one) and the mask to run it with."""
        return None, prompt_mask

    def _follow_reordered_rows(self, input_ids: torch.Tensor) -> None:
        prefix, previous = input_ids[:, :-1], self.sequences
        if torch.equal(prefix, previous):
            return
        rows, length = previous.shape
        # rows of one prompt share its preference and so its cache; without a count, any row with the prefix fits
        prompts = self.num_prompts or 1
        group = rows // prompts
        same = (prefix.view(prompts, group, 1, length) == previous.view(prompts, 1, group, length)).all(-1)
        if not same.any(-1).all():
            raise ValueError(
                "A row of input_ids does not continue any sequence of its prompt from the previous step: create a new "
                "processor for each generate call, or call reset()"
            )
        offsets = torch.arange(prompts, device=input_ids.device).unsqueeze(1) * group
        self._reorder_rows((same.int().argmax(-1) + offsets).reshape(-1))

    def _reorder_rows(self, source_rows: torch.Tensor) -> None:
        self.cache.reorder_cache(source_rows)
        self.attention_mask = self.attention_mask[source_rows]
        self.next_position = self.next_position[source_rows]

    def _step(self, input_ids: torch.Tensor) -> torch.Tensor:
        self.attention_mask = torch.cat([self.attention_mask, self.attention_mask.new_ones(input_ids.shape[0], 1)], 1)
        output = self.model(
            input_ids=input_ids[:, -1:],
            attention_mask=self.attention_mask,
            position_ids=self.next_position,
            cache=self.cache,
            use_cache=True,
        )
        self.cache = output.cache
        self.sequences = input_ids
        self.next_position = self.next_position + 1
        return output.logits[:, -1]


_COMPILED_FORWARDS: weakref.WeakKeyDictionary[nn.Module, dict[str, Any]] = weakref.WeakKeyDictionary()


def compiled_forward(model: nn.Module, **compile_options: Any) -> Any:
    """torch.compile(model) with these options, compiled once per model and reused by every processor."""
    per_model = _COMPILED_FORWARDS.setdefault(model, {})
    key = repr(sorted(compile_options.items()))
    if key not in per_model:
        per_model[key] = torch.compile(model, **compile_options)
    return per_model[key]


class CompiledCachedGuide(CachedGuide):
    """CachedGuide whose one-token step runs a compiled model on a static KV cache.

    At small batch a GPU spends a guided step launching kernels; a static cache (fixed shapes, fixed addresses)
    lets torch.compile fuse the step and, with mode="reduce-overhead", replay it as a CUDA graph. The prompt runs
    eagerly. The cache, attention mask and positions are updated in place; beam reordering copies rows in place.
    """

    def __init__(
        self,
        model: nn.Module,
        prompt_attention_mask: torch.Tensor | None = None,
        num_prompts: int | None = None,
        max_new_tokens: int | None = None,
        compile_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError("A compiled guide needs max_new_tokens (>= 1) to size its static cache")
        self.max_new_tokens = max_new_tokens
        # base and guide usually share their forward's code (e.g. two Llamas), and dynamo keeps one cache of
        # compiled entries per code object: the default limit of 8 entries is soon reached, after which the step
        # silently falls back to eager
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
        options = {"dynamic": False, **(compile_options or {})}
        if options.get("backend", "inductor") == "inductor":
            options.setdefault("mode", "reduce-overhead")
        self.step_forward = compiled_forward(model, **options)
        self.static_cache: StaticCache | None = None
        super().__init__(model, prompt_attention_mask, num_prompts)

    def _empty_cache_and_mask(self, input_ids: torch.Tensor, prompt_mask: torch.Tensor) -> tuple[Any, torch.Tensor]:
        """The static cache (reused while the batch shape stays) and a mask sized for every position it holds."""
        rows, prompt_length = input_ids.shape
        max_length = prompt_length + self.max_new_tokens
        if self.static_cache is None or self._static_shape != (rows, max_length):
            self.static_cache = StaticCache(config=self.model.config, max_cache_len=max_length)
            self._static_shape = (rows, max_length)
        else:
            for layer in self.static_cache.layers:
                if layer.is_initialized:
                    layer.cumulative_length.zero_()
        attention_mask = prompt_mask.new_zeros(rows, max_length)
        attention_mask[:, :prompt_length] = prompt_mask
        return self.static_cache, attention_mask

    def _reorder_rows(self, source_rows: torch.Tensor) -> None:
        for layer in self.static_cache.layers:
            if layer.is_initialized:
                layer.keys.copy_(layer.keys.index_select(0, source_rows))
                layer.values.copy_(layer.values.index_select(0, source_rows))
        self.attention_mask.copy_(self.attention_mask[source_rows])
        self.next_position = self.next_position[source_rows]

    def _step(self, input_ids: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[1] - 1
        if length >= self.attention_mask.shape[1]:
            raise ValueError(
                f"The compiled guide's static cache holds {self.max_new_tokens} new tokens; pass max_new_tokens of "
                "at least the generate call's"
            )
        self.attention_mask[:, length] = 1
        output = self.step_forward(
            input_ids=input_ids[:, -1:],
            attention_mask=self.attention_mask,
            position_ids=self.next_position,
            cache=self.static_cache,
            use_cache=True,
        )
        self.sequences = input_ids
        self.next_position = self.next_position + 1
        return output.logits[:, -1].clone()  # a CUDA graph overwrites its outputs on the next replay
