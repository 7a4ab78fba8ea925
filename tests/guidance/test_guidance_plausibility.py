"""The plausibility cut: guidance writes only tokens the base finds at least a share as likely as its top token."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import LogitsProcessorList

from peft_pblora import GenARMGuidance, PARMGuidance, PARMGuidedModel, guided_generate

from ..conftest import ALPHAS, left_padded_batch, make_peft_model, strong_parm, tiny_llama, tiny_tokenizer
from .test_guidance_reference import full_logits

SHARE = 0.9  # a random tiny base is nearly uniform: a high share still cuts tokens


def greedy_scores(base, ids, mask, processor, steps=4):
    return base.generate(
        input_ids=ids, attention_mask=mask, logits_processor=LogitsProcessorList([processor]),
        max_new_tokens=steps, do_sample=False, pad_token_id=0,
        output_scores=True, output_logits=True, return_dict_in_generate=True,
    )  # fmt: skip


@pytest.mark.parametrize("reference", [None, "base"])
def test_scores_are_the_guided_formula_with_implausible_tokens_forbidden(reference):
    base = tiny_llama(seed=10)
    parm = strong_parm("llama")
    ids, mask = left_padded_batch()
    beta = 0.25
    processor = PARMGuidance(parm, ALPHAS, beta, attention_mask=mask, reference=reference, plausibility=SHARE)
    output = greedy_scores(base, ids, mask, processor)
    cut_somewhere = False
    for step, (raw, processed) in enumerate(zip(output.logits, output.scores, strict=True)):
        sequences = output.sequences[:, : ids.shape[1] + step]
        base_log_probs = torch.log_softmax(raw, -1)
        parm_log_probs = torch.log_softmax(full_logits(parm, sequences, mask, step, preference=ALPHAS), -1)
        reward = parm_log_probs - (base_log_probs if reference == "base" else 0.0)
        expected = base_log_probs + reward / beta
        by_hand = base_log_probs.exp() < SHARE * base_log_probs.exp().max(-1, keepdim=True).values
        expected = expected.masked_fill(by_hand, -math.inf)
        torch.testing.assert_close(processed, expected, rtol=1e-4, atol=1e-4)
        cut_somewhere |= bool(by_hand.any())
    assert cut_somewhere, "the test must cut some tokens"


def test_the_cut_changes_strongly_guided_tokens_to_ones_the_base_finds_plausible():
    base = tiny_llama(seed=10)
    parm = strong_parm("llama")
    ids, mask = left_padded_batch()
    uncut = greedy_scores(base, ids, mask, PARMGuidance(parm, ALPHAS, 0.05, attention_mask=mask))
    cut = greedy_scores(base, ids, mask, PARMGuidance(parm, ALPHAS, 0.05, attention_mask=mask, plausibility=0.97))
    assert not torch.equal(uncut.sequences, cut.sequences)
    for raw, sequence_step in zip(cut.logits, range(ids.shape[1], cut.sequences.shape[1]), strict=True):
        chosen = cut.sequences[:, sequence_step]
        probabilities = torch.softmax(raw, -1)
        chosen_share = probabilities.gather(1, chosen[:, None]) / probabilities.max(-1, keepdim=True).values
        written = chosen != 0  # a finished row is padded with id 0, whatever its share
        assert bool((chosen_share[written] >= 0.97 - 1e-6).all())


def test_a_share_of_one_writes_the_base_models_greedy_tokens():
    base = tiny_llama(seed=10)
    ids, mask = left_padded_batch()
    plain = base.generate(input_ids=ids, attention_mask=mask, max_new_tokens=5, do_sample=False, pad_token_id=0)
    guide = GenARMGuidance([tiny_llama(seed=3)], [1.0], beta=0.01, attention_mask=mask, plausibility=1.0)
    guided = greedy_scores(base, ids, mask, guide, steps=5).sequences
    torch.testing.assert_close(guided, plain, rtol=0, atol=0)


def test_fused_path_cuts_the_same_tokens_as_parm_guidance():
    parm, base = make_peft_model("llama", lora_alpha=30)
    parm.eval()
    ids, mask = left_padded_batch()
    settings = dict(max_new_tokens=6, min_new_tokens=6, pad_token_id=0, do_sample=False)
    separate = base.generate(
        input_ids=ids, attention_mask=mask, **settings,
        logits_processor=LogitsProcessorList(
            [PARMGuidance(parm, ALPHAS, 0.1, attention_mask=mask, reference="base", plausibility=0.2)]
        ),
    )  # fmt: skip
    fused = PARMGuidedModel(parm, ALPHAS, 0.1, reference="base", plausibility=0.2).generate(
        input_ids=ids, attention_mask=mask, **settings
    )
    torch.testing.assert_close(fused, separate, rtol=0, atol=0)


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5, float("nan"), "0.1", True])
def test_a_share_outside_zero_to_one_is_refused(share):
    parm = strong_parm("llama")
    with pytest.raises(ValueError, match="plausibility must be None or a number in \\(0, 1\\]"):
        PARMGuidance(parm, ALPHAS[0], 1.0, plausibility=share)
    with pytest.raises(ValueError, match="plausibility"):
        PARMGuidedModel(parm, ALPHAS[0], 1.0, plausibility=share)
    with pytest.raises(ValueError, match="plausibility"):
        guided_generate(tiny_llama(), parm, tiny_tokenizer(), ["w3"], ALPHAS[0], plausibility=share)
