"""Fused guided decoding (PARMGuidedModel): one forward over [base rows; PARM rows] gives PARMGuidance's tokens.

Compared with PARMGuidance guiding a separate copy of the base, and with the cache-free reference: identical tokens
for greedy, seeded sampling, beams with several returned sequences, per-row alpha and left padding, on Llama and
GPT-2, r1 = 0 and r1 > 0, bilinear and per-objective cores, with and without the base as the reference.
"""

from __future__ import annotations

import pytest
import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList, StoppingCriteria

from peft_pblora import PARMGuidance, PARMGuidedModel, guided_generate
from peft_pblora.guidance.fused import _FusedPARMGuidance

from ..conftest import ALPHAS, CacheFreeGuidance, generate, left_padded_batch, make_peft_model, tiny_tokenizer

DECODING = {
    "greedy": dict(do_sample=False),
    "sampling": dict(do_sample=True, top_k=20, top_p=0.9, temperature=0.7),
    "beams": dict(do_sample=False, num_beams=3, num_return_sequences=2),
    "sampling-several": dict(do_sample=True, num_return_sequences=2),
}
SETTINGS = dict(max_new_tokens=6, min_new_tokens=6, pad_token_id=0)


def parm_and_base_copy(arch: str = "llama", **overrides):
    """A PBLoRA model strong enough to change the tokens, and an untouched copy of its base."""
    parm, base = make_peft_model(arch, lora_alpha=30, **overrides)
    return parm.eval(), base


def fused_generate(parm, ids, mask, alpha=ALPHAS, beta=0.5, reference=None, seed=7, **kwargs):
    torch.manual_seed(seed)
    return PARMGuidedModel(parm, alpha, beta, reference=reference).generate(
        input_ids=ids, attention_mask=mask, **{**SETTINGS, **kwargs}
    )


def unfused_generate(parm, base, ids, mask, alpha=ALPHAS, beta=0.5, reference=None, seed=7, **kwargs):
    torch.manual_seed(seed)
    return generate(
        base, ids, mask, PARMGuidance(parm, alpha, beta, attention_mask=mask, reference=reference), **kwargs
    )


@pytest.mark.parametrize("reference", [None, "base"])
@pytest.mark.parametrize("decoding", sorted(DECODING))
def test_fused_equals_parm_guidance_and_the_cache_free_reference(arch, decoding, reference):
    parm, base = parm_and_base_copy(arch)
    ids, mask = left_padded_batch()
    settings = DECODING[decoding]
    fused = fused_generate(parm, ids, mask, reference=reference, **settings)
    unfused = unfused_generate(parm, base, ids, mask, reference=reference, **settings)
    torch.testing.assert_close(fused, unfused, rtol=0, atol=0)
    if reference is None:
        torch.manual_seed(7)
        cache_free = generate(base, ids, mask, CacheFreeGuidance([parm], [[1.0]] * 3, mask, 0.5, ALPHAS), **settings)
        torch.testing.assert_close(fused, cache_free, rtol=0, atol=0)
    torch.manual_seed(7)
    assert not torch.equal(fused, generate(base, ids, mask, None, **settings)), "the guide must change the tokens"


@pytest.mark.parametrize(
    "overrides", [dict(r1=0), dict(r1=2, core="per_objective", r2=4), dict(r1=0, core="per_objective", r2=4)]
)
@pytest.mark.parametrize("decoding", ["greedy", "beams"])
def test_fused_with_other_ranks_and_cores(arch, overrides, decoding):
    parm, base = parm_and_base_copy(arch, **overrides)
    ids, mask = left_padded_batch()
    settings = DECODING[decoding]
    fused = fused_generate(parm, ids, mask, **settings)
    torch.testing.assert_close(fused, unfused_generate(parm, base, ids, mask, **settings), rtol=0, atol=0)
    torch.manual_seed(7)
    assert not torch.equal(fused, generate(base, ids, mask, None, **settings))


