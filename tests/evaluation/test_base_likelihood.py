"""The base's negative log-likelihood per answer token, against the formula by hand on a tiny random model."""

from __future__ import annotations

import math

import pytest
import torch

from peft_pblora.evaluation import answer_nll, mean_nll
from peft_pblora.evaluation.base_likelihood import is_off_language, off_language_share

from ..conftest import tiny_chat_tokenizer, tiny_llama


def nll_by_hand(model, tokenizer, prompt: str, answer: str) -> float:
    """One unpadded forward over the rendered prompt and the answer; each answer token's -log p summed in a loop."""
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)  # fmt: skip
    prompt_ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt_ids + answer_ids])).logits[0]
    total = 0.0
    for offset, token in enumerate(answer_ids):
        row = logits[len(prompt_ids) + offset - 1]
        total -= (row[token] - torch.logsumexp(row, dim=0)).item()
    return total / len(answer_ids)


@pytest.mark.parametrize("batch_size", [1, 2, 8])
def test_each_answers_nll_is_the_formula_by_hand_whatever_the_batching(batch_size):
    model, tokenizer = tiny_llama(seed=4).eval(), tiny_chat_tokenizer()
    prompts = ["w5 w6", "w7", "w8 w9 w10 w11", "w5"]
    answers = ["w12 w13 w14", "w15", "", "w16 w17 w18 w19 w20 w21"]
    values = answer_nll(model, tokenizer, prompts, answers, batch_size=batch_size)
    for prompt, answer, value in zip(prompts, answers, values, strict=True):
        if answer:
            assert value == pytest.approx(nll_by_hand(model, tokenizer, prompt, answer), abs=1e-4)
        else:
            assert math.isnan(value), "an answer with no token has no likelihood"
    assert mean_nll(values) == pytest.approx(sum(values[index] for index in (0, 1, 3)) / 3)
    assert mean_nll([math.nan]) is None


def test_the_off_language_share_counts_answers_at_least_the_gap_above_the_reference():
    """By hand, reference 0.7 and gap 3: 3.7 and 9.0 count, 3.6 does not, an empty answer (NaN) counts as in the
    language but among the answers: 2 of 4."""
    assert off_language_share([3.7, 3.6, math.nan, 9.0], 0.7, gap=3.0) == pytest.approx(0.5)
    assert off_language_share([0.8, 1.2], 0.7) == 0.0
    one_answer_counts_from_3_nats = off_language_share([3.7, 3.0], 0.7)  # not from the vertex's line, 2.25
    assert one_answer_counts_from_3_nats == pytest.approx(0.5)
    assert off_language_share([], 0.7) == 0.0


def test_word_salad_starts_at_the_gap_itself():
    """The one threshold test: a vertex 2.25 nats above the reference is off the language, anything below is not."""
    assert is_off_language(2.25) and is_off_language(7.2)
    assert not is_off_language(2.249) and not is_off_language(-1.0)
    assert is_off_language(1.0, gap=1.0) and not is_off_language(0.9, gap=1.0)
