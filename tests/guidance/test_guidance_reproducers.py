"""Issue 19's guided-decoding reproducers: each once gave a silent wrong result or left the PARM's state changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LogitsProcessorList

from peft_pblora import PARMGuidance, guided_generate, validate_beta

from ..conftest import (
    ALPHAS,
    CacheFreeGuidance,
    generate,
    left_padded_batch,
    random_ids,
    strong_parm,
    tiny_gpt2,
    tiny_llama,
    tiny_tokenizer,
)


def stored_preferences(model) -> list[torch.Tensor | None]:
    return [layer.pblora_preference.get("default") for layer in model.modules() if hasattr(layer, "pblora_preference")]


def test_reproducer_1_the_parm_generating_for_itself_is_refused():
    parm = strong_parm("llama")
    parm.set_preference([0.5, 0.5])  # PeftModel.generate needs one
    ids, mask = left_padded_batch()
    for generating in (parm, parm.get_base_model()):
        guidance = PARMGuidance(parm, alpha=ALPHAS, attention_mask=mask)
        with pytest.raises(ValueError, match="parm: the model generating is the guide itself"):
            generate(generating, ids, mask, guidance)
    stored = stored_preferences(parm)
    assert all(torch.equal(preference, torch.tensor([0.5, 0.5])) for preference in stored), "a refused call changed it"


def test_reproducer_7_alpha_rows_that_do_not_match_the_prompts_without_a_mask():
    base, parm = tiny_llama(seed=10), strong_parm("llama")
    ids = random_ids(batch=4, length=5)
    guidance = PARMGuidance(parm, alpha=ALPHAS[:2])  # 2 rows, no attention mask, 4 prompts
    with pytest.raises(ValueError, match="alpha has 2 rows but generate passed 4 prompts"):
        generate(base, ids, None, guidance)
    # two prompts each sampled twice: 4 rows from 2 prompts, one alpha row per prompt, as the cache-free reference
    two = ids[:2]
    outputs = []
    for processor in (
        PARMGuidance(parm, alpha=ALPHAS[:2], beta=0.5),
        CacheFreeGuidance([parm], [[1.0]] * 2, torch.ones_like(two), 0.5, ALPHAS[:2]),
    ):
        torch.manual_seed(3)
        outputs.append(generate(base, two, None, processor, do_sample=True, num_return_sequences=2))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


def gpt2_without_pad_token(seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=97, n_embd=32, n_layer=2, n_head=4, n_positions=128, eos_token_id=1, bos_token_id=2)
    assert config.pad_token_id is None
    return GPT2LMHeadModel(config).eval()


@pytest.mark.parametrize("generate_mask", ["given", "derived by generate", "pad is eos"])
def test_reproducer_8_left_padding_without_a_mask_is_refused_when_the_parm_has_no_pad_token(generate_mask):
    from peft import get_peft_model

    from ..conftest import pblora_config

    parm = get_peft_model(gpt2_without_pad_token(), pblora_config("gpt2", lora_alpha=30)).eval()
    base = tiny_gpt2(seed=10)
    ids, mask = left_padded_batch()
    settings = dict(attention_mask=mask, pad_token_id=0)
    if generate_mask == "derived by generate":  # generate builds the mask from pad_token_id itself
        settings = dict(pad_token_id=0)
    elif generate_mask == "pad is eos":  # GPT-2's usual setting: generate cannot derive the mask, the ids show it
        ids = ids.masked_fill(mask == 0, 1)
        settings = dict(pad_token_id=1, eos_token_id=1)
    guidance = PARMGuidance(parm, alpha=ALPHAS, beta=0.05)
    with pytest.raises(ValueError, match="attention_mask: the prompts look left-padded"):
        base.generate(
            input_ids=ids, logits_processor=LogitsProcessorList([guidance]), max_new_tokens=2, **settings
        )  # fmt: skip


def test_prompts_of_one_length_starting_with_the_pad_id_are_not_taken_for_padding():
    base, parm = tiny_gpt2(seed=10), strong_parm("gpt2")
    ids = random_ids(batch=3, length=5)
    ids[:, 0] = 1  # every prompt starts with the pad id (GPT-2's <|endoftext|>, pad = BOS = EOS): no padding
    settings = dict(pad_token_id=1, eos_token_id=1)
    guided = generate(base, ids, None, PARMGuidance(parm, alpha=ALPHAS), **settings)
    reference = CacheFreeGuidance([parm], [[1.0]] * 3, torch.ones_like(ids), 1.0, ALPHAS)
    torch.testing.assert_close(guided, generate(base, ids, None, reference, **settings), rtol=0, atol=0)


def test_reproducer_9_guidance_runs_the_parm_in_inference_mode():
    base = tiny_llama(seed=10)
    ids, mask = left_padded_batch()
    parm = strong_parm("llama", lora_dropout=0.5)
    expected = generate(base, ids, mask, CacheFreeGuidance([parm.eval()], [[1.0]] * 3, mask, 0.5, ALPHAS))
    parm.train()  # as right after trainer.train()
    for _ in range(2):
        guided = generate(base, ids, mask, PARMGuidance(parm, alpha=ALPHAS, beta=0.5, attention_mask=mask))
        torch.testing.assert_close(guided, expected, rtol=0, atol=0)
    assert parm.training and all(module.training for module in parm.modules()), "the PARM's mode was not restored"


@pytest.mark.parametrize("decoding", [dict(do_sample=False), dict(num_beams=3, num_return_sequences=2)])
def test_reproducer_10_guidance_keeps_the_stored_preference(decoding):
    base = tiny_llama(seed=10)
    ids, mask = left_padded_batch()
    parm = strong_parm("llama")
    parm.set_preference([0.5, 0.5])
    with torch.no_grad():
        before = parm(ids, attention_mask=mask).logits
    generate(base, ids, mask, PARMGuidance(parm, alpha=ALPHAS, beta=0.5, attention_mask=mask), **decoding)
    assert all(torch.equal(stored, torch.tensor([0.5, 0.5])) for stored in stored_preferences(parm))
    with torch.no_grad():
        torch.testing.assert_close(parm(ids, attention_mask=mask).logits, before, rtol=0, atol=0)


def test_guidance_leaves_no_preference_on_a_parm_that_had_none():
    base = tiny_llama(seed=10)
    ids, mask = left_padded_batch()
    parm = strong_parm("llama")
    generate(base, ids, mask, PARMGuidance(parm, alpha=ALPHAS, attention_mask=mask), num_beams=2)
    assert all(preference is None for preference in stored_preferences(parm))


@pytest.mark.parametrize(
    "beta", [np.float32(0.5), np.float64(0.5), np.array(0.5), torch.tensor(0.5), torch.tensor(0.5).double()]
)
def test_beta_as_a_numpy_or_tensor_scalar(beta):
    assert validate_beta(beta) == 0.5
    base = tiny_llama(seed=10)
    ids, mask = left_padded_batch()
    parm = strong_parm("llama")
    expected = generate(base, ids, mask, PARMGuidance(parm, alpha=ALPHAS, beta=0.5, attention_mask=mask))
    torch.testing.assert_close(
        generate(base, ids, mask, PARMGuidance(parm, alpha=ALPHAS, beta=beta, attention_mask=mask)), expected
    )


@pytest.mark.parametrize(
    "beta", [True, np.bool_(True), torch.tensor(True), torch.tensor([0.5, 0.5]), torch.tensor([0.5]), "0.5", None]
)
def test_beta_that_is_not_one_real_number_is_refused(beta):
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        validate_beta(beta)


def test_reproducer_1_guided_generate_with_the_parm_as_its_own_base_steers_that_base():
    """guided_generate(parm, parm, ...) takes the fused path: the base rows decode without the adapter."""
    parm = strong_parm("llama")
    base_copy = tiny_llama(seed=0)  # strong_parm's base before the adapter
    assert torch.equal(base_copy.lm_head.weight, parm.get_base_model().lm_head.weight)
    tokenizer, prompts = tiny_tokenizer(), ["w5 w6 w7", "w8", "w9 w10"]
    settings = dict(beta=0.5, max_new_tokens=4, do_sample=False)
    separate = guided_generate(base_copy, parm, tokenizer, prompts, ALPHAS, **settings)
    assert guided_generate(parm, parm, tokenizer, prompts, ALPHAS, **settings) == separate
    unguided = guided_generate(base_copy, parm, tokenizer, prompts, ALPHAS, **{**settings, "beta": 1e9})
    assert separate != unguided, "the guide must change the tokens, or the test proves nothing"
