"""The guidance refuses, at generate time, model states in which the base rows would silently decode with an adapter.

The fused path rechecks its model in each generate (a merge, a disabled adapter or a second active adapter after
construction); the processors refuse assisted decoding and warn when they cannot find the generate call they run in.
"""

from __future__ import annotations

import pytest

from peft_pblora import PARMGuidedModel

from ..conftest import ALPHAS, left_padded_batch, pblora_config, strong_parm

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
