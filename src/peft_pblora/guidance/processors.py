"""Guided decoding inside model.generate: a frozen base model steered by reward models, token by token.

PARMGuidance: one PARM for every alpha, two forwards per token whatever k is. GenARMGuidance: one ARM per objective,
1 + k forwards per token. Both add their guides' log-probabilities through `GuidedDecodingProcessor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..tuners.pblora.model import pblora_layers
from ..tuners.pblora.preference import PreferenceLike, expand_preference_rows, validate_preference
from .guided_decoding import GuidedDecodingProcessor


class PARMGuidance(GuidedDecodingProcessor):
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


class GenARMGuidance(GuidedDecodingProcessor):
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
