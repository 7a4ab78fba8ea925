"""Bad input gets a ValueError that names the problem, before any forward work is done."""

from __future__ import annotations

import pytest
import torch

from peft_pblora import PBLoraConfig, validate_preference

from ..conftest import make_peft_model, random_ids


@pytest.mark.parametrize(
    ("preference", "message"),
    [
        ([0.2, 0.3, 0.5], "has 3 weights per row but the adapter has num_preferences=2"),
        ([[0.5, 0.5, 0.0]], "has 3 weights per row"),
        ([-0.5, 1.5], "negative weight"),
        ([float("nan"), 1.0], "NaN"),
        ([float("inf"), 1.0], "infinite"),
        ([0.5, 0.6], "must sum to 1"),
        ([[0.5, 0.5], [0.7, 0.7]], "must sum to 1"),
        ([[[0.5, 0.5]]], "must have shape"),
        (torch.empty(0, 2), "no rows"),
        ("helpful", "sequence of numbers"),
    ],
)
def test_invalid_preferences_are_refused(preference, message):
    peft_model, _ = make_peft_model("llama")
    with pytest.raises(ValueError, match=message):
        peft_model.set_preference(preference)
    with pytest.raises(ValueError, match=message):
        peft_model(random_ids(), preference=preference)


def test_sum_tolerance_is_1e_4():
    validate_preference([0.5, 0.5 + 5e-5], 2)
    with pytest.raises(ValueError, match="must sum to 1"):
        validate_preference([0.5, 0.5 + 5e-4], 2)


def test_preference_rows_must_match_the_batch():
    peft_model, _ = make_peft_model("llama")
    with pytest.raises(ValueError, match="2 rows but the batch has 3 examples"):
        peft_model(random_ids(batch=3), preference=[[1.0, 0.0], [0.0, 1.0]])
    peft_model.set_preference([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="2 rows but the batch has 3 examples"):
        peft_model(random_ids(batch=3))
    ids = random_ids(batch=3)
    with pytest.raises(ValueError, match="2 rows but the batch has 3 examples"):
        peft_model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=2)


def test_forward_without_a_preference_is_refused():
    peft_model, _ = make_peft_model("llama")
    with pytest.raises(ValueError, match="No preference is set for PBLoRA adapter 'default'"):
        peft_model(random_ids())
    with pytest.raises(ValueError, match="No preference is set"):
        peft_model.base_model.model(random_ids())  # the bare transformers model reaches the layer check too


def test_generate_without_a_preference_is_refused():
    peft_model, _ = make_peft_model("llama")
    ids = random_ids()
    with pytest.raises(ValueError, match="No preference is set"):
        peft_model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=2)


def test_unknown_adapter_name_is_refused():
    peft_model, _ = make_peft_model("llama")
    with pytest.raises(ValueError, match="Unknown PBLoRA adapter"):
        peft_model.set_preference([0.5, 0.5], adapter_name="missing")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(r1=-1), "r1 must be >= 0"),
        (dict(r2=0), "r2 must be >= 1"),
        (dict(num_preferences=0), "num_preferences must be >= 1"),
        (dict(lora_dropout=1.0), "lora_dropout"),
        (dict(bias="lora_only"), "bias must be"),
        (dict(objective_names=["a"]), "objective_names has 1 names but num_preferences=2"),
        (dict(objective_names=["a", "a"]), "distinct"),
    ],
)
def test_invalid_configs_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        PBLoraConfig(**overrides)


def test_merging_into_a_quantized_base_layer_is_refused_and_leaves_it_untouched():
    from peft_pblora import pblora_layers

    peft_model, _ = make_peft_model("llama")
    layer = next(pblora_layers(peft_model))
    weight = layer.get_base_layer().weight
    before = weight.detach().clone()
    weight.quant_state = object()  # what bitsandbytes' Params4bit carries
    with pytest.raises(ValueError, match="cannot merge PBLoRA into the quantized layer"):
        peft_model.merge_adapter(preference=[0.5, 0.5])
    assert torch.equal(layer.get_base_layer().weight, before) and not layer.merged
