"""Per-row preferences: one batch equals one call per row, in forward, generate, beams and checkpointing."""

from __future__ import annotations

import pytest
import torch
from peft import PeftModel, get_peft_model
from transformers import LlamaForSequenceClassification

from ..conftest import make_peft_model, pblora_config, random_ids, tiny_llama

ALPHAS = [[1.0, 0.0], [0.25, 0.75], [0.0, 1.0]]


def test_per_row_batch_equals_one_forward_per_row(arch):
    peft_model, _ = make_peft_model(arch)
    ids = random_ids(batch=3)
    batched = peft_model(ids, preference=ALPHAS).logits
    for row, alpha in enumerate(ALPHAS):
        single = peft_model(ids[row : row + 1], preference=alpha).logits
        torch.testing.assert_close(batched[row : row + 1], single, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(batched[0], peft_model(ids[:1], preference=ALPHAS[2]).logits[0], atol=1e-3)


def test_a_single_row_preference_is_shared_by_the_batch():
    peft_model, _ = make_peft_model("llama")
    ids = random_ids(batch=3)
    torch.testing.assert_close(
        peft_model(ids, preference=[[0.3, 0.7]]).logits, peft_model(ids, preference=[0.3, 0.7]).logits
    )


@pytest.mark.parametrize(
    "generate_kwargs",
    [
        dict(do_sample=False),
        dict(do_sample=False, num_beams=3),
        dict(do_sample=False, num_beams=3, num_return_sequences=2),
    ],
    ids=["greedy", "beams", "beams-and-returned-sequences"],
)
def test_generate_with_per_row_preferences_equals_one_call_per_row(arch, generate_kwargs):
    peft_model, _ = make_peft_model(arch)
    ids = random_ids(batch=3, length=5)
    settings = dict(max_new_tokens=6, min_new_tokens=6, pad_token_id=0, **generate_kwargs)
    batched = peft_model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), preference=ALPHAS, **settings)
    per_prompt = batched.shape[0] // 3
    for row, alpha in enumerate(ALPHAS):
        single = peft_model.generate(
            input_ids=ids[row : row + 1], attention_mask=torch.ones_like(ids[:1]), preference=alpha, **settings
        )
        torch.testing.assert_close(batched[row * per_prompt : (row + 1) * per_prompt], single)


def test_generate_follows_the_preference():
    peft_model, _ = make_peft_model("llama", lora_alpha=60)
    ids = random_ids(batch=1, length=5).repeat(2, 1)
    out = peft_model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        preference=[[1.0, 0.0], [0.0, 1.0]],
        max_new_tokens=8,
        do_sample=False,
        pad_token_id=0,
    )
    assert not torch.equal(out[0], out[1]), "the same prompt at two preferences must diverge on a strong adapter"


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_gradients_with_and_without_activation_checkpointing_match(arch, use_reentrant):
    ids = random_ids(batch=3)
    gradients = []
    for checkpointing in (False, True):
        peft_model, _ = make_peft_model(arch)
        peft_model.train()
        if checkpointing:
            peft_model.base_model.model.activation_checkpointing_enable(
                activation_checkpointing_kwargs={"use_reentrant": use_reentrant}
            )
            assert peft_model.base_model.model.is_activation_checkpointing
        loss = peft_model(ids, labels=ids, preference=ALPHAS).loss
        loss.backward()
        gradients.append({n: p.grad.clone() for n, p in peft_model.named_parameters() if p.requires_grad})
    plain, checkpointed = gradients
    assert plain.keys() == checkpointed.keys() and plain
    assert any(grad.abs().sum() > 0 for name, grad in plain.items() if ".G" in name)
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("task_type", [None, "CAUSAL_LM", "SEQ_CLS"])
def test_the_preference_reaches_the_layers_for_every_task_type(task_type):
    if task_type == "SEQ_CLS":
        torch.manual_seed(0)
        base = LlamaForSequenceClassification(tiny_llama().config).eval()
    else:
        base = tiny_llama()
    torch.manual_seed(1)
    peft_model = get_peft_model(base, pblora_config(task_type=task_type))
    assert isinstance(peft_model, PeftModel)
    ids = random_ids(batch=3)

    def output(**kwargs):
        result = peft_model(input_ids=ids, **kwargs)
        return result.logits

    batched = output(preference=ALPHAS)
    for row, alpha in enumerate(ALPHAS):
        torch.testing.assert_close(batched[row], output(preference=alpha)[row], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(output(preference=ALPHAS[0]), output(preference=ALPHAS[2]), atol=1e-4)


def test_generate_without_task_type():
    base = tiny_llama()
    torch.manual_seed(1)
    peft_model = get_peft_model(base, pblora_config(task_type=None))
    ids = random_ids(batch=2, length=4)
    out = peft_model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        preference=ALPHAS[:2],
        max_new_tokens=3,
        do_sample=False,
        pad_token_id=0,
    )
    single = peft_model.generate(
        input_ids=ids[1:],
        attention_mask=torch.ones_like(ids[1:]),
        preference=ALPHAS[1],
        max_new_tokens=3,
        do_sample=False,
        pad_token_id=0,
    )
    torch.testing.assert_close(out[1:], single)


