"""Issue 19 (no silent wrong result), tuner part: each reproducer and weak error as a regression test."""

from __future__ import annotations

import copy

import pytest
import torch
from peft import PeftModel
from torch import nn
from transformers.pytorch_utils import Conv1D

from peft_pblora import PBLoraConfig, PBLoraLinear, pblora_layers, validate_preference

from ..conftest import make_peft_model, random_ids, tiny_llama


def formula_model(reference: torch.nn.Module, peft_model: PeftModel, alpha: list[float]) -> torch.nn.Module:
    """A copy of the base whose adapted weights are W0 + s (B1 W1 A1 + B2 reshape(alpha^T G) A2), by hand."""
    patched = copy.deepcopy(reference)
    modules = dict(patched.named_modules())
    alpha_tensor = torch.tensor(alpha)
    with torch.no_grad():
        for name, layer in peft_model.base_model.model.named_modules():
            if isinstance(layer, PBLoraLinear):
                r1, r2 = layer.r1["default"], layer.r2["default"]
                weight_A, weight_B = layer.pblora_A["default"].weight, layer.pblora_B["default"].weight
                core = layer.pblora_core["default"]
                W2 = (alpha_tensor @ core.G).reshape(r2, r2)
                delta = layer.scaling["default"] * (
                    weight_B[:, :r1] @ core.W1 @ weight_A[:r1] + weight_B[:, r1:] @ W2 @ weight_A[r1:]
                )
                modules[name].weight += delta.T if isinstance(modules[name], Conv1D) else delta
    return patched


def stored_preferences(model: torch.nn.Module) -> list[torch.Tensor]:
    return [layer.pblora_preference["default"].clone() for layer in pblora_layers(model)]


def test_reproducer_2_preference_on_the_bare_model_is_honoured(arch):
    peft_model, reference = make_peft_model(arch)
    peft_model.set_preference([0.5, 0.5])
    ids = random_ids()
    bare = peft_model.get_base_model()
    logits = bare(ids, preference=[0.0, 1.0]).logits
    expected = formula_model(reference, peft_model, [0.0, 1.0])(ids).logits
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    at_stored = formula_model(reference, peft_model, [0.5, 0.5])(ids).logits
    assert not torch.allclose(logits, at_stored, atol=1e-4), "the call must not run at the stored preference"


def test_reproducer_2_preference_on_a_model_that_used_load_adapter(tmp_path):
    peft_model, reference = make_peft_model("llama")
    peft_model.save_pretrained(tmp_path)
    loaded = tiny_llama()
    loaded.load_adapter(str(tmp_path))
    ids = random_ids()
    logits = loaded(ids, preference=[1.0, 0.0]).logits
    torch.testing.assert_close(logits, formula_model(reference, peft_model, [1.0, 0.0])(ids).logits)


def test_reproducer_2_an_invalid_preference_on_the_bare_model_is_refused_and_changes_nothing():
    peft_model, _ = make_peft_model("llama")
    peft_model.set_preference([0.5, 0.5])
    before = stored_preferences(peft_model)
    with pytest.raises(ValueError, match="preference must sum to 1"):
        peft_model.get_base_model()(random_ids(), preference=[0.3, 0.3])
    with pytest.raises(ValueError, match="preference has 2 rows but the batch has 3"):
        peft_model.get_base_model()(random_ids(batch=3), preference=[[1.0, 0.0], [0.0, 1.0]])
    for stored, previous in zip(stored_preferences(peft_model), before, strict=True):
        assert torch.equal(stored, previous)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (dict(scaling=float("nan")), "scaling"),
        (dict(scaling=float("inf")), "scaling"),
        (dict(scaling=-float("inf")), "scaling"),
        (dict(lora_alpha=float("inf")), "lora_alpha"),
        (dict(lora_alpha=float("nan")), "lora_alpha"),
    ],
)
def test_reproducer_3_nan_scaling_is_refused(overrides, field):
    with pytest.raises(ValueError, match=f"{field} must be finite"):
        PBLoraConfig(**overrides)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (dict(num_preferences=2.5), "num_preferences must be an integer"),
        (dict(num_preferences=2.0), "num_preferences must be an integer"),
        (dict(r2="4"), "r2 must be an integer"),
        (dict(r1=True), "r1 must be an integer"),
        (dict(objective_names="ab"), "objective_names must be a list of strings"),
        (dict(objective_names=["a", 1]), "objective_names must hold strings"),
        (dict(scaling="2"), "scaling must be a number"),
        (dict(lora_dropout="0.1"), "lora_dropout must be a number"),
        (dict(init_weights="false"), "init_weights must be True or False"),
        (dict(beta_r="0.1"), "beta_r must be a number or a list"),
    ],
)
def test_config_fields_of_the_wrong_type_are_refused(overrides, field):
    with pytest.raises(TypeError, match=field):
        PBLoraConfig(**overrides)


