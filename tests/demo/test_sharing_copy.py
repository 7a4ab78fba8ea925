"""The demo's PARM started from the base shares the base's weights instead of copying them: the PARM decodes as one
on a full copy of the base does, and loading its adapter leaves the base model as it was."""

from __future__ import annotations

import copy

import torch
from peft import PeftModel

from peft_pblora.demo.loading import demo_parm_start, sharing_copy
from peft_pblora.pipeline import RunSettings

from ..conftest import make_peft_model, random_ids


def test_a_sharing_copy_shares_weights_but_not_modules_or_config():
    _, base = make_peft_model("llama", seed=0)
    shared = sharing_copy(base)
    assert shared is not base and shared.config is not base.config
    assert shared.model.layers[0].self_attn.q_proj is not base.model.layers[0].self_attn.q_proj
    for (name, ours), (_, theirs) in zip(shared.state_dict().items(), base.state_dict().items(), strict=True):
        assert ours.data_ptr() == theirs.data_ptr(), name  # the same storage: nothing copied


def test_the_parm_on_a_sharing_copy_decodes_as_on_a_full_copy_and_leaves_the_base_alone(tmp_path):
    parm, base = make_peft_model("llama", seed=0, lora_alpha=30)
    parm.save_pretrained(tmp_path / "adapter")
    ids = random_ids()
    with torch.no_grad():
        base_logits = base(ids).logits
    reference = PeftModel.from_pretrained(copy.deepcopy(base), str(tmp_path / "adapter")).eval()  # a full copy
    settings = RunSettings(output_dir=str(tmp_path / "run"), objectives=["positivity", "relevance"], device="cpu")
    start = demo_parm_start(settings, base, tokenizer=None)
    shared = PeftModel.from_pretrained(start, str(tmp_path / "adapter")).eval()
    alpha = torch.tensor([[1.0, 0.0]] * ids.shape[0])
    with torch.no_grad():
        expected, got = reference(ids, preference=alpha).logits, shared(ids, preference=alpha).logits
        assert not torch.allclose(got, base(ids).logits)  # the adapter is on: the PARM is not the base
        assert torch.equal(got, expected)
        assert torch.equal(base(ids).logits, base_logits)  # the base's own modules carry no adapter
    assert type(base.model.layers[0].self_attn.q_proj) is torch.nn.Linear
