"""PBLoRA's output against the paper's formula computed by hand from the adapter's tensors."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from peft_pblora import (
    BilinearPreferenceCore,
    PBLoraConfig,
    PBLoraLinear,
    PerObjectivePreferenceCore,
    pblora_layers,
    scale_objective_strengths,
)

from ..conftest import make_peft_model, random_ids


def hand_delta_weight(layer: PBLoraLinear, alpha: torch.Tensor, adapter: str = "default") -> torch.Tensor:
    """s (B1 W1 A1 + B2 reshape(alpha^T G) A2), shape (out, in), from the blocks of A and B."""
    r1, r2 = layer.r1[adapter], layer.r2[adapter]
    weight_A = layer.pblora_A[adapter].weight
    weight_B = layer.pblora_B[adapter].weight
    core = layer.pblora_core[adapter]
    A1, A2 = weight_A[:r1], weight_A[r1:]
    B1, B2 = weight_B[:, :r1], weight_B[:, r1:]
    W2 = (alpha @ core.G).reshape(r2, r2)
    return layer.scaling[adapter] * (B1 @ core.W1 @ A1 + B2 @ W2 @ A2)


def reference_with_weights_added(
    reference: nn.Module, peft_model, alpha: torch.Tensor, delta_weight=hand_delta_weight
) -> nn.Module:
    """A copy of the base model whose adapted weights are W0 + the hand-computed delta-W(alpha) of each layer
    (`delta_weight(layer, alpha)`, (out, in); PBLoRA's bilinear formula unless given)."""
    patched = copy.deepcopy(reference)
    modules = dict(patched.named_modules())
    with torch.no_grad():
        for name, module in peft_model.base_model.model.named_modules():
            if isinstance(module, PBLoraLinear):
                delta = delta_weight(module, alpha)
                target = modules[name]
                target.weight += delta.T if isinstance(target, Conv1D) else delta
    return patched


def test_new_adapter_leaves_the_model_unchanged(arch):
    peft_model, reference = make_peft_model(arch, init_weights=True)
    ids = random_ids()
    out = peft_model(ids, preference=[0.2, 0.8]).logits
    torch.testing.assert_close(out, reference(ids).logits, rtol=0, atol=0)


@pytest.mark.parametrize("alpha", [[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]])
def test_model_output_equals_the_formula(arch, alpha):
    peft_model, reference = make_peft_model(arch)
    alpha_tensor = torch.tensor(alpha)
    ids = random_ids()
    out = peft_model(ids, preference=alpha).logits
    expected = reference_with_weights_added(reference, peft_model, alpha_tensor)(ids).logits
    assert not torch.allclose(out, reference(ids).logits, atol=1e-3), "the adapter must change the output"
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("alpha", [[1.0, 0.0], [0.3, 0.7]])
def test_scaled_objective_strengths_give_the_formula_at_alpha_times_the_strengths(arch, alpha):
    peft_model, reference = make_peft_model(arch)
    strengths = torch.tensor([0.25, 1.5])
    ids = random_ids()
    expected = reference_with_weights_added(reference, peft_model, torch.tensor(alpha) * strengths)(ids).logits
    unscaled = peft_model(ids, preference=alpha).logits
    assert scale_objective_strengths(peft_model, strengths.tolist()) == len(list(pblora_layers(peft_model)))
    out = peft_model(ids, preference=alpha).logits
    assert not torch.allclose(out, unscaled, atol=1e-3), "the strengths must change the output"
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("overrides", "strengths", "message"),
    [
        ({}, [1.0, -0.5], "finite and non-negative"),
        ({}, [1.0, float("nan")], "finite and non-negative"),
        ({}, [1.0, 0.5, 0.5], "3 strengths given for an adapter of 2 objectives"),
        ({"core": "diagonal", "r2": 2}, [1.0, 0.5], "DiagonalPreferenceCore has no per-objective weights"),
    ],
)
def test_objective_strengths_that_cannot_apply_are_refused(overrides, strengths, message):
    peft_model, _ = make_peft_model("llama", **overrides)
    with pytest.raises(ValueError, match=message):
        scale_objective_strengths(peft_model, strengths)
    with pytest.raises(ValueError, match="no PBLoRA layer with adapter 'other'"):
        scale_objective_strengths(make_peft_model("llama")[0], [1.0, 1.0], adapter_name="other")


@pytest.mark.parametrize("base_kind", ["linear", "conv1d"])
def test_layer_output_equals_the_formula_per_row(base_kind):
    torch.manual_seed(0)
    in_features, out_features = 12, 10
    if base_kind == "linear":
        base = nn.Linear(in_features, out_features)
        weight_0 = base.weight
    else:
        base = Conv1D(out_features, in_features)
        nn.init.normal_(base.weight)
        nn.init.normal_(base.bias)
        weight_0 = base.weight.T
    config = PBLoraConfig(r1=3, r2=2, num_preferences=3, lora_dropout=0.0, init_weights=False, scaling=1.7)
    layer = PBLoraLinear(base, "default", config, fan_in_fan_out=base_kind == "conv1d")
    alphas = torch.tensor([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])
    layer.set_preference("default", alphas)
    x = torch.randn(3, 5, in_features)
    out = layer(x)
    for row in range(3):
        expected = x[row] @ (weight_0 + hand_delta_weight(layer, alphas[row])).T + base.bias
        torch.testing.assert_close(out[row], expected, rtol=1e-5, atol=1e-5)