def test_numpy_integers_are_accepted_as_ranks():
    import numpy as np

    config = PBLoraConfig(r1=np.int64(2), r2=np.int32(2), num_preferences=np.int64(2))
    assert (config.r1, config.r2, config.num_preferences) == (2, 2, 2) and type(config.r2) is int


@pytest.mark.parametrize(
    ("dtype", "weights"),
    [
        (torch.bfloat16, [1 / 3, 1 / 3, 1 / 3]),  # each rounds to 0.33398: the row sums to 1.0020
        (torch.float16, [0.4995, 0.4990, 0.0]),  # sums to 0.9985
        (torch.bfloat16, [0.4995, 0.4990, 0.0]),
    ],
)
def test_half_precision_preferences_get_a_tolerance_for_their_dtype(dtype, weights):
    preference = torch.tensor(weights).to(dtype)
    validated = validate_preference(preference, 3)
    torch.testing.assert_close(validated, preference.float(), rtol=0, atol=0)
    peft_model, reference = make_peft_model("llama", num_preferences=3, r2=3)
    ids = random_ids()
    expected = formula_model(reference, peft_model, preference.float().tolist())(ids).logits
    torch.testing.assert_close(peft_model(ids, preference=preference).logits, expected, rtol=1e-5, atol=1e-5)


def test_float32_keeps_the_tight_tolerance():
    with pytest.raises(ValueError, match=r"must sum to 1 \(tolerance 0.0001\)"):
        validate_preference(torch.tensor([0.4995, 0.4990]), 2)
    with pytest.raises(ValueError, match="must sum to 1"):
        validate_preference(torch.tensor([0.45, 0.45]).bfloat16(), 2)  # 0.9: far beyond bf16 rounding


@pytest.mark.parametrize(
    ("preference", "message"),
    [
        ({"helpful": 0.5, "harmless": 0.5}, "preference must be a sequence of numbers or a tensor, got dict"),
        (torch.full((2,), 0.5, device="meta"), "preference must be a dense tensor"),
        (None, "preference must be a sequence of numbers"),
        ([[0.5, 0.5], [1.0]], "preference must be a sequence of numbers"),
        ([10**30, 0], "preference"),
    ],
)
def test_dicts_and_meta_tensors_are_refused_with_a_clear_error(preference, message):
    peft_model, _ = make_peft_model("llama")
    peft_model.set_preference([0.5, 0.5])
    with pytest.raises(ValueError, match=message):
        peft_model.set_preference(preference)
    assert all(torch.equal(p, torch.tensor([0.5, 0.5])) for p in stored_preferences(peft_model))


def test_loading_an_adapter_into_a_base_of_another_size_names_the_ranks_and_objectives(tmp_path):
    peft_model, _ = make_peft_model("llama", objective_names=["helpful", "harmless"])
    peft_model.save_pretrained(tmp_path)
    bigger = tiny_llama(hidden_size=64)
    with pytest.raises(
        ValueError, match=r"objectives \['helpful', 'harmless'\], r1=2, r2=3, num_preferences=2"
    ) as info:
        PeftModel.from_pretrained(bigger, tmp_path)
    assert "shape (5, 32) in the adapter but (5, 64) here" in str(info.value)
    assert not list(pblora_layers(bigger)), "the refused load must leave the user's base as it was"
    assert type(bigger.model.layers[0].self_attn.q_proj) is nn.Linear


def test_a_huge_but_finite_scale_with_the_zero_b_gives_finite_logits():
    peft_model, reference = make_peft_model("llama", init_weights=True, scaling=1e30)
    ids = random_ids()
    logits = peft_model(ids, preference=[0.5, 0.5]).logits
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(logits, reference(ids).logits, rtol=0, atol=0)
