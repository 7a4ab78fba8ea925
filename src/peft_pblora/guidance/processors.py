"""Guided decoding inside model.generate: a frozen base model steered by reward models, token by token.

PARM: scores = log_softmax(base) + (1/beta) log_softmax(PARM(alpha)), two forwards per token whatever k is.
GenARM: scores = log_softmax(base) + sum_i (alpha_i/beta) log_softmax(ARM_i), 1 + k forwards per token.
With a `reference`, each guide adds its log-ratio to the reference instead of its log-probabilities: the reward a
guide learned relative to its starting model (`PARMConfig(reference_free=False)`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from peft import PeftModel
from torch import nn
from transformers import LogitsProcessor

from ..tuners.pblora.model import pblora_layers
from ..tuners.pblora.preference import PreferenceLike, expand_preference_rows, validate_preference
from .arguments import (
    REFERENCE_BASE,
    check_prompt_mask,
    check_reference,
    validate_beta,
    validate_plausibility,
)
from .guide_cache import CachedGuide, CompiledCachedGuide
from .guide_state import (
    GenerateCall,
    GuideState,
    find_generate_call,
    looks_left_padded,
    pblora_layer_ids,
    shares_pblora_layers,
)
from .vocabulary import shared_vocabulary_size


def _bare_model(model: nn.Module) -> nn.Module:
    """The transformers model inside a PeftModel: its PBLoRA layers carry the preference, without PEFT's wrappers."""
    return model.get_base_model() if isinstance(model, PeftModel) else model