def test_the_preference_persists_until_replaced():
    peft_model, _ = make_peft_model("llama")
    ids = random_ids()
    with_kwarg = peft_model(ids, preference=[0.3, 0.7]).logits
    torch.testing.assert_close(peft_model(ids).logits, with_kwarg)
    peft_model.set_preference([0.9, 0.1])
    assert not torch.allclose(peft_model(ids).logits, with_kwarg, atol=1e-4)


@pytest.mark.parametrize("core", ["bilinear", "per_objective"])
def test_frozen_row_cores_equal_the_formula_and_leave_rows_switched_off_exactly_the_base(arch, core):
    peft_model, _ = make_peft_model(arch, core=core, r2=4)
    peft_model.eval()
    layers = [module for module in peft_model.modules() if hasattr(module, "pblora_row_cores")]
    layer = layers[0]
    x = torch.randn(4, 3, layer.in_features)
    preference = torch.tensor(ALPHAS + [[0.5, 0.5]])
    rows_on = torch.tensor([False, True, True, False])
    layer.set_row_cores("default", preference, rows_on)
    with torch.no_grad():
        frozen = layer(x)
        base = layer.get_base_layer()(x)
        scaling = layer.scaling["default"]
        weight_A, weight_B = layer.pblora_A["default"].weight, layer.pblora_B["default"].weight
        for row in range(4):
            core = layer.pblora_core["default"](preference[row])
            by_hand = base[row] + scaling * (x[row] @ weight_A.T @ core.T @ weight_B.T) * rows_on[row]
            torch.testing.assert_close(frozen[row], by_hand, rtol=1e-5, atol=1e-6)
    assert torch.equal(frozen[~rows_on], base[~rows_on])
    layer.clear_row_cores("default")
    assert "default" not in layer.pblora_row_cores


def test_frozen_row_cores_are_used_only_for_their_batch_size_and_in_eval_mode():
    peft_model, _ = make_peft_model("llama")
    layer = next(module for module in peft_model.modules() if hasattr(module, "pblora_row_cores"))
    peft_model.set_preference([0.3, 0.7])
    x = torch.randn(2, 3, layer.in_features)
    with torch.no_grad():
        expected = layer(x)
        layer.set_row_cores("default", torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([False, False]))
        layer.eval()
        assert torch.equal(layer(x), layer.get_base_layer()(x))  # the frozen cores apply: both rows off
        torch.testing.assert_close(layer(x[:1]), expected[:1])  # another batch size: the stored preference
        layer.train()
        torch.testing.assert_close(layer(x), expected)  # training mode never uses frozen cores
