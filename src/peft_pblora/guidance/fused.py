"""Fused guided decoding: a PARM that is its base plus a PBLoRA adapter guides that base in one batched forward.

Every token runs one forward over 2B rows, [B base rows; B PARM rows]: the adapter is switched off for the base rows
(they are exactly the base model, whatever r1 and the core) and on, at each row's alpha, for the PARM rows. The KV
cache holds the 2B rows; beam search's reordering moves each base row and its PARM row together. `generate` itself
sees only the B base rows, so everything of it works as usual (GenerationConfig, logits processors, stopping
criteria, streamers, sampling, beams); the guidance is the same processor as PARMGuidance's, fed with the PARM rows'
logits of the same forward instead of a second model's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from peft import PeftModel
from torch import nn
from transformers import DynamicCache, GenerationConfig, LogitsProcessorList, StaticCache

from ..tuners.pblora.layer import PBLoraLayer
from ..tuners.pblora.model import preference_per_layer
from ..tuners.pblora.preference import PreferenceLike, expand_preference_rows, validate_preference
from .arguments import REFERENCE_BASE, validate_beta, validate_plausibility
from .guide_state import looks_left_padded
from .guided_decoding import GuidedDecodingProcessor

# generate's keyword arguments the fused path cannot honour: it owns the cache and the model's forward
_REFUSED_GENERATE_KWARGS = {
    "cache": "the fused path keeps its own KV cache of 2B rows",
    "past_key_values": "the fused path keeps its own KV cache of 2B rows",
    "assistant_model": "assisted decoding runs a second model the fused forward does not cover",
    "negative_prompt_ids": "classifier-free guidance runs a second forward the fused path does not cover",
    "inputs_embeds": "the guidance follows token ids: pass input_ids",
    "preference": "the preference is PARMGuidedModel's alpha",
}
_ROW_INPUTS = ("input_ids", "attention_mask", "position_ids", "token_type_ids")


def _fused_beam_idx(beam_idx: torch.LongTensor) -> torch.LongTensor:
    """Beam search's B row indices as 2B: each base row and its PARM row (B rows further) move together."""
    return torch.cat([beam_idx, beam_idx + beam_idx.shape[0]])


class FusedCache(DynamicCache):
    """A DynamicCache of 2B rows, [base rows; PARM rows], that generate reorders as if it held B rows."""

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        super().reorder_cache(_fused_beam_idx(beam_idx))


class FusedStaticCache(StaticCache):
    """A StaticCache of 2B rows, [base rows; PARM rows], reordered as if it held B rows.

    A static cache lets `generate` compile the decoding step (on CUDA by default; `CompileConfig` sets how).
    """

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        super().reorder_cache(_fused_beam_idx(beam_idx))


class _FusedRows:
    """The PARM rows' next-token logits of the fused forward, handed to the guidance processor: its 'guide'."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.reset()

    def reset(self) -> None:
        self.logits: torch.Tensor | None = None
        self.steps = 0

    def is_new_generation(self, input_ids: torch.Tensor) -> bool:
        return self.steps == 0

    def next_token_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        logits, self.logits = self.logits, None
        if logits is None or logits.shape[0] != input_ids.shape[0]:
            raise RuntimeError(
                "The fused guidance processor ran without the fused forward's PARM rows: use it only through "
                "PARMGuidedModel.generate"
            )
        self.steps += 1
        return logits


class _FusedPARMGuidance(GuidedDecodingProcessor):
    """PARMGuidance's rule on the PARM rows of the fused forward (no second model, no second cache)."""

    guides_argument = "parm"

    def __init__(
        self,
        model: nn.Module,
        alpha: torch.Tensor,
        beta: float,
        attention_mask: torch.Tensor | None,
        reference: str | None,
        plausibility: float | None = None,
    ) -> None:
        self.alpha = alpha
        self.fused_rows = _FusedRows(model)
        # no guide layers to refuse (the model generating is the PARM by design) and no state for the guide state to
        # switch: PARMGuidedModel sets the model's mode and preference for the whole generate call
        self._init_state(
            [self.fused_rows],
            beta,
            reference,
            attention_mask,
            None,
            None,
            num_reward_guides=1,
            plausibility=plausibility,
        )

    def _prepare_guide_states(self, rows: int) -> None:
        """The model's mode and preference are set for the whole generate call by PARMGuidedModel."""

    def _row_weights(self, rows: int) -> torch.Tensor:
        return torch.full((rows, 1), 1.0 / self.beta)


