"""Bad input to guided decoding gets a ValueError naming the problem, before the base model generates."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList

from peft_pblora import GenARMGuidance, PARMGuidance, guided_generate, shared_vocabulary_size

from ..conftest import VOCAB_SIZE, make_peft_model, tiny_llama, tiny_tokenizer

ALPHAS = [[1.0, 0.0], [0.0, 1.0]]


@pytest.fixture(scope="module")
def parm():
    model, _ = make_peft_model("llama")
    return model.eval()


@pytest.mark.parametrize("beta", [0, -1.0, float("nan"), float("inf"), "1"])
def test_invalid_beta(parm, beta):
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        PARMGuidance(parm, alpha=[0.5, 0.5], beta=beta)
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        GenARMGuidance([tiny_llama()], alpha=[1.0], beta=beta)


@pytest.mark.parametrize(
    ("alpha", "message"),
    [
        ([0.2, 0.3, 0.5], "alpha has 3 weights per row but the adapter has num_preferences=2"),
        ([0.7, 0.7], "alpha must sum to 1"),
        ([-0.1, 1.1], "negative weight"),
        ([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], "alpha has 3 rows but the batch has 2 examples"),
    ],
)
def test_invalid_alpha(parm, alpha, message):
    mask = torch.ones(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match=message):
        PARMGuidance(parm, alpha=alpha, attention_mask=mask)


def test_alpha_is_required_for_a_peft_parm_and_refused_for_a_merged_one(parm):
    with pytest.raises(ValueError, match="pass alpha"):
        PARMGuidance(parm)
    with pytest.raises(ValueError, match="merged PARM is fixed to one alpha"):
        PARMGuidance(tiny_llama(), alpha=[0.5, 0.5])


def test_a_padded_batch_without_attention_mask(parm):
    ids = torch.tensor([[0, 0, 5, 6], [7, 8, 9, 10]])
    base = tiny_llama(seed=10)
    with pytest.raises(ValueError, match="look left-padded"):
        base.generate(
            input_ids=ids,
            attention_mask=(ids != 0).long(),
            logits_processor=LogitsProcessorList([PARMGuidance(parm, alpha=ALPHAS)]),
            max_new_tokens=2,
            pad_token_id=0,
        )


def test_vocabularies_that_differ():
    with pytest.raises(ValueError, match="pass the tokenizer"):
        shared_vocabulary_size(VOCAB_SIZE + 3, VOCAB_SIZE)
    assert shared_vocabulary_size(VOCAB_SIZE + 3, VOCAB_SIZE, tiny_tokenizer()) == VOCAB_SIZE
    with pytest.raises(ValueError, match="lacks rows for real tokens"):
        shared_vocabulary_size(VOCAB_SIZE + 3, VOCAB_SIZE, tiny_tokenizer(VOCAB_SIZE + 2))
    with pytest.raises(ValueError, match="tokenizers differ"):
        shared_vocabulary_size(VOCAB_SIZE, VOCAB_SIZE, tiny_tokenizer(), tiny_tokenizer(VOCAB_SIZE - 1))


def test_guided_generate_checks_before_generating(parm):
    torch.manual_seed(10)
    bigger = LlamaForCausalLM(LlamaConfig(**{**tiny_llama().config.to_dict(), "vocab_size": 200})).eval()
    tokenizer = tiny_tokenizer()
    with pytest.raises(ValueError, match="lacks rows for real tokens|tokenizer has"):
        guided_generate(bigger, parm, tiny_tokenizer(150), ["w5 w6"], [0.5, 0.5], max_new_tokens=2)
    with pytest.raises(ValueError, match="non-empty list"):
        guided_generate(tiny_llama(), parm, tokenizer, [], [0.5, 0.5])
    with pytest.raises(ValueError, match="alpha has 2 rows but the batch has 3 examples"):
        guided_generate(tiny_llama(), parm, tokenizer, ["w5", "w6", "w7"], ALPHAS)
    tokenizer.pad_token = None
    with pytest.raises(ValueError, match="no pad token"):
        guided_generate(tiny_llama(), parm, tokenizer, ["w5"], [0.5, 0.5])