def _vocab_size(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    return getattr(config, "vocab_size", None)


class _GuidedDecodingProcessor(LogitsProcessor):
    """Adds weighted guide log-probabilities to the base model's log-probabilities at every step."""

    alpha: torch.Tensor | None = None
    guides_argument = "guides"  # the argument that gave the guides, named in errors
    _warned_no_generate_call = False  # warn once per processor that the generate call's checks were skipped

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
        reference: nn.Module | str | None = None,
        plausibility: float | None = None,
    ) -> None:
        beta = validate_beta(beta)
        plausibility = validate_plausibility(plausibility)
        attention_mask = check_prompt_mask(attention_mask)
        reference = check_reference(reference)
        num_reward_guides = len(guides)
        if isinstance(reference, nn.Module):
            guides = [*guides, reference]  # one more cached forward: the reference's log-probabilities
            shared = pblora_layer_ids(_bare_model(reference)) & {
                layer for guide in guides[:num_reward_guides] for layer in pblora_layer_ids(_bare_model(guide))
            }
            if shared:
                raise ValueError(
                    "reference shares its PBLoRA layers with a guide (e.g. parm.get_base_model()): it would run with "
                    "the adapter on. Pass reference='base' when the base is the PARM's starting model, or a separate "
                    "copy of the starting model"
                )
        if compile:
            cached = [
                CompiledCachedGuide(_bare_model(guide), attention_mask, num_prompts, max_new_tokens, compile_options)
                for guide in guides
            ]
        else:
            cached = [CachedGuide(_bare_model(guide), attention_mask, num_prompts) for guide in guides]
        self._init_state(
            cached, beta, reference, attention_mask, tokenizer, guide_tokenizer, num_reward_guides, plausibility
        )
        self._guide_layer_ids = set().union(*(pblora_layer_ids(guide.model) for guide in cached))
        if tokenizer is not None or guide_tokenizer is not None:
            for guide in guides:
                size = _vocab_size(guide)
                if size is not None:
                    shared_vocabulary_size(size, size, tokenizer, guide_tokenizer)

    def _init_state(
        self,
        guides: list[Any],
        beta: float,
        reference: nn.Module | str | None,
        attention_mask: torch.Tensor | None,
        tokenizer: Any | None,
        guide_tokenizer: Any | None,
        num_reward_guides: int,
        plausibility: float | None = None,
    ) -> None:
        """Set every attribute `__call__` reads, in one place, so a subclass that builds its own guides misses none."""
        self.beta = validate_beta(beta)
        self.plausibility = validate_plausibility(plausibility)
        self.reference = check_reference(reference)
        self.tokenizer, self.guide_tokenizer = tokenizer, guide_tokenizer
        self.num_reward_guides = num_reward_guides
        self.guides = guides
        self.guide_states = [GuideState(guide.model) for guide in guides]
        self._guide_layer_ids: set[int] = set()  # the guides' PBLoRA layers, refused in the model generating
        self.pad_token_id = getattr(getattr(guides[0].model, "config", None), "pad_token_id", None)
        self.attention_mask = attention_mask
        self._shared_vocab: int | None = None
        self._weights: torch.Tensor | None = None

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
        """(rows, number of reward guides) weights of each guide's log-probabilities."""
        raise NotImplementedError

    def _all_row_weights(self, rows: int) -> torch.Tensor:
        """(rows, number of guides) weights, a reference model's being minus the sum of the others."""
        weights = self._row_weights(rows)
        if isinstance(self.reference, nn.Module):
            weights = torch.cat([weights, -weights.sum(1, keepdim=True)], dim=1)
        return weights

    def _pad_token_ids(self, call: GenerateCall | None) -> set[int]:
        """Every pad token id known: the guide's config, the tokenizers' and generate's."""
        candidates = {self.pad_token_id}
        candidates.update(getattr(tok, "pad_token_id", None) for tok in (self.tokenizer, self.guide_tokenizer))
        if call is not None:
            candidates.add(getattr(getattr(call.model, "config", None), "pad_token_id", None))
            candidates.update(call.pad_token_ids())
        return {pad for pad in candidates if isinstance(pad, int)}

    def _num_prompts(self, rows: int, call: GenerateCall | None) -> int | None:
        """The number of prompts behind generate's `rows` rows, when it can be known."""
        if self.attention_mask is not None:
            return self.attention_mask.shape[0]
        if call is not None and rows % call.rows_per_prompt == 0:
            return rows // call.rows_per_prompt
        return None

    def _on_new_generation(self, input_ids: torch.Tensor, call: GenerateCall | None) -> None:
        """Checks at the first step of a generation, before any guide runs; subclasses add theirs."""
        if call is None and not self._warned_no_generate_call:
            self._warned_no_generate_call = True
            warnings.warn(
                f"{type(self).__name__} found no transformers generate call on the call stack, so it cannot check "
                "that the model generating is not the guide itself, that generate's attention mask has no padding "
                "the guidance was not given, how many rows generate made of each prompt, or that decoding is not "
                "assisted: call it from model.generate(logits_processor=...)",
                stacklevel=3,
            )
        if call is not None and call.assisted:
            raise ValueError(
                "assistant_model: assisted decoding is not supported by the guidance (the assistant's generate runs "
                "the same logits processors, and the guides' caches follow one model's tokens): generate without it"
            )
        if call is not None and shares_pblora_layers(call.model, self._guide_layer_ids):
            raise ValueError(
                f"{self.guides_argument}: the model generating is the guide itself (they share their PBLoRA layers), "
                "so the base would decode with the adapter on. Use guided_generate(parm, parm, ...) or "
                "PARMGuidedModel(parm, alpha, beta).generate(...), which switch the adapter off for the base rows "
                "(one forward for both), or guide a separate copy of the base"
            )
        self._check_alpha_rows(input_ids, call)
        if self.attention_mask is not None:
            prompts = self._num_prompts(input_ids.shape[0], call)
            if call is not None and input_ids.shape[0] != prompts * call.rows_per_prompt:
                passed = input_ids.shape[0] / call.rows_per_prompt
                raise ValueError(
                    f"attention_mask has {prompts} rows but generate passed {passed:g} prompts: pass the attention "
                    "mask of the same tokenized batch"
                )
            return
        if call is not None and call.prompts_are_padded(input_ids.shape[1]):
            raise ValueError(
                "attention_mask: the prompts look left-padded (generate's attention mask has zeros) but the guidance "
                "was given no attention_mask: pass attention_mask=enc.attention_mask to the processor too"
            )
        pads = self._pad_token_ids(call)
        if looks_left_padded(input_ids, pads):
            raise ValueError(
                f"attention_mask: the prompts look left-padded (rows start with different numbers of pad tokens, ids "
                f"{sorted(pads)}) but no attention_mask was given: pass attention_mask=enc.attention_mask"
            )

    def _check_alpha_rows(self, input_ids: torch.Tensor, call: GenerateCall | None) -> None:
        """alpha has one row per prompt: generate's rows are the prompts, each repeated for beams or samples."""
        if self.alpha is None or self.alpha.dim() == 1 or self.alpha.shape[0] == 1:
            return
        rows, alpha_rows = input_ids.shape[0], self.alpha.shape[0]
        prompts = self._num_prompts(rows, call)
        if prompts is None:  # no attention mask and no generate call seen: rows of one prompt start identical
            if rows % alpha_rows == 0:
                groups = input_ids.view(alpha_rows, rows // alpha_rows, -1)
                prompts = alpha_rows if bool((groups == groups[:, :1]).all()) else rows
            else:
                prompts = rows
        if prompts != alpha_rows or rows % alpha_rows != 0:
            raise ValueError(
                f"alpha has {alpha_rows} rows but generate passed {prompts} prompts ({rows} sequences): pass one row "
                "per prompt or a single vector"
            )

    def _prepare_guide_states(self, rows: int) -> None:
        """Record each guide's modes (and preference rows) for this generation's `rows` rows."""
        for state in self.guide_states:
            state.prepare(None, [], rows)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.guides[0].is_new_generation(input_ids):
            shared_vocab = self.check_base_vocabulary(scores.shape[-1])
            self._on_new_generation(input_ids, find_generate_call())
            self._weights = self._all_row_weights(input_ids.shape[0]).to(scores.device)  # fixed for the whole call
            self._prepare_guide_states(input_ids.shape[0])
            self._shared_vocab = shared_vocab
        guide_logits = []
        for guide, state in zip(self.guides, self.guide_states, strict=True):
            with state.active():
                guide_logits.append(guide.next_token_logits(input_ids))
        shared, weights = self._shared_vocab, self._weights
        guided = torch.log_softmax(scores.float(), dim=-1)
        bonus = sum(
            weights[:, index : index + 1] * torch.log_softmax(logits[:, :shared].float(), dim=-1)
            for index, logits in enumerate(guide_logits)
        )
        if self.reference == REFERENCE_BASE:
            base_log_probs = guided[:, :shared]
            allowed = base_log_probs.masked_fill(torch.isinf(base_log_probs), 0.0)  # a forbidden token stays so
            bonus = bonus - weights.sum(1, keepdim=True) * allowed
        implausible = None
        if self.plausibility is not None:
            top = guided.max(dim=-1, keepdim=True).values
            implausible = guided < top + math.log(self.plausibility)
        if shared == guided.shape[-1]:
            guided = guided + bonus
        else:
            guided = guided.clone()
            guided[:, :shared] += bonus
            guided[:, shared:] = -math.inf  # the guides cannot score these ids
        if implausible is not None:
            guided = guided.masked_fill(implausible, -math.inf)
        return guided


class PARMGuidance(_GuidedDecodingProcessor):
    """Logits processor that steers `generate` with a preference-aware reward model: one PARM for every alpha.

    At every step the base model's scores become log pi_base + (1/beta) log pi_PARM(alpha): two forwards per token
    whatever the number of objectives k. The PARM keeps its own KV cache in step with `generate` (greedy, sampling
    and beam search). Create one processor per `generate` call (or call `reset()`).

    Args:
        parm (nn.Module):
            A `PeftModel` with a PBLoRA adapter, or a plain model merged for one alpha (then `alpha=None`).
        alpha (list[float] | list[list[float]] | torch.Tensor, optional):
            The preference: one vector (k,) for the batch or one row per prompt (batch, k), on the simplex.
            Required for a PBLoRA adapter, `None` for a merged PARM.
        beta (float, optional):
            Temperature: the PARM's log-probabilities weigh 1/beta; smaller steers harder. Defaults to `1.0`.
        attention_mask (torch.Tensor, optional):
            The tokenized prompts' (batch, prompt length) attention mask; required for left-padded prompts.
        tokenizer (PreTrainedTokenizerBase, optional):
            The base model's tokenizer, used to check it matches `parm_tokenizer` and to reconcile vocabulary sizes
            padded differently.
        parm_tokenizer (PreTrainedTokenizerBase, optional):
            The PARM's tokenizer, if it differs from `tokenizer`'s object (it must have the same vocabulary).
        adapter_name (str, optional):
            The PBLoRA adapter to steer with; defaults to the active one.
        compile (bool, optional):
            Run the PARM's per-token step compiled on a static KV cache sized for `max_new_tokens` (CUDA graphs on
            a GPU). Defaults to `False`.
        max_new_tokens (int, optional):
            Length of the static cache when `compile=True`.
        compile_options (dict, optional):
            Keyword arguments for `torch.compile` (default `mode="reduce-overhead", dynamic=False`).
        reference (nn.Module | str, optional):
            What the PARM's reward is relative to. `None` (the paper): its log-probabilities. `"base"`: its log-ratio
            to the base model being guided, for a PARM trained with `PARMConfig(reference_free=False)` whose
            starting model is that base (a PBLoRA adapter on it): scores become log pi_base + (1/beta)
            (log pi_PARM - log pi_base), no extra forward. A model: the log-ratio to that model (the PARM's starting
            model when it differs from the base, weak-to-strong), one more forward per token. Defaults to `None`.
        plausibility (float, optional):
            Write only tokens the base finds at least this share (0, 1] as likely as its most likely token:
            guidance then chooses among the base's fluent continuations, which keeps a strong 1/beta from writing
            text the base would not (contrastive decoding's plausibility constraint). Defaults to `None`: every token.

    Raises:
        ValueError: If `alpha` is missing for a PBLoRA adapter (or given for a merged PARM), is not on the simplex,
            has the wrong length or number of rows, or `beta` is not positive; during `generate`, if the base and
            PARM vocabularies differ or the prompts are left-padded without an `attention_mask`.

    Examples:
        >>> import torch
        >>> from peft import get_peft_model
        >>> from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList
        >>> from peft_pblora import PARMGuidance, PBLoraConfig
        >>> _ = torch.manual_seed(0)
        >>> tiny = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        ...     num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=1)
        >>> base = LlamaForCausalLM(tiny)
        >>> parm = get_peft_model(LlamaForCausalLM(tiny), PBLoraConfig(r1=2, r2=2, target_modules=["q_proj"]))
        >>> prompts = torch.tensor([[5, 6, 7], [0, 8, 9]])  # the second prompt is left-padded
        >>> mask = (prompts != 0).long()
        >>> guidance = PARMGuidance(parm, alpha=[[1.0, 0.0], [0.3, 0.7]], beta=0.5, attention_mask=mask)
        >>> output = base.generate(prompts, attention_mask=mask, logits_processor=LogitsProcessorList([guidance]),
        ...     max_new_tokens=4, do_sample=False)
        >>> output.shape  # 3 prompt tokens + 4 new ones per prompt
        torch.Size([2, 7])
    """

    guides_argument = "parm"

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
        reference: nn.Module | str | None = None,
        plausibility: float | None = None,
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
            merged = next((layer.merged_preference[name] for layer in layers if name in layer.merged_preference), None)
            single = self.alpha if self.alpha.dim() == 1 else self.alpha[0] if self.alpha.shape[0] == 1 else None
            if merged is not None and (single is None or not torch.equal(merged, single.to(merged))):
                raise ValueError(
                    f"alpha: PBLoRA adapter '{name}' is merged for preference {merged.tolist()}; call "
                    "parm.unmerge_adapter() to steer at another alpha (or per row)"
                )
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
            compile=compile, max_new_tokens=max_new_tokens, compile_options=compile_options, reference=reference,
            plausibility=plausibility,
        )  # fmt: skip

    def _prepare_guide_states(self, rows: int) -> None:
        super()._prepare_guide_states(rows)
        if self.alpha is not None:
            self.guide_states[0].prepare(self.alpha, self._adapter_names(), rows)

    def _adapter_names(self) -> list[str]:
        if self.adapter_name is not None:
            return [self.adapter_name]
        layers = list(pblora_layers(self.parm))
        return list(layers[0].active_adapters) if layers else []

    def _row_weights(self, rows: int) -> torch.Tensor:
        return torch.full((rows, 1), 1.0 / self.beta)


