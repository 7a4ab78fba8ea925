"""Merging for one preference, exact unmerge, and save/load through PEFT's and transformers' own APIs."""

from __future__ import annotations

import json

import pytest
import torch
from peft import PeftConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

import peft_pblora
from peft_pblora import PBLoraConfig, pblora_layers

from ..conftest import make_peft_model, pblora_config, random_ids, tiny_llama


def test_merged_equals_unmerged_and_unmerge_restores_w0_exactly(arch):
    peft_model, reference = make_peft_model(arch)
    ids = random_ids()
    original_weights = {n: p.detach().clone() for n, p in peft_model.named_parameters() if "base_layer" in n}
    unmerged = peft_model(ids, preference=[0.3, 0.7]).logits
    peft_model.merge_adapter()
    assert all(layer.merged for layer in pblora_layers(peft_model))
    merged = peft_model(ids).logits
    torch.testing.assert_close(merged, unmerged, rtol=1e-5, atol=1e-5)
    peft_model.unmerge_adapter()
    for name, parameter in peft_model.named_parameters():
        if "base_layer" in name:
            assert torch.equal(parameter, original_weights[name]), name
    torch.testing.assert_close(peft_model(ids).logits, unmerged, rtol=0, atol=0)


def test_merge_and_unload_gives_a_plain_model_for_one_preference(arch):
    peft_model, _ = make_peft_model(arch)
    ids = random_ids()
    expected = peft_model(ids, preference=[0.8, 0.2]).logits
    plain = peft_model.merge_and_unload(preference=[0.8, 0.2])
    assert not list(pblora_layers(plain))
    assert type(plain).__name__ in ("LlamaForCausalLM", "GPT2LMHeadModel")
    torch.testing.assert_close(plain(ids).logits, expected, rtol=1e-5, atol=1e-5)


def test_merge_in_bfloat16_matches_the_low_rank_path():
    peft_model, _ = make_peft_model("llama", dtype=torch.bfloat16)
    ids = random_ids()
    expected = peft_model(ids, preference=[0.5, 0.5]).logits.float()
    peft_model.merge_adapter(preference=[0.5, 0.5])
    torch.testing.assert_close(peft_model(ids).logits.float(), expected, rtol=0.05, atol=0.05)


def test_merge_with_per_row_preferences_is_refused():
    peft_model, _ = make_peft_model("llama")
    peft_model.set_preference([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="per-row preferences"):
        peft_model.merge_adapter()


def test_changing_the_preference_of_a_merged_adapter_is_refused():
    peft_model, _ = make_peft_model("llama")
    peft_model.merge_adapter(preference=[0.5, 0.5])
    peft_model.set_preference([0.5, 0.5])  # the same preference is fine
    with pytest.raises(ValueError, match="unmerge_adapter"):
        peft_model.set_preference([1.0, 0.0])
    peft_model.unmerge_adapter()
    peft_model.set_preference([1.0, 0.0])


def test_disable_adapter_gives_the_base_model(arch):
    peft_model, reference = make_peft_model(arch)
    ids = random_ids()
    with peft_model.disable_adapter():
        torch.testing.assert_close(peft_model(ids).logits, reference(ids).logits, rtol=0, atol=0)


def test_save_and_load_are_exact(tmp_path, arch):
    peft_model, reference = make_peft_model(arch, objective_names=["helpful", "harmless"])
    ids = random_ids()
    expected = peft_model(ids, preference=[0.3, 0.7]).logits
    peft_model.save_pretrained(tmp_path)
    saved_config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert saved_config["peft_type"] == "PBLORA"
    assert saved_config["objective_names"] == ["helpful", "harmless"]

    loaded_config = PeftConfig.from_pretrained(tmp_path)
    assert isinstance(loaded_config, PBLoraConfig)
    assert loaded_config.objective_names == ["helpful", "harmless"]

    loaded = PeftModel.from_pretrained(reference, tmp_path)
    assert isinstance(loaded.base_model, peft_pblora.PBLoraModel)
    torch.testing.assert_close(loaded(ids, preference=[0.3, 0.7]).logits, expected, rtol=0, atol=0)


def test_transformers_adapter_loading(tmp_path):
    base_dir, adapter_dir = tmp_path / "base", tmp_path / "adapter"
    tiny_llama().save_pretrained(base_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    torch.manual_seed(1)
    wrapped = get_peft_model(base, pblora_config())
    ids = random_ids()
    expected = wrapped(ids, preference=[0.6, 0.4]).logits
    wrapped.save_pretrained(adapter_dir)

    plain = AutoModelForCausalLM.from_pretrained(base_dir)
    plain.load_adapter(str(adapter_dir))
    peft_pblora.set_preference(plain, [0.6, 0.4])
    torch.testing.assert_close(plain(ids).logits, expected, rtol=1e-6, atol=1e-6)

    direct = AutoModelForCausalLM.from_pretrained(adapter_dir)
    assert list(pblora_layers(direct))
    peft_pblora.set_preference(direct, [0.6, 0.4])
    torch.testing.assert_close(direct(ids).logits, expected, rtol=1e-6, atol=1e-6)


def test_several_adapters_on_one_model():
    peft_model, reference = make_peft_model("llama")
    torch.manual_seed(5)
    peft_model.add_adapter("three_objectives", pblora_config(num_preferences=3, r1=1, r2=2))
    ids = random_ids()
    first = peft_model(ids, preference=[0.3, 0.7]).logits

    peft_model.set_adapter("three_objectives")
    with pytest.raises(ValueError, match="num_preferences=3"):
        peft_model.set_preference([0.3, 0.7])
    second = peft_model(ids, preference=[0.2, 0.3, 0.5]).logits
    assert not torch.allclose(first, second, atol=1e-4)

    peft_model.set_adapter("default")
    torch.testing.assert_close(peft_model(ids).logits, first, rtol=0, atol=0)

    # both adapters active: their deltas add up, as merging both shows
    peft_model.base_model.set_adapter(["default", "three_objectives"])
    peft_model.set_preference([0.3, 0.7], adapter_name="default")
    peft_model.set_preference([0.2, 0.3, 0.5], adapter_name="three_objectives")
    both = peft_model(ids).logits
    peft_model.merge_adapter(["default", "three_objectives"])
    torch.testing.assert_close(peft_model(ids).logits, both, rtol=1e-5, atol=1e-5)
    peft_model.unmerge_adapter()

    peft_model.delete_adapter("three_objectives")
    assert all("three_objectives" not in layer.pblora_preference for layer in pblora_layers(peft_model))
