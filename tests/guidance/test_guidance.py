"""PARMGuidance and GenARMGuidance against a cache-free reference that re-runs each guide over the whole sequence."""

from __future__ import annotations

import pytest
import torch
from peft import get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList

from peft_pblora import GenARMGuidance, PARMGuidance, guided_generate

from ..conftest import (
    ALPHAS,
    BASE_MODELS,
    VOCAB_SIZE,
    CacheFreeGuidance,
    generate,
    left_padded_batch,
    pblora_config,
    strong_parm,
    tiny_llama,
    tiny_tokenizer,
)

DECODING = {
    "greedy": dict(do_sample=False),
    "sampling": dict(do_sample=True, top_k=20, temperature=0.9),
    "beams": dict(do_sample=False, num_beams=3, num_return_sequences=2),
    "sampling-several": dict(do_sample=True, num_return_sequences=2),
}


@pytest.mark.parametrize("decoding", sorted(DECODING))
def test_parm_guidance_equals_the_cache_free_reference(arch, decoding):
    base = BASE_MODELS[arch](seed=10)
    parm = strong_parm(arch)
    ids, mask = left_padded_batch()
    settings = DECODING[decoding]
    outputs = []
    for processor in (
        PARMGuidance(parm, alpha=ALPHAS, beta=0.5, attention_mask=mask),
        CacheFreeGuidance([parm], [[1.0]] * 3, mask, beta=0.5, preferences=ALPHAS),
    ):
        torch.manual_seed(7)
        outputs.append(generate(base, ids, mask, processor, **settings))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    torch.manual_seed(7)
    unguided = generate(base, ids, mask, None, **settings)
    assert not torch.equal(outputs[0], unguided), "the guide must change the output, or the test proves nothing"


def test_parm_smaller_than_the_base():
    base = tiny_llama(seed=10)
    torch.manual_seed(0)
    small_config = LlamaConfig(**{**base.config.to_dict(), "num_hidden_layers": 1, "hidden_size": 16})
    small_config.head_dim = 4
    small = LlamaForCausalLM(small_config).eval()
    torch.manual_seed(1)
    parm = get_peft_model(small, pblora_config(lora_alpha=30)).eval()
    ids, mask = left_padded_batch()
    guided = generate(base, ids, mask, PARMGuidance(parm, alpha=ALPHAS, attention_mask=mask), num_beams=2)
    reference = generate(base, ids, mask, CacheFreeGuidance([parm], [[1.0]] * 3, mask, 1.0, ALPHAS), num_beams=2)
    torch.testing.assert_close(guided, reference, rtol=0, atol=0)


