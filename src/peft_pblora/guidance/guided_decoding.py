"""The guided-decoding logits processor that PARMGuidance, GenARMGuidance and the fused guidance share: it adds
weighted guide log-probabilities to the base's at every step of model.generate, and checks the call it runs in.

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


def bare_model(model: nn.Module) -> nn.Module:
    """The transformers model inside a PeftModel: its PBLoRA layers carry the preference, without PEFT's wrappers."""
    return model.get_base_model() if isinstance(model, PeftModel) else model


def config_vocab_size(model: nn.Module) -> int | None:
    """The vocabulary size the model's config declares, or None where it declares none."""
    config = getattr(model, "config", None)
    return getattr(config, "vocab_size", None)


class GuidedDecodingProcessor(LogitsProcessor):
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
            shared = pblora_layer_ids(bare_model(reference)) & {
                layer for guide in guides[:num_reward_guides] for layer in pblora_layer_ids(bare_model(guide))
            }
            if shared:
                raise ValueError(
                    "reference shares its PBLoRA layers with a guide (e.g. parm.get_base_model()): it would run with "
                    "the adapter on. Pass reference='base' when the base is the PARM's starting model, or a separate "
                    "copy of the starting model"
                )
        if compile:
            cached = [
                CompiledCachedGuide(bare_model(guide), attention_mask, num_prompts, max_new_tokens, compile_options)
                for guide in guides
            ]
        else:
            cached = [CachedGuide(bare_model(guide), attention_mask, num_prompts) for guide in guides]
        self._init_state(
            cached, beta, reference, attention_mask, tokenizer, guide_tokenizer, num_reward_guides, plausibility
        )
        self._guide_layer_ids = set().union(*(pblora_layer_ids(guide.model) for guide in cached))
        if tokenizer is not None or guide_tokenizer is not None:
            for guide in guides:
                size = config_vocab_size(guide)
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
            guide_size = config_vocab_size(guide.model)
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