class GenARMGuidance(_GuidedDecodingProcessor):
    """Logits processor for GenARM's multi-objective decoding: one autoregressive reward model (ARM) per objective.

    At every step the base model's scores become log pi_base + sum_i (alpha_i / beta) log pi_ARM_i: 1 + k forwards
    per token, the baseline a single PARM replaces. Each ARM keeps its own KV cache in step with `generate`.

    Args:
        arms (Sequence[nn.Module]):
            One causal LM per objective, in alpha order.
        alpha (list[float] | list[list[float]] | torch.Tensor):
            The preference: one vector (k,) for the batch or one row per prompt (batch, k), on the simplex.
        beta (float, optional):
            Temperature: ARM i's log-probabilities weigh alpha_i / beta. Defaults to `1.0`.
        attention_mask (torch.Tensor, optional):
            The tokenized prompts' (batch, prompt length) attention mask; required for left-padded prompts.
        tokenizer (PreTrainedTokenizerBase, optional):
            The base model's tokenizer, used to check it matches `arm_tokenizer` and to reconcile vocabulary sizes.
        arm_tokenizer (PreTrainedTokenizerBase, optional):
            The ARMs' tokenizer (it must have the same vocabulary as `tokenizer`).
        compile (bool, optional):
            Run each ARM's per-token step compiled on a static KV cache sized for `max_new_tokens`.
            Defaults to `False`.
        max_new_tokens (int, optional):
            Length of the static cache when `compile=True`.
        compile_options (dict, optional):
            Keyword arguments for `torch.compile`.
        reference (nn.Module | str, optional):
            What the ARMs' rewards are relative to: `None` (their log-probabilities), `"base"` (their log-ratios to
            the base model) or a model (their log-ratios to it); see `PARMGuidance`. Defaults to `None`.
        plausibility (float, optional):
            Write only tokens the base finds at least this share as likely as its most likely token; see
            `PARMGuidance`. Defaults to `None`.

    Raises:
        ValueError: If `arms` is empty, `alpha` does not have one weight per ARM or is not on the simplex, or
            `beta` is not positive.

    Examples:
        >>> import torch
        >>> from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList
        >>> from peft_pblora import GenARMGuidance
        >>> _ = torch.manual_seed(0)
        >>> tiny = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        ...     num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=1)
        >>> base, helpful_arm, harmless_arm = (LlamaForCausalLM(tiny) for _ in range(3))
        >>> guidance = GenARMGuidance([helpful_arm, harmless_arm], alpha=[0.7, 0.3], beta=1.0)
        >>> output = base.generate(torch.tensor([[5, 6, 7]]), logits_processor=LogitsProcessorList([guidance]),
        ...     max_new_tokens=4, do_sample=False)
        >>> output.shape
        torch.Size([1, 7])
    """

    guides_argument = "arms"

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
        reference: nn.Module | str | None = None,
        plausibility: float | None = None,
    ) -> None:
        if len(arms) == 0:
            raise ValueError("GenARMGuidance needs at least one reward model")
        prompts = attention_mask.shape[0] if isinstance(attention_mask, torch.Tensor) else None
        self.alpha = validate_preference(alpha, len(arms), batch_size=prompts, name="alpha")
        num_prompts = self.alpha.shape[0] if self.alpha.dim() == 2 else None
        super().__init__(
            arms, beta, attention_mask, num_prompts, tokenizer, arm_tokenizer,
            compile=compile, max_new_tokens=max_new_tokens, compile_options=compile_options, reference=reference,
            plausibility=plausibility,
        )  # fmt: skip

    def _row_weights(self, rows: int) -> torch.Tensor:
        weights = expand_preference_rows(self.alpha, rows, name="alpha")
        return (weights if weights.dim() == 2 else weights.expand(rows, -1)) / self.beta