def test_processed_scores_are_base_plus_parm_over_beta():
    base = tiny_llama(seed=10)
    parm = strong_parm("llama")
    ids, mask = left_padded_batch()
    beta = 0.7
    output = base.generate(
        input_ids=ids,
        attention_mask=mask,
        logits_processor=LogitsProcessorList([PARMGuidance(parm, alpha=ALPHAS, beta=beta, attention_mask=mask)]),
        max_new_tokens=4,
        do_sample=False,
        pad_token_id=0,
        output_scores=True,
        output_logits=True,
        return_dict_in_generate=True,
    )
    for step, (raw, processed) in enumerate(zip(output.logits, output.scores, strict=True)):
        sequences = output.sequences[:, : ids.shape[1] + step]
        full_mask = torch.cat([mask, torch.ones(3, step, dtype=mask.dtype)], 1)
        positions = (full_mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            parm_logits = parm(sequences, attention_mask=full_mask, position_ids=positions, preference=ALPHAS).logits
        expected = torch.log_softmax(raw, -1) + torch.log_softmax(parm_logits[:, -1], -1) / beta
        torch.testing.assert_close(processed, expected, rtol=1e-4, atol=1e-4)


def test_a_huge_beta_gives_the_base_models_output():
    base = tiny_llama(seed=10)
    ids, mask = left_padded_batch()
    guided = generate(base, ids, mask, PARMGuidance(strong_parm("llama"), ALPHAS, beta=1e9, attention_mask=mask))
    torch.testing.assert_close(guided, generate(base, ids, mask, None), rtol=0, atol=0)


def test_a_merged_parm_equals_the_peft_parm_at_its_alpha():
    base = tiny_llama(seed=10)
    ids, mask = left_padded_batch()
    parm = strong_parm("llama")
    steered = generate(base, ids, mask, PARMGuidance(parm, alpha=[0.3, 0.7], attention_mask=mask))
    merged = parm.merge_and_unload(preference=[0.3, 0.7])
    torch.testing.assert_close(generate(base, ids, mask, PARMGuidance(merged, attention_mask=mask)), steered)


def test_a_second_generate_call_with_the_same_instance():
    base = tiny_llama(seed=10)
    ids, mask = left_padded_batch()
    guidance = PARMGuidance(strong_parm("llama"), alpha=ALPHAS, attention_mask=mask)
    first = generate(base, ids, mask, guidance)
    torch.testing.assert_close(generate(base, ids, mask, guidance), first, rtol=0, atol=0)
    other = torch.randint(3, VOCAB_SIZE, (3, 4))
    with pytest.raises(ValueError, match="does not continue it: create a new processor"):
        generate(base, other, torch.ones_like(other), guidance)


def test_genarm_guidance_equals_the_cache_free_reference(arch):
    base = BASE_MODELS[arch](seed=10)
    arms = [BASE_MODELS[arch](seed=seed) for seed in (21, 22, 23)]
    alphas = [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]
    ids, mask = left_padded_batch()
    guided = generate(base, ids, mask, GenARMGuidance(arms, alphas, beta=0.5, attention_mask=mask), num_beams=2)
    reference = generate(base, ids, mask, CacheFreeGuidance(arms, alphas, mask, beta=0.5), num_beams=2)
    torch.testing.assert_close(guided, reference, rtol=0, atol=0)
    assert not torch.equal(guided, generate(base, ids, mask, None, num_beams=2))


def test_guide_vocabulary_padded_by_extra_rows():
    torch.manual_seed(10)
    base = LlamaForCausalLM(LlamaConfig(**{**tiny_llama().config.to_dict(), "vocab_size": VOCAB_SIZE + 3})).eval()
    parm = strong_parm("llama")
    ids, mask = left_padded_batch()
    guidance = PARMGuidance(parm, ALPHAS, attention_mask=mask, tokenizer=tiny_tokenizer())
    output = base.generate(
        input_ids=ids,
        attention_mask=mask,
        logits_processor=LogitsProcessorList([guidance]),
        max_new_tokens=4,
        do_sample=False,
        pad_token_id=0,
        output_scores=True,
        return_dict_in_generate=True,
    )
    for scores in output.scores:
        assert torch.isinf(scores[:, VOCAB_SIZE:]).all() and torch.isfinite(scores[:, :VOCAB_SIZE]).all()


def test_guided_generate_returns_the_decoded_texts():
    tokenizer = tiny_tokenizer()
    base = tiny_llama(seed=10)
    parm = strong_parm("llama")
    prompts = ["w5 w6 w7 w8", "w9 w10", "w11 w12 w13"]
    texts = guided_generate(base, parm, tokenizer, prompts, ALPHAS, beta=0.5, max_new_tokens=5, do_sample=False)
    tokenizer.padding_side = "left"
    encoded = tokenizer(prompts, return_tensors="pt", padding=True)
    expected = generate(
        base,
        encoded.input_ids,
        encoded.attention_mask,
        CacheFreeGuidance([parm], [[1.0]] * 3, encoded.attention_mask, 0.5, ALPHAS),
        max_new_tokens=5,
        min_new_tokens=0,
    )
    assert texts == tokenizer.batch_decode(expected[:, encoded.input_ids.shape[1] :], skip_special_tokens=True)
    assert len(texts) == 3 and all(isinstance(text, str) for text in texts)