def test_trainable_parameters_per_layer_match_the_paper():
    peft_model, _ = make_peft_model("llama", r1=2, r2=3, num_preferences=4)
    layers = list(pblora_layers(peft_model))
    expected = sum((2 + 3) * (layer.in_features + layer.out_features) + 2**2 + 4 * 3**2 for layer in layers)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert len(layers) == 2 * 3
    assert trainable == expected


def test_preference_agnostic_rank_zero_is_pure_preference_aware():
    peft_model, reference = make_peft_model("llama", r1=0, r2=3)
    ids = random_ids()
    alpha = torch.tensor([0.4, 0.6])
    out = peft_model(ids, preference=alpha).logits
    expected = reference_with_weights_added(reference, peft_model, alpha)(ids).logits
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_scaling_defaults_to_lora_alpha_over_r2():
    assert PBLoraConfig(r2=4, lora_alpha=8).adapter_scaling == 2.0
    assert PBLoraConfig(r2=4, lora_alpha=8, scaling=0.5).adapter_scaling == 0.5


def test_dropout_is_applied_in_training_only():
    peft_model, _ = make_peft_model("llama", lora_dropout=0.5)
    peft_model.set_preference([0.5, 0.5])
    ids = random_ids()
    peft_model.eval()
    eval_a, eval_b = peft_model(ids).logits, peft_model(ids).logits
    torch.testing.assert_close(eval_a, eval_b, rtol=0, atol=0)
    peft_model.train()
    torch.manual_seed(1)
    train_a = peft_model(ids).logits
    torch.manual_seed(2)
    train_b = peft_model(ids).logits
    assert not torch.allclose(train_a, train_b)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_bases_match_float32(dtype):
    peft_model, _ = make_peft_model("llama")
    ids = random_ids()
    expected = peft_model(ids, preference=[0.3, 0.7]).logits
    peft_model_half, _ = make_peft_model("llama", dtype=dtype)
    adapter_dtypes = {p.dtype for n, p in peft_model_half.named_parameters() if "pblora_" in n}
    assert adapter_dtypes == {torch.float32}, "PEFT keeps adapter weights of a half-precision base in float32"
    out = peft_model_half(ids, preference=[0.3, 0.7]).logits
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), expected, rtol=0.05, atol=0.05)


def test_layer_gradients_equal_autograd_through_the_formula():
    torch.manual_seed(0)
    base = nn.Linear(8, 6).requires_grad_(False)
    config = PBLoraConfig(r1=2, r2=3, num_preferences=2, lora_dropout=0.0, init_weights=False, scaling=1.3)
    layer = PBLoraLinear(base, "default", config)
    alphas = torch.tensor([[1.0, 0.0], [0.4, 0.6]])
    layer.set_preference("default", alphas)
    x = torch.randn(2, 5, 8, requires_grad=True)
    layer(x).pow(2).sum().backward()
    trained = {name: p.grad.clone() for name, p in layer.named_parameters() if p.requires_grad}
    x_grad = x.grad.clone()

    parameters = {name: p.detach().clone().requires_grad_() for name, p in layer.named_parameters() if p.requires_grad}
    x_reference = x.detach().clone().requires_grad_()
    weight_A = parameters["pblora_A.default.weight"]
    weight_B = parameters["pblora_B.default.weight"]
    weight_W1, weight_G = parameters["pblora_core.default.W1"], parameters["pblora_core.default.G"]
    outputs = []
    for row in range(2):
        W2 = (alphas[row] @ weight_G).reshape(3, 3)
        delta = 1.3 * (weight_B[:, :2] @ weight_W1 @ weight_A[:2] + weight_B[:, 2:] @ W2 @ weight_A[2:])
        outputs.append(x_reference[row] @ (base.weight + delta).T + base.bias)
    torch.stack(outputs).pow(2).sum().backward()
    torch.testing.assert_close(x_grad, x_reference.grad, rtol=1e-5, atol=1e-5)
    for name, grad in trained.items():
        torch.testing.assert_close(grad, parameters[name].grad, rtol=1e-4, atol=1e-5, msg=name)


def assert_matches_hand_model_per_row_merged_and_reloaded(peft_model, reference, patched, tmp_path):
    """At alpha = (0.3, 0.7): the adapter equals `patched` (the base with delta-W added by hand), in a batch of
    per-row preferences, merged, and reloaded from disk; returns the reloaded model."""
    from peft import PeftModel

    ids, alpha = random_ids(), torch.tensor([0.3, 0.7])
    out = peft_model(ids, preference=alpha).logits
    torch.testing.assert_close(out, patched(ids).logits, rtol=1e-5, atol=1e-5)
    rows = peft_model(ids, preference=[[0.3, 0.7], [1.0, 0.0], [0.0, 1.0]]).logits
    torch.testing.assert_close(rows[0], out[0], rtol=1e-5, atol=1e-5)
    peft_model.merge_adapter(preference=alpha)
    torch.testing.assert_close(peft_model(ids).logits, out, rtol=1e-4, atol=1e-4)
    peft_model.unmerge_adapter()
    peft_model.save_pretrained(tmp_path)
    reloaded = PeftModel.from_pretrained(copy.deepcopy(reference), tmp_path)
    torch.testing.assert_close(reloaded(ids, preference=alpha).logits, out, rtol=0, atol=0)
    return reloaded


