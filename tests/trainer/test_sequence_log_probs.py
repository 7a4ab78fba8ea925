"""Completion log-probs without the full-vocabulary logits: values and gradients equal to the full-logits ones."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from peft import get_peft_model
from transformers import CohereConfig, CohereForCausalLM, Gemma2Config, Gemma2ForCausalLM

from peft_pblora import set_preference
from peft_pblora.data.chat import position_ids_from_mask
from peft_pblora.trainer.loss import rewards_from_log_probs
from peft_pblora.trainer.sequence_log_probs import (
    FULL_LOGITS_ENV,
    sequence_log_probs,
    splittable_head,
    token_log_probs,
)

from ..conftest import VOCAB_SIZE, make_peft_model, make_trainer, pblora_config, tiny_llama

# (prompt length, completion length) per row: uneven, so rows are left-padded and the completions end-aligned
SHAPES = [(3, 4), (5, 1), (2, 6), (4, 3)]


def left_padded_rows(shapes=SHAPES, seed: int = 0) -> dict[str, torch.Tensor]:
    """Rows as PARMDataCollator lays them out: left padding, completion at the end, positions from the mask."""
    generator = torch.Generator().manual_seed(seed)
    length = max(prompt + completion for prompt, completion in shapes)
    input_ids = torch.zeros((len(shapes), length), dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    completion_mask = torch.zeros_like(input_ids)
    for row, (prompt, completion) in enumerate(shapes):
        input_ids[row, length - prompt - completion :] = torch.randint(
            3, VOCAB_SIZE, (prompt + completion,), generator=generator
        )
        attention_mask[row, length - prompt - completion :] = 1
        completion_mask[row, length - completion :] = 1
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "position_ids": position_ids_from_mask(attention_mask),
        "completion_mask": completion_mask,
        "logits_to_keep": max(completion for _, completion in shapes) + 1,
    }


def hand_sums(model, rows: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference: every position's full-vocabulary logits, log_softmax, the completion tokens picked by hand."""
    logits = model(
        input_ids=rows["input_ids"], attention_mask=rows["attention_mask"], position_ids=rows["position_ids"]
    ).logits.float()
    log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
    picked = log_probs.gather(-1, rows["input_ids"][:, 1:].unsqueeze(-1)).squeeze(-1)
    mask = rows["completion_mask"][:, 1:].bool()
    return torch.where(mask, picked, torch.zeros_like(picked)).sum(-1), mask.sum(-1).float()


