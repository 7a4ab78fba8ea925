"""guided_generate: prompts in, guided answers out, by PARMGuidance or the fused path when the PARM is the base."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn
from transformers import LogitsProcessorList

from ..data.chat import chat_texts, left_padding
from ..tuners.pblora.preference import PreferenceLike
from .arguments import validate_plausibility
from .guide_state import pblora_layer_ids, shares_pblora_layers
from .guided_decoding import bare_model, config_vocab_size
from .processors import PARMGuidance
from .vocabulary import shared_vocabulary_size


def guided_generate(
    base: nn.Module,
    parm: nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    alpha: PreferenceLike | None,
    beta: float = 1.0,
    parm_tokenizer: Any | None = None,
    use_chat_template: bool = False,
    reference: nn.Module | str | None = None,
    fused: bool | None = None,
    plausibility: float | None = None,
    **generate_kwargs: Any,
) -> list[str]:
    """Generate a response to every prompt with `base`, steered by a PARM at the preference `alpha`.

    The convenience path around `PARMGuidance`: prompts are left-padded into one batch (optionally wrapped as
    user messages by the chat template), every input is checked before the base model runs, and only the new text
    of each response is returned. When the PARM is `base` plus its PBLoRA adapter (the same PeftModel passed as both),
    base and PARM decode in one batched forward (`PARMGuidedModel`) with the adapter off for the base.

    Args:
        base (nn.Module):
            The causal LM that writes the responses (any size: the PARM can be a smaller model of the same
            tokenizer, weak-to-strong guidance).
        parm (nn.Module):
            A `PeftModel` with a PBLoRA adapter, or a model merged for one alpha (then `alpha=None`).
        tokenizer (PreTrainedTokenizerBase):
            The base model's tokenizer; it needs a pad token.
        prompts (Sequence[str]):
            The prompts, a non-empty list of strings.
        alpha (list[float] | list[list[float]] | torch.Tensor | None):
            One preference vector for every prompt, or one row per prompt.
        beta (float, optional):
            Temperature: the PARM's log-probabilities weigh 1/beta. Defaults to `1.0`.
        parm_tokenizer (PreTrainedTokenizerBase, optional):
            The PARM's tokenizer, checked to have the base's vocabulary.
        use_chat_template (bool, optional):
            Wrap each prompt as a user message with the tokenizer's chat template. Defaults to `False`.
        reference (nn.Module | str, optional):
            What the PARM's reward is relative to (see `PARMGuidance`); `"base"` for a PARM trained with
            `reference_free=False` on this base. Defaults to `None`.
        fused (bool, optional):
            Decode base and PARM in one batched forward (`PARMGuidedModel`): needs the PARM to be `base` plus its
            PBLoRA adapter, e.g. the same PeftModel passed as both. `None` (the default) takes the fused path exactly
            then, `False` refuses it, `True` requires it.
        plausibility (float, optional):
            Write only tokens the base finds at least this share as likely as its most likely token (see
            `PARMGuidance`). Defaults to `None`: every token.
        **generate_kwargs:
            Passed to `base.generate` (`max_new_tokens`, `do_sample`, ...).

    Returns:
        list[str]: The generated text of each prompt, special tokens removed.

    Raises:
        ValueError: If `prompts` is empty or a string, the tokenizer has no pad token, `alpha` / `beta` / the
            vocabularies are invalid (see `PARMGuidance`), or `fused` does not fit `base` and `parm`.

    Examples:
        >>> import torch
        >>> from peft import get_peft_model
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
        >>> from peft_pblora import PBLoraConfig, guided_generate
        >>> _ = torch.manual_seed(0)
        >>> tiny = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        ...     num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=1)
        >>> base = LlamaForCausalLM(tiny)
        >>> parm = get_peft_model(LlamaForCausalLM(tiny), PBLoraConfig(r1=2, r2=2, target_modules=["q_proj"]))
        >>> backend = Tokenizer(models.WordLevel({"<pad>": 0, "</s>": 1, **{f"w{i}": i for i in range(2, 64)}},
        ...     unk_token="<pad>"))
        >>> backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>")
        >>> texts = guided_generate(base, parm, tokenizer, ["w3 w4 w5", "w6"], alpha=[0.7, 0.3], beta=0.5,
        ...     max_new_tokens=4, do_sample=False)
        >>> len(texts), all(isinstance(text, str) for text in texts)
        (2, True)
    """
    if isinstance(prompts, str) or len(prompts) == 0:
        raise ValueError("prompts must be a non-empty list of strings")
    validate_plausibility(plausibility)
    same_model = shares_pblora_layers(bare_model(base), pblora_layer_ids(bare_model(parm)))
    if fused is None:
        fused = same_model
    if fused and not same_model:
        raise ValueError(
            "fused=True: the PARM must be the base model plus its PBLoRA adapter (pass the same PeftModel as base "
            "and parm)"
        )
    if same_model and not fused:
        raise ValueError(
            "fused=False: the base model is the PARM itself (they share their PBLoRA layers), so the base would "
            "decode with the adapter on; let guided_generate fuse them (fused=None) or guide a separate copy"
        )
    if tokenizer.pad_token_id is None:
        raise ValueError("The tokenizer has no pad token: set tokenizer.pad_token (e.g. to its eos_token) first")
    texts = list(prompts)
    if use_chat_template:
        texts = chat_texts(tokenizer, texts)
    with left_padding(tokenizer):
        encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not use_chat_template)
    device = next(base.parameters()).device
    encoded = {key: value.to(device) for key, value in encoded.items()}
    generate_kwargs.setdefault("pad_token_id", tokenizer.pad_token_id)
    if fused:
        from .fused import PARMGuidedModel

        if parm_tokenizer is not None:
            shared_vocabulary_size(len(tokenizer), len(tokenizer), tokenizer, parm_tokenizer)
        guided = PARMGuidedModel(parm, alpha, beta, reference=reference, plausibility=plausibility)
        guided.check_batch(encoded["input_ids"])
        output = guided.generate(**encoded, **generate_kwargs)
        return tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
    processor = PARMGuidance(
        parm,
        alpha,
        beta,
        attention_mask=encoded["attention_mask"],
        tokenizer=tokenizer,
        parm_tokenizer=parm_tokenizer,
        reference=reference,
        plausibility=plausibility,
    )
    base_vocab = config_vocab_size(base)
    if base_vocab is not None:
        processor.check_base_vocabulary(base_vocab)
    output = base.generate(**encoded, logits_processor=LogitsProcessorList([processor]), **generate_kwargs)
    return tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