class PARMGuidedModel:
    """A PeftModel with a PBLoRA adapter that generates from its own base, guided by itself (the PARM) in one forward.

    The PARM of the paper's main setting is its base plus a PBLoRA adapter: the same weights. Each guided token costs
    one forward over 2B rows (B base rows with the adapter switched off, B PARM rows at their alpha) instead of two
    forwards over B rows by two models, and one copy of the weights is in memory. The scores are PARMGuidance's:
    log_softmax(base) + (1/beta) log_softmax(PARM(alpha)), or with `reference="base"` the PARM's log-ratio to the
    base, (1/beta) (log pi_PARM - log pi_base), free here since the base rows are that reference. `generate` takes
    everything `model.generate` takes (GenerationConfig, logits processors run after the guidance, stopping criteria,
    streamers, greedy, sampling with temperature / top-k / top-p after the guidance, beam search,
    `num_return_sequences`) and gives the same tokens as `base.generate` with a `PARMGuidance` on a separate copy of
    the base.

    Args:
        parm (nn.Module):
            A `PeftModel` (or a transformers model that loaded the adapter) with a PBLoRA adapter, unmerged.
        alpha (list[float] | list[list[float]] | torch.Tensor):
            The preference: one vector (k,) for the batch or one row per prompt (batch, k), on the simplex.
        beta (float, optional):
            Temperature: the PARM's log-probabilities weigh 1/beta. Defaults to `1.0`.
        reference (str, optional):
            `None` (the PARM's log-probabilities are the reward) or `"base"` (its log-ratio to the base, for a PARM
            trained with `PARMConfig(reference_free=False)`). A reference model is a second model: use
            `PARMGuidance` for it. Defaults to `None`.
        adapter_name (str, optional):
            The PBLoRA adapter to steer with; defaults to the active one.
        plausibility (float, optional):
            Write only tokens the base finds at least this share as likely as its most likely token; see
            `PARMGuidance`. Defaults to `None`.

    Raises:
        ValueError: If the model has no PBLoRA adapter or it is merged or disabled, `alpha`, `beta` or
            `plausibility` is invalid,
            `reference` is a model; in `generate`, if alpha's rows do not match the prompts, the prompts are
            left-padded without an attention mask, or an option the fused path cannot honour is passed (its own
            cache, `use_cache=False`, assisted decoding, `inputs_embeds`), or a static cache without
            `max_new_tokens`.

    Examples:
        >>> import torch
        >>> from peft import get_peft_model
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from peft_pblora import PARMGuidedModel, PBLoraConfig
        >>> _ = torch.manual_seed(0)
        >>> tiny = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        ...     num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=1)
        >>> parm = get_peft_model(LlamaForCausalLM(tiny), PBLoraConfig(r1=2, r2=2, target_modules=["q_proj"]))
        >>> prompts = torch.tensor([[5, 6, 7], [0, 8, 9]])  # the second prompt is left-padded
        >>> mask = (prompts != 0).long()
        >>> guided = PARMGuidedModel(parm, alpha=[[1.0, 0.0], [0.3, 0.7]], beta=0.5)
        >>> guided.generate(input_ids=prompts, attention_mask=mask, max_new_tokens=4, do_sample=False).shape
        torch.Size([2, 7])
    """

    def __init__(
        self,
        parm: nn.Module,
        alpha: PreferenceLike,
        beta: float = 1.0,
        reference: str | None = None,
        adapter_name: str | None = None,
        plausibility: float | None = None,
    ) -> None:
        self.parm = parm
        self.model = parm.get_base_model() if isinstance(parm, PeftModel) else parm
        self.layers = [module for module in self.model.modules() if isinstance(module, PBLoraLayer)]
        if not self.layers:
            raise ValueError("parm has no PBLoRA layers: the fused path steers a model with its own PBLoRA adapter")
        active = list(self.layers[0].active_adapters)
        self.adapter_name = adapter_name if adapter_name is not None else (active[0] if active else None)
        if self.adapter_name not in self.layers[0].num_preferences:
            raise ValueError(
                f"Unknown PBLoRA adapter {self.adapter_name!r}; the PARM has {sorted(self.layers[0].num_preferences)}"
            )
        self.check_model_state()
        self.alpha = validate_preference(alpha, self.layers[0].num_preferences[self.adapter_name], name="alpha")
        self.beta = validate_beta(beta)
        if reference is not None and not (isinstance(reference, str) and reference == REFERENCE_BASE):
            raise ValueError(
                f"reference must be None or {REFERENCE_BASE!r} in the fused path (the base rows are that reference); "
                "for a reference model use PARMGuidance with a separate base"
            )
        self.reference = reference
        self.plausibility = validate_plausibility(plausibility)

    def check_model_state(self) -> None:
        """Raise a ValueError unless the adapter alone is active, unmerged and enabled: else base rows see an adapter.

        Run at construction and again by each `generate`, since the model can be merged, disabled or given more
        active adapters in between.
        """
        active = sorted({name for layer in self.layers for name in layer.active_adapters if name in layer.pblora_A})
        if self.adapter_name not in active:
            raise ValueError(f"adapter_name: PBLoRA adapter {self.adapter_name!r} is not active (active: {active})")
        if len(active) > 1:
            raise ValueError(
                f"parm: several PBLoRA adapters are active ({active}); the fused path switches off only "
                f"{self.adapter_name!r} for the base rows, so they would decode with the others on: activate "
                f"{self.adapter_name!r} alone (set_adapter)"
            )
        if any(layer.merged for layer in self.layers):
            raise ValueError(
                "parm: its PBLoRA adapter is merged, so the base rows cannot switch it off: call "
                "parm.unmerge_adapter() first"
            )
        if any(layer.disable_adapters for layer in self.layers):
            raise ValueError("parm: its adapters are disabled (disable_adapter()), so there is no PARM to guide with")

    def check_batch(self, input_ids: torch.Tensor) -> None:
        """Raise a ValueError if alpha's rows do not match the prompts of `input_ids`."""
        batch = input_ids.shape[0]
        if self.alpha.dim() == 2 and self.alpha.shape[0] not in (1, batch):
            raise ValueError(
                f"alpha has {self.alpha.shape[0]} rows but the batch has {batch} prompts; pass one row per prompt "
                "or a single vector"
            )

    @property
    def config(self) -> Any:
        """The model's config."""
        return self.model.config

    @property
    def generation_config(self) -> GenerationConfig:
        """The model's generation config, used when `generate` gets none."""
        return self.model.generation_config

    @property
    def device(self) -> torch.device:
        return self.model.device

    def generate(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        generation_config: GenerationConfig | None = None,
        logits_processor: LogitsProcessorList | list | None = None,
        **kwargs: Any,
    ) -> Any:
        """`model.generate` with the guidance: same arguments, same outputs (B rows), one forward of 2B rows a token.

        The guidance heads the `logits_processor` list, so it runs after the processors transformers builds from the
        generation config (repetition_penalty, min_new_tokens, bad_words_ids, ...) and before your `logits_processor`
        and the sampling warpers (temperature, top-k, top-p): the same order as PARMGuidance in `model.generate`.
        Returns what `generate` returns; a returned cache is dropped (it holds the 2B fused rows).
        """
        self.check_model_state()
        input_ids = kwargs.pop("inputs", input_ids)
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[0] == 0:
            raise ValueError("input_ids must be the (batch, prompt length) tensor of the tokenized prompts")
        if attention_mask is not None and (
            not isinstance(attention_mask, torch.Tensor) or attention_mask.shape != input_ids.shape
        ):
            raise ValueError(f"attention_mask must have the shape of input_ids {tuple(input_ids.shape)}")
        for name, reason in _REFUSED_GENERATE_KWARGS.items():
            if kwargs.get(name) is not None:
                raise ValueError(f"{name}: not supported by the fused guided path ({reason})")
        config = generation_config if generation_config is not None else self.model.generation_config
        cache_implementation = kwargs.pop("cache_implementation", getattr(config, "cache_implementation", None))
        if cache_implementation not in (None, "dynamic", "static"):
            raise ValueError(
                f"cache_implementation={cache_implementation!r}: the fused path keeps a dynamic or a static cache of "
                "2B rows"
            )
        if getattr(config, "cache_implementation", None) is not None:
            config = copy.deepcopy(config)  # the fused path builds the cache itself; generate refuses both
            config.cache_implementation = None
            generation_config = config
        if kwargs.get("use_cache", getattr(config, "use_cache", True)) is False:
            raise ValueError("use_cache=False: the fused path decodes from its KV cache")
        self.check_batch(input_ids)
        if attention_mask is None:
            pads = {kwargs.get("pad_token_id"), getattr(config, "pad_token_id", None), self.config.pad_token_id}
            pads = {pad for pad in pads if isinstance(pad, int)}
            if looks_left_padded(input_ids, pads):
                raise ValueError(
                    f"attention_mask: the prompts look left-padded (rows start with different numbers of pad tokens, "
                    f"ids {sorted(pads)}) but no attention_mask was given: pass attention_mask=enc.attention_mask"
                )
        processor = _FusedPARMGuidance(
            self.model, self.alpha, self.beta, attention_mask, self.reference, self.plausibility
        )
        processors = LogitsProcessorList([processor, *(logits_processor or [])])
        cache = self._fused_cache(cache_implementation, input_ids, config, kwargs)
        with self._fused(processor.fused_rows):
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=generation_config,
                logits_processor=processors,
                cache=cache,
                **kwargs,
            )
        if not isinstance(output, torch.Tensor):
            for name in ("cache", "past_key_values"):
                if name in output:
                    output[name] = None
        return output

    def _fused_cache(
        self, cache_implementation: str | None, input_ids: torch.Tensor, config: GenerationConfig, kwargs: dict
    ) -> DynamicCache | StaticCache:
        """The cache of the 2B fused rows: dynamic, or static (sized for the prompt and the new tokens) to compile."""
        text_config = self.model.config.get_text_config(decoder=True)
        if cache_implementation != "static":
            return FusedCache(config=text_config)
        max_new_tokens = kwargs.get("max_new_tokens", config.max_new_tokens)
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(
                "cache_implementation='static': pass max_new_tokens (>= 1) to size the fused path's static cache"
            )
        return FusedStaticCache(config=text_config, max_cache_len=input_ids.shape[1] + max_new_tokens)

    @contextmanager
    def _fused(self, fused_rows: _FusedRows) -> Iterator[None]:
        """During the block every forward of the model runs 2B rows; afterwards the model is exactly as it was."""
        name = self.adapter_name
        training = [module for module in self.model.modules() if module.training]
        stores = ("pblora_preference", "pblora_rows_on", "pblora_row_cores")
        saved = [(layer, [getattr(layer, store).get(name) for store in stores]) for layer in self.layers]
        state = {"rows": None}

        def before_forward(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            if args:
                raise ValueError("The fused guided path passes the model's inputs by keyword")
            ids = kwargs.get("input_ids")
            if not isinstance(ids, torch.Tensor):
                raise ValueError("input_ids: the fused guided path runs on token ids")
            rows = ids.shape[0]
            if state["rows"] != rows:
                self._set_rows(rows)
                state["rows"] = rows
            for key in _ROW_INPUTS:
                value = kwargs.get(key)
                if isinstance(value, torch.Tensor) and value.dim() >= 1 and value.shape[0] == rows:
                    kwargs[key] = torch.cat([value, value])
            return args, kwargs

        def after_forward(module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
            rows = state["rows"]
            fused_rows.logits = output["logits"][rows:, -1]
            for key in list(output.keys()):
                value = output[key]
                if key == "cache":
                    continue
                if isinstance(value, torch.Tensor) and value.dim() >= 1 and value.shape[0] == 2 * rows:
                    output[key] = value[:rows]
                elif isinstance(value, tuple) and all(isinstance(item, torch.Tensor) for item in value):
                    output[key] = tuple(item[:rows] if item.shape[0] == 2 * rows else item for item in value)
            return output

        for module in training:
            module.training = False
        handles = [
            self.model.register_forward_pre_hook(before_forward, with_kwargs=True),
            self.model.register_forward_hook(after_forward, with_kwargs=True),
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
            for layer, values in saved:
                for store_name, value in zip(stores, values, strict=True):
                    store = getattr(layer, store_name)
                    if value is None:
                        store.pop(name, None)
                    else:
                        store[name] = value
            for module in training:
                module.training = True

    def _set_rows(self, rows: int) -> None:
        """Preference rows and the adapter switch for [rows base rows; rows PARM rows] on every layer.

        Each layer also freezes its per-row cores for the call (the preference is fixed while generate runs), so a
        decoding step does not rebuild them.
        """
        preference = expand_preference_rows(self.alpha, rows, name="alpha")
        if preference.dim() == 2:
            preference = torch.cat([preference, preference])
        rows_on = torch.arange(2 * rows) >= rows
        for layer, on_device in preference_per_layer(self.layers, self.adapter_name, preference):
            layer.pblora_preference[self.adapter_name] = on_device
            layer.pblora_rows_on[self.adapter_name] = rows_on.to(on_device.device)
            layer.set_row_cores(self.adapter_name, on_device, rows_on)