def test_base_rows_see_no_adapter_even_with_r1_and_a_zero_preference_row():
    """alpha = (1, 0) still leaves W1's preference-agnostic path on: the base rows must switch the adapter off."""
    parm, base = parm_and_base_copy("llama")
    ids, mask = left_padded_batch()
    scores = PARMGuidedModel(parm, [1.0, 0.0], beta=1e9).generate(
        input_ids=ids, attention_mask=mask, output_logits=True, return_dict_in_generate=True, **SETTINGS
    )
    plain = base.generate(
        input_ids=ids, attention_mask=mask, output_logits=True, return_dict_in_generate=True, **SETTINGS
    )
    torch.testing.assert_close(scores.sequences, plain.sequences, rtol=0, atol=0)
    for fused_logits, base_logits in zip(scores.logits, plain.logits, strict=True):
        torch.testing.assert_close(fused_logits, base_logits, rtol=1e-5, atol=1e-5)


def test_one_alpha_for_the_batch_and_processed_scores():
    parm, base = parm_and_base_copy("gpt2")
    ids, mask = left_padded_batch()
    options = dict(output_scores=True, return_dict_in_generate=True, do_sample=False)
    fused = fused_generate(parm, ids, mask, alpha=[0.3, 0.7], **options)
    unfused = unfused_generate(parm, base, ids, mask, alpha=[0.3, 0.7], **options)
    torch.testing.assert_close(fused.sequences, unfused.sequences, rtol=0, atol=0)
    for fused_scores, unfused_scores in zip(fused.scores, unfused.scores, strict=True):
        torch.testing.assert_close(fused_scores, unfused_scores, rtol=1e-4, atol=1e-4)
    assert fused.get("cache") is None and fused.get("past_key_values") is None, "the 2B-row cache is not returned"


class BanToken(LogitsProcessor):
    def __init__(self, token: int) -> None:
        self.token = token

    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, self.token] = -float("inf")
        return scores


class StopAfter(StoppingCriteria):
    def __init__(self, length: int) -> None:
        self.length = length

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), input_ids.shape[1] >= self.length, dtype=torch.bool)


class Collect:
    """A streamer: collects what generate puts."""

    def __init__(self) -> None:
        self.chunks = []

    def put(self, value):
        self.chunks.append(value)

    def end(self):
        self.chunks.append(None)


def test_generation_config_processors_stopping_criteria_and_streamer():
    parm, base = parm_and_base_copy("llama")
    ids, mask = left_padded_batch()
    config = GenerationConfig(max_new_tokens=8, do_sample=False, pad_token_id=0, eos_token_id=1)
    token = int(fused_generate(parm, ids, mask, max_new_tokens=1, min_new_tokens=1)[0, -1])
    extras = dict(
        logits_processor=LogitsProcessorList([BanToken(token)]), stopping_criteria=[StopAfter(ids.shape[1] + 4)]
    )
    streamer = Collect()
    torch.manual_seed(7)
    fused = PARMGuidedModel(parm, ALPHAS, 0.5).generate(
        input_ids=ids, attention_mask=mask, generation_config=config, streamer=streamer, **extras
    )
    torch.manual_seed(7)
    guidance = PARMGuidance(parm, ALPHAS, 0.5, attention_mask=mask)
    extras["logits_processor"] = LogitsProcessorList([guidance, BanToken(token)])
    unfused = base.generate(input_ids=ids, attention_mask=mask, generation_config=config, **extras)
    torch.testing.assert_close(fused, unfused, rtol=0, atol=0)
    assert fused.shape[1] == ids.shape[1] + 4 and token not in fused[:, ids.shape[1] :].tolist()[0]
    assert streamer.chunks[-1] is None and len(streamer.chunks) == 1 + 4 + 1


def test_the_model_is_left_as_it_was():
    parm, _ = parm_and_base_copy("llama", lora_dropout=0.3)
    parm.train()
    parm.set_preference([0.5, 0.5])
    ids, mask = left_padded_batch()
    model = parm.get_base_model()
    hooks = (dict(model._forward_pre_hooks), dict(model._forward_hooks))
    first = fused_generate(parm, ids, mask, num_beams=2)
    assert parm.training and all(module.training for module in parm.modules())
    layers = [module for module in parm.modules() if hasattr(module, "pblora_rows_on")]
    assert all(torch.equal(layer.pblora_preference["default"], torch.tensor([0.5, 0.5])) for layer in layers)
    assert all("default" not in layer.pblora_rows_on for layer in layers)
    assert all("default" not in layer.pblora_row_cores for layer in layers)
    assert (dict(model._forward_pre_hooks), dict(model._forward_hooks)) == hooks
    torch.testing.assert_close(fused_generate(parm, ids, mask, num_beams=2), first, rtol=0, atol=0)  # no dropout