def test_svd_lora_core_is_panaceas_diagonal_and_merges_saves_and_batches_exactly(arch, tmp_path):
    peft_model, reference = make_peft_model(arch, core="diagonal", r1=3, r2=2)
    torch.manual_seed(5)
    for layer in pblora_layers(peft_model):
        core = layer.pblora_core["default"]
        with torch.no_grad():
            core.sigma.copy_(torch.randn(3))
            core.c.copy_(torch.randn(1))

    def svd_lora_delta(layer, alpha):
        core = layer.pblora_core["default"]
        diagonal = torch.diag(torch.cat([core.sigma, core.c * alpha]))  # diag(sigma, c alpha)
        weight_A, weight_B = layer.pblora_A["default"].weight, layer.pblora_B["default"].weight
        return layer.scaling["default"] * weight_B @ diagonal @ weight_A

    patched = reference_with_weights_added(reference, peft_model, torch.tensor([0.3, 0.7]), svd_lora_delta)
    reloaded = assert_matches_hand_model_per_row_merged_and_reloaded(peft_model, reference, patched, tmp_path)
    assert reloaded.peft_config["default"].core == "diagonal"
    with pytest.raises(ValueError, match="r2 must equal num_preferences=2, got 3"):
        PBLoraConfig(core="diagonal", r2=3, num_preferences=2)
    with pytest.raises(ValueError, match="core must be one of"):
        PBLoraConfig(core="svd")


def test_per_objective_core_is_a_sum_of_one_low_rank_delta_per_objective_and_merges_saves_and_batches(arch, tmp_path):
    peft_model, reference = make_peft_model(arch, core="per_objective", r1=1, r2=4, num_preferences=2)

    def sum_of_per_objective_deltas(layer, alpha):
        core = layer.pblora_core["default"]
        weight_A, weight_B = layer.pblora_A["default"].weight, layer.pblora_B["default"].weight
        G = core.G.reshape(2, 4, 4)  # objective i owns directions 2i, 2i+1 (after r1's one)
        delta = weight_B[:, :1] @ core.W1 @ weight_A[:1]
        for index, owned in enumerate((slice(1, 3), slice(3, 5))):
            block = G[index, owned.start - 1 : owned.stop - 1, owned.start - 1 : owned.stop - 1]
            delta = delta + alpha[index] * weight_B[:, owned] @ block @ weight_A[owned]
        return layer.scaling["default"] * delta

    alpha = torch.tensor([0.3, 0.7])
    patched = reference_with_weights_added(reference, peft_model, alpha, sum_of_per_objective_deltas)
    reloaded = assert_matches_hand_model_per_row_merged_and_reloaded(peft_model, reference, patched, tmp_path)
    assert reloaded.peft_config["default"].core == "per_objective"
    with pytest.raises(ValueError, match="r2=3 is not divisible by num_preferences=2"):
        PBLoraConfig(core="per_objective", r2=3, num_preferences=2)


def test_at_a_vertex_the_per_objective_core_trains_only_that_objectives_directions():
    peft_model, _ = make_peft_model("llama", core="per_objective", r1=0, r2=4, num_preferences=2)
    peft_model(random_ids(), preference=[1.0, 0.0]).logits.square().mean().backward()
    for layer in pblora_layers(peft_model):
        grad_A, grad_B = layer.pblora_A["default"].weight.grad, layer.pblora_B["default"].weight.grad
        grad_G = layer.pblora_core["default"].G.grad.reshape(2, 4, 4)
        assert grad_A[:2].abs().sum() > 0 and grad_B[:, :2].abs().sum() > 0 and grad_G[0, :2, :2].abs().sum() > 0
        assert not grad_A[2:].any() and not grad_B[:, 2:].any() and not grad_G[1].any()
        assert not grad_G[0, 2:].any() and not grad_G[0, :, 2:].any()  # entries outside the block do nothing


def test_each_per_objective_block_starts_at_the_scale_of_a_one_objective_core_of_its_rank():
    torch.manual_seed(0)
    blocks = PerObjectivePreferenceCore(r1=0, r2=8, num_preferences=2).G
    one_objective = BilinearPreferenceCore(r1=0, r2=4, num_preferences=1).G  # kaiming: bound 1 / 4
    assert blocks.abs().max() <= 0.25 and one_objective.abs().max() <= 0.25
    assert blocks.abs().max() > 0.2 and one_objective.abs().max() > 0.2
    assert BilinearPreferenceCore(r1=0, r2=8, num_preferences=2).G.abs().max() <= 0.125  # PBLoRA's: 1 / r2