def chunked_sums(model, rows: dict[str, torch.Tensor], **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    return sequence_log_probs(model, **rows, **kwargs)


def reward_loss(summed, counts, length_normalized, coefficients):
    """A scalar mixing every row's rewards with fixed coefficients, so gradients see each row and objective."""
    return (rewards_from_log_probs(summed, counts, length_normalized) * coefficients).sum()


def adapter_gradients(model, loss) -> dict[str, torch.Tensor]:
    model.zero_grad()
    loss.backward()
    return {name: parameter.grad.clone() for name, parameter in model.named_parameters() if parameter.requires_grad}


@pytest.mark.parametrize("chunk_tokens", [1, 3, None])
def test_token_log_probs_equal_log_softmax(chunk_tokens):
    """Values and gradients (hidden, trainable head and bias) against log_softmax over the whole vocabulary."""
    torch.manual_seed(0)
    hidden = torch.randn(11, 8, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(VOCAB_SIZE, 8, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(VOCAB_SIZE, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, VOCAB_SIZE, (11,))
    upstream = torch.randn(11, dtype=torch.float64)
    for logit_scale, softcap in [(1.0, None), (0.5, None), (1.0, 2.0), (2.0, 3.0)]:
        logits = (hidden @ weight.T + bias) * logit_scale
        if softcap is not None:
            logits = softcap * torch.tanh(logits / softcap)
        expected = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        expected_grads = torch.autograd.grad((expected * upstream).sum(), (hidden, weight, bias))
        got = token_log_probs(hidden, weight, bias, targets, chunk_tokens, logit_scale, softcap)
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, expected.float(), rtol=1e-6, atol=1e-6)
        got_grads = torch.autograd.grad((got.double() * upstream).sum(), (hidden, weight, bias))
        for got_grad, expected_grad in zip(got_grads, expected_grads, strict=True):
            torch.testing.assert_close(got_grad, expected_grad, rtol=1e-5, atol=1e-6)
        # a frozen head: the gradient for the hidden states is built in the forward, no logits kept for the backward
        frozen = token_log_probs(hidden, weight.detach(), None, targets, chunk_tokens, logit_scale, softcap)
        reference = (hidden @ weight.detach().T) * logit_scale
        if softcap is not None:
            reference = softcap * torch.tanh(reference / softcap)
        reference = torch.log_softmax(reference, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        (got_hidden,) = torch.autograd.grad((frozen.double() * upstream).sum(), hidden)
        (expected_hidden,) = torch.autograd.grad((reference * upstream).sum(), hidden)
        torch.testing.assert_close(got_hidden, expected_hidden, rtol=1e-5, atol=1e-6)


def test_token_log_probs_refuses_bad_shapes():
    with pytest.raises(ValueError, match="hidden must be"):
        token_log_probs(torch.zeros(2, 3, 4), torch.zeros(5, 4), None, torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="chunk_tokens"):
        token_log_probs(torch.zeros(2, 4), torch.zeros(5, 4), None, torch.zeros(2, dtype=torch.long), chunk_tokens=0)


@pytest.mark.parametrize("per_row_alpha", [False, True])
def test_pblora_rewards_and_gradients_equal_full_logits(arch, per_row_alpha):
    """Summed and mean rewards, per-row or one alpha, left padding: values and adapter gradients as the reference."""
    model, _ = make_peft_model(arch, dtype=torch.float32)  # eval mode: no dropout (GPT-2 has some), same gradients
    rows = left_padded_rows()
    alpha = (
        torch.tensor([[1.0, 0.0], [0.3, 0.7], [0.5, 0.5], [0.0, 1.0]]) if per_row_alpha else torch.tensor([0.2, 0.8])
    )
    set_preference(model, alpha)
    length_normalized = [False, True]  # column 0 summed, column 1 the mean over the completion tokens
    coefficients = torch.randn(len(SHAPES), 2, generator=torch.Generator().manual_seed(5))

    expected_summed, expected_counts = hand_sums(model, rows)
    expected = adapter_gradients(model, reward_loss(expected_summed, expected_counts, length_normalized, coefficients))
    for chunk_tokens in (2, None):
        summed, counts = chunked_sums(model, rows, chunk_tokens=chunk_tokens)
        torch.testing.assert_close(counts, expected_counts)
        torch.testing.assert_close(summed, expected_summed, rtol=1e-5, atol=1e-5)
        got = adapter_gradients(model, reward_loss(summed, counts, length_normalized, coefficients))
        assert got.keys() == expected.keys() and len(got) > 0
        for name in expected:
            torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6, msg=name)
            assert expected[name].abs().sum() > 0, name  # the comparison is not between two zeros


def test_full_logits_switch_and_no_grad_agree():
    model, _ = make_peft_model("llama")
    set_preference(model, [0.6, 0.4])
    rows = left_padded_rows(seed=1)
    full = chunked_sums(model, rows, full_logits=True)
    with torch.no_grad():
        chunked = chunked_sums(model, rows)
    assert chunked[0].grad_fn is None
    torch.testing.assert_close(chunked, full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(full, hand_sums(model, rows), rtol=1e-5, atol=1e-5)
    assert FULL_LOGITS_ENV == "PEFT_PBLORA_FULL_LOGITS"


def test_trainable_head_recomputes_in_backward():
    """No adapter, everything trained, the head tied to the embedding: gradients of every parameter match."""
    model = tiny_llama(seed=2).train()
    rows = left_padded_rows(seed=2)
    expected_summed, _ = hand_sums(model, rows)
    model.zero_grad()
    expected_summed.sum().backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    summed, _ = chunked_sums(model, rows, chunk_tokens=3)
    torch.testing.assert_close(summed, expected_summed, rtol=1e-5, atol=1e-5)
    model.zero_grad()
    summed.sum().backward()
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, expected[name], rtol=1e-4, atol=1e-6, msg=name)
    assert expected["lm_head.weight"].abs().sum() > 0


def tiny_gemma2(softcap: float) -> Gemma2ForCausalLM:
    torch.manual_seed(0)
    config = Gemma2Config(
        vocab_size=VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, final_logit_softcapping=softcap, pad_token_id=0, eos_token_id=1,
        bos_token_id=2, attn_implementation="eager",
    )  # fmt: skip
    return Gemma2ForCausalLM(config)


def tiny_cohere(logit_scale: float) -> CohereForCausalLM:
    torch.manual_seed(0)
    config = CohereConfig(
        vocab_size=VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, logit_scale=logit_scale, pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )  # fmt: skip
    return CohereForCausalLM(config)


@pytest.mark.parametrize("build", [lambda: tiny_gemma2(softcap=0.5), lambda: tiny_cohere(logit_scale=3.0)])
def test_logit_softcapping_and_scale_follow_the_model(build):
    """Gemma-2's final soft cap and Cohere's logit scale, both strong enough to matter, are applied per chunk."""
    base = build()
    model = get_peft_model(base, pblora_config("llama", target_modules=["q_proj", "v_proj"])).train()
    set_preference(model, [0.4, 0.6])
    rows = left_padded_rows(seed=3)
    head, logit_scale, softcap, _ = splittable_head(model)
    assert head is base.lm_head and (logit_scale, softcap) != (1.0, None)
    expected_summed, _ = hand_sums(model, rows)
    expected = adapter_gradients(model, expected_summed.sum())
    summed, _ = chunked_sums(model, rows, chunk_tokens=4)
    torch.testing.assert_close(summed, expected_summed, rtol=1e-5, atol=1e-5)
    got = adapter_gradients(model, summed.sum())
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6, msg=name)


def test_unsplittable_heads_take_the_full_logits_path(caplog):
    """An adapter on the head, or a config rescaling logits in a way not reproduced here: the reference path."""
    adapted, _ = make_peft_model("llama", target_modules=["q_proj", "lm_head"])
    assert splittable_head(adapted)[0] is None
    rescaled = tiny_llama(seed=4)
    rescaled.config.logits_scaling = 2.0  # Granite's field; Llama ignores it, so the reference is still plain logits
    head, *_, reason = splittable_head(rescaled)
    assert head is None and "logits_scaling" in reason
    rows = left_padded_rows(seed=4)
    for model in (adapted, rescaled):
        if model is adapted:
            set_preference(model, [0.5, 0.5])
        calls: list[torch.Size] = []
        handle = model.get_output_embeddings().register_forward_hook(
            lambda module, args, output, calls=calls: calls.append(output.shape)
        )
        with caplog.at_level(logging.WARNING, logger="peft_pblora.trainer.sequence_log_probs"):
            summed, counts = chunked_sums(model, rows)
        handle.remove()
        assert calls == [(len(SHAPES), rows["logits_to_keep"], VOCAB_SIZE)]  # the full logits of the kept positions
        torch.testing.assert_close((summed, counts), hand_sums(model, rows), rtol=1e-5, atol=1e-5)
    assert "full-vocabulary logits" in caplog.text


def test_split_head_builds_only_one_position_of_model_logits():
    model, _ = make_peft_model("gpt2")
    set_preference(model, [0.5, 0.5])
    calls = []
    handle = model.get_output_embeddings().register_forward_hook(lambda m, i, o: calls.append(o.shape))
    chunked_sums(model, left_padded_rows())
    handle.remove()
    assert calls == [(len(SHAPES), 1, VOCAB_SIZE)]


@pytest.mark.parametrize("precision", ["bfloat16 model", "bfloat16 autocast"])
def test_low_precision_runs_and_stays_close(precision):
    """bf16 weights, or fp32 weights under CPU autocast: the head runs in bf16 like the model's, values close."""
    model, _ = make_peft_model("llama", dtype=torch.bfloat16 if precision == "bfloat16 model" else torch.float32)
    set_preference(model, [0.3, 0.7])
    rows = left_padded_rows(seed=6)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16 autocast")
    with autocast:
        expected_summed, _ = hand_sums(model, rows)
    expected = adapter_gradients(model, expected_summed.sum())
    with autocast:
        summed, _ = chunked_sums(model, rows, chunk_tokens=3)
    assert summed.dtype == torch.float32
    torch.testing.assert_close(summed, expected_summed, rtol=2e-2, atol=5e-2)
    got = adapter_gradients(model, summed.sum())
    for name in expected:
        assert got[name].dtype == expected[name].dtype
        cosine = F.cosine_similarity(got[name].float().flatten(), expected[name].float().flatten(), dim=0)
        assert cosine > 0.99, (name, cosine)


@pytest.mark.parametrize("activation_checkpointing", [False, True])
def test_trainer_rewards_equal_the_full_logits_switch(tmp_path, monkeypatch, activation_checkpointing):
    """PARMTrainer._rewards on a collated batch, per-row alpha, a summed and a mean objective: both paths agree."""
    prompts = ["w11 w12 w13", "w21", "w31 w32 w33 w34 w35"]  # uneven prompts and answers: left padding
    short, long = ["w5 w5", "w7", "w9 w9 w9"], ["w6 w6 w6 w6", "w8 w8 w8", "w10"]
    datasets = {
        "first_word": Dataset.from_dict({"prompt": prompts, "chosen": short, "rejected": long}),
        "second_word": Dataset.from_dict({"prompt": prompts, "chosen": long, "rejected": short}),
    }
    trainer = make_trainer(
        tmp_path,
        datasets,
        length_normalized_rewards=["second_word"],
        activation_checkpointing=activation_checkpointing,
    )
    trainer.model.train()
    model = trainer.model
    inputs = trainer._prepare_inputs(trainer.data_collator([trainer.train_dataset[index] for index in range(3)]))
    rows = inputs["input_ids"].shape[0]
    assert (inputs["attention_mask"][:, 0] == 0).any()  # some rows are left-padded
    set_preference(model, torch.linspace(0, 1, rows).unsqueeze(1) * torch.tensor([[1.0, -1.0]]) + torch.tensor([0, 1]))
    results = {}
    for full in ("1", "0"):
        monkeypatch.setenv(FULL_LOGITS_ENV, full)
        rewards = trainer._rewards(model, inputs)
        results[full] = (rewards.detach(), adapter_gradients(model, rewards.sum()))
    torch.testing.assert_close(results["0"][0], results["1"][0], rtol=1e-5, atol=1e-5)
    for name, expected in results["1"][1].items():
        torch.testing.assert_close(results["0"][1][name], expected, rtol=1e-4, atol=1e-6, msg=name)