def test_guided_generate_with_the_parm_as_its_own_base_takes_the_fused_path(monkeypatch):
    parm, base = parm_and_base_copy("llama")
    tokenizer = tiny_tokenizer()
    prompts = ["w5 w6 w7 w8", "w9 w10", "w11 w12 w13"]
    kwargs = dict(beta=0.5, max_new_tokens=5, do_sample=False)
    separate = guided_generate(base, parm, tokenizer, prompts, ALPHAS, **kwargs)
    calls = []
    original = _FusedPARMGuidance.__call__
    monkeypatch.setattr(_FusedPARMGuidance, "__call__", lambda self, *a: calls.append(1) or original(self, *a))
    assert guided_generate(parm, parm, tokenizer, prompts, ALPHAS, **kwargs) == separate
    assert guided_generate(parm.get_base_model(), parm, tokenizer, prompts, ALPHAS, **kwargs) == separate
    assert len(calls) == 2 * 5, "the fused processor ran once per token of each call"
    assert guided_generate(base, parm, tokenizer, prompts, ALPHAS, **kwargs) == separate
    assert len(calls) == 2 * 5, "a separate base keeps the unfused path"


def test_guided_generate_fused_option():
    parm, base = parm_and_base_copy("llama")
    tokenizer = tiny_tokenizer()
    with pytest.raises(ValueError, match="fused=True: the PARM must be the base model plus"):
        guided_generate(base, parm, tokenizer, ["w5"], [0.5, 0.5], fused=True, max_new_tokens=2)
    with pytest.raises(ValueError, match="fused=False: the base model is the PARM itself"):
        guided_generate(parm, parm, tokenizer, ["w5"], [0.5, 0.5], fused=False, max_new_tokens=2)


def test_bad_input_is_refused_before_generating():
    parm, base = parm_and_base_copy("llama")
    ids, mask = left_padded_batch()
    model = parm.get_base_model()
    hooks = (dict(model._forward_pre_hooks), dict(model._forward_hooks))
    with pytest.raises(ValueError, match="alpha has 2 rows but the batch has 3 prompts"):
        PARMGuidedModel(parm, ALPHAS[:2]).generate(input_ids=ids, attention_mask=mask, max_new_tokens=2)
    with pytest.raises(ValueError, match="alpha must sum to 1"):
        PARMGuidedModel(parm, [0.7, 0.7])
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        PARMGuidedModel(parm, [0.5, 0.5], beta=0)
    with pytest.raises(ValueError, match="reference must be None or 'base' in the fused path"):
        PARMGuidedModel(parm, [0.5, 0.5], reference=base)
    with pytest.raises(ValueError, match="parm has no PBLoRA layers"):
        PARMGuidedModel(base, [0.5, 0.5])
    guided = PARMGuidedModel(parm, ALPHAS)
    for kwargs, message in [
        (dict(cache_implementation="offloaded"), "cache_implementation='offloaded'"),
        (dict(use_cache=False), "use_cache=False"),
        (dict(assistant_model=base), "assistant_model: not supported"),
        (dict(preference=[0.5, 0.5]), "preference: not supported"),
    ]:
        with pytest.raises(ValueError, match=message):
            guided.generate(input_ids=ids, attention_mask=mask, max_new_tokens=2, **kwargs)
    with pytest.raises(ValueError, match="cache_implementation='static': pass max_new_tokens"):
        guided.generate(input_ids=ids, attention_mask=mask, cache_implementation="static")
    with pytest.raises(ValueError, match="attention_mask must have the shape of input_ids"):
        guided.generate(input_ids=ids, attention_mask=mask[:, 1:], max_new_tokens=2)
    with pytest.raises(ValueError, match="attention_mask: the prompts look left-padded"):
        guided.generate(input_ids=ids, max_new_tokens=2, pad_token_id=0)
    parm.merge_adapter(preference=[0.5, 0.5])
    with pytest.raises(ValueError, match="adapter is merged"):
        PARMGuidedModel(parm, [0.5, 0.5])
    parm.unmerge_adapter()
    model = parm.get_base_model()
    assert (dict(model._forward_pre_hooks), dict(model._forward_hooks)) == hooks, "a refused call left its hooks"
