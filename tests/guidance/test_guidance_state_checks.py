"""The guidance refuses, at generate time, model states in which the base rows would silently decode with an adapter.

The fused path rechecks its model in each generate (a merge, a disabled adapter or a second active adapter after
construction); the processors refuse assisted decoding and warn when they cannot find the generate call they run in.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from peft_pblora import GenARMGuidance, PARMGuidance, PARMGuidedModel

from ..conftest import ALPHAS, generate, left_padded_batch, pblora_config, strong_parm, tiny_llama

SETTINGS = dict(max_new_tokens=2, pad_token_id=0, do_sample=False)


def test_fused_refuses_several_active_pblora_adapters():
    parm = strong_parm("llama")
    parm.add_adapter("other", pblora_config("llama", lora_alpha=30))
    ids, mask = left_padded_batch()
    guided = PARMGuidedModel(parm, ALPHAS)
    parm.base_model.set_adapter(["default", "other"])
    with pytest.raises(ValueError, match=r"several PBLoRA adapters are active \(\['default', 'other'\]\)"):
        guided.generate(input_ids=ids, attention_mask=mask, **SETTINGS)
    with pytest.raises(ValueError, match="several PBLoRA adapters are active"):
        PARMGuidedModel(parm, ALPHAS)


def test_fused_rechecks_merged_and_disabled_adapters_in_generate():
    parm = strong_parm("llama")
    ids, mask = left_padded_batch()
    guided = PARMGuidedModel(parm, ALPHAS)
    parm.merge_adapter(preference=[0.5, 0.5])
    with pytest.raises(ValueError, match="adapter is merged"):
        guided.generate(input_ids=ids, attention_mask=mask, **SETTINGS)
    parm.unmerge_adapter()
    with parm.disable_adapter(), pytest.raises(ValueError, match="adapters are disabled"):
        guided.generate(input_ids=ids, attention_mask=mask, **SETTINGS)
    guided.generate(input_ids=ids, attention_mask=mask, **SETTINGS)  # back as it was: runs


def _processors():
    parm = strong_parm("llama")
    return [PARMGuidance(parm, [0.5, 0.5]), GenARMGuidance([parm.get_base_model()], [1.0])]


@pytest.mark.parametrize("index", [0, 1])
def test_processors_refuse_assisted_decoding(index):
    processor = _processors()[index]
    base, assistant = tiny_llama(1), tiny_llama(2)
    ids = torch.tensor([[5, 6, 7, 8]])
    with pytest.raises(ValueError, match="assistant_model: assisted decoding is not supported"):
        generate(base, ids, None, processor, assistant_model=assistant, do_sample=False)


def test_processor_warns_once_when_no_generate_call_is_found():
    processor = _processors()[0]
    base = tiny_llama(1)
    ids = torch.tensor([[5, 6, 7, 8]])
    scores = base(ids).logits[:, -1]
    with pytest.warns(UserWarning, match="found no transformers generate call.*not the guide itself"):
        processor(ids, scores)
    processor.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        processor(ids, scores)


def test_fused_refuses_left_padding_without_a_mask_before_the_model_runs():
    parm = strong_parm("llama")
    ids, _ = left_padded_batch()
    calls = []
    handle = parm.get_base_model().register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        with pytest.raises(ValueError, match="attention_mask: the prompts look left-padded"):
            PARMGuidedModel(parm, ALPHAS).generate(input_ids=ids, **SETTINGS)
    finally:
        handle.remove()
    assert not calls, "the model ran before the left padding was refused"
