"""Guidance by the guides' log-ratio to a reference: the base itself, or a model of its own."""

from __future__ import annotations

import pytest
import torch
from transformers import LogitsProcessorList

from peft_pblora import GenARMGuidance, PARMGuidance

from ..conftest import ALPHAS, generate, left_padded_batch, strong_parm, tiny_llama


def processed_scores(base, ids, mask, processor, steps: int = 4):
    """The raw base logits and the processed scores of a greedy generate, with the generated sequences."""
    output = base.generate(
        input_ids=ids, attention_mask=mask, logits_processor=LogitsProcessorList([processor]),
        max_new_tokens=steps, do_sample=False, pad_token_id=0,
        output_scores=True, output_logits=True, return_dict_in_generate=True,
    )  # fmt: skip
    return output


def full_logits(model, sequences, mask, step, **kwargs):
    """Last-position logits of `model` re-run over the whole sequence (no cache), positions from the mask."""
    full_mask = torch.cat([mask, torch.ones(mask.shape[0], step, dtype=mask.dtype)], 1)
    positions = (full_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        return model(sequences, attention_mask=full_mask, position_ids=positions, **kwargs).logits[:, -1]


@pytest.mark.parametrize("reference_kind", ["base", "model"])
def test_scores_are_base_plus_the_parm_log_ratio_over_beta(reference_kind):
    base = tiny_llama(seed=10)
    reference_model = tiny_llama(seed=20)
    parm = strong_parm("llama")
    ids, mask = left_padded_batch()
    beta = 0.4
    reference = "base" if reference_kind == "base" else reference_model
    output = processed_scores(
        base, ids, mask, PARMGuidance(parm, alpha=ALPHAS, beta=beta, attention_mask=mask, reference=reference)
    )
    for step, (raw, processed) in enumerate(zip(output.logits, output.scores, strict=True)):
        sequences = output.sequences[:, : ids.shape[1] + step]
        parm_log_probs = torch.log_softmax(full_logits(parm, sequences, mask, step, preference=ALPHAS), -1)
        base_log_probs = torch.log_softmax(raw, -1)
        reference_log_probs = (
            base_log_probs
            if reference_kind == "base"
            else torch.log_softmax(full_logits(reference_model, sequences, mask, step), -1)
        )
        expected = base_log_probs + (parm_log_probs - reference_log_probs) / beta
        torch.testing.assert_close(processed, expected, rtol=1e-4, atol=1e-4)


def test_the_base_as_reference_of_the_base_itself_cancels_it():
    """A guide equal to the base, taken relative to the base, leaves the base's output unchanged."""
    base = tiny_llama(seed=10)
    ids, mask = left_padded_batch()
    same = GenARMGuidance([tiny_llama(seed=10)], alpha=[1.0], beta=0.1, attention_mask=mask, reference="base")
    torch.testing.assert_close(generate(base, ids, mask, same), generate(base, ids, mask, None), rtol=0, atol=0)
    plain = GenARMGuidance([tiny_llama(seed=11)], alpha=[1.0], beta=0.1, attention_mask=mask, reference="base")
    assert not torch.equal(generate(base, ids, mask, plain), generate(base, ids, mask, None))


def test_genarm_with_a_reference_model_weighs_it_by_minus_the_sum_of_alpha_over_beta():
    base = tiny_llama(seed=10)
    arms = [tiny_llama(seed=11), tiny_llama(seed=12)]
    reference_model = tiny_llama(seed=13)
    ids, mask = left_padded_batch()
    alphas = [[1.0, 0.0], [0.25, 0.75], [0.5, 0.5]]
    beta = 0.5
    output = processed_scores(
        base, ids, mask, GenARMGuidance(arms, alpha=alphas, beta=beta, attention_mask=mask, reference=reference_model)
    )
    weights = torch.tensor(alphas) / beta
    for step, (raw, processed) in enumerate(zip(output.logits, output.scores, strict=True)):
        sequences = output.sequences[:, : ids.shape[1] + step]
        expected = torch.log_softmax(raw, -1)
        reference_log_probs = torch.log_softmax(full_logits(reference_model, sequences, mask, step), -1)
        for index, arm in enumerate(arms):
            arm_log_probs = torch.log_softmax(full_logits(arm, sequences, mask, step), -1)
            expected = expected + weights[:, index : index + 1] * (arm_log_probs - reference_log_probs)
        torch.testing.assert_close(processed, expected, rtol=1e-4, atol=1e-4)


def test_an_unknown_reference_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="reference must be None"):
        PARMGuidance(strong_parm("llama"), alpha=[0.5, 0.5], reference="frozen")


def test_tokens_another_processor_forbids_stay_forbidden():
    """min_new_tokens sets EOS to -inf before the guidance runs: the log-ratio to the base must not make it NaN."""
    base = tiny_llama(seed=10)
    ids, mask = left_padded_batch()
    guidance = PARMGuidance(strong_parm("llama"), alpha=ALPHAS, beta=0.2, attention_mask=mask, reference="base")
    output = base.generate(
        input_ids=ids, attention_mask=mask, logits_processor=LogitsProcessorList([guidance]), max_new_tokens=3,
        min_new_tokens=3, eos_token_id=1, do_sample=False, pad_token_id=0, output_scores=True,
        return_dict_in_generate=True,
    )  # fmt: skip
    for scores in output.scores:
        assert not torch.isnan(scores).any()
        assert torch.isneginf(scores[:, 1]).all()
