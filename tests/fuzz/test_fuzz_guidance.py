"""Fuzzing guided decoding's arguments: every call matches the cache-free reference or raises a clear error.

alpha of any shape, dtype and value, beta of any type and value, attention masks of wrong shapes and tokenizers that
do or do not match. The property: PARMGuidance either steers exactly as the cache-free reference at the validated
alpha and beta (never a NaN score), or raises a ValueError or TypeError naming the argument, before any token is
chosen; either way the PARM's stored preference and training mode are unchanged. Tiny models, built once.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from transformers import LogitsProcessorList

from peft_pblora import PARMGuidance, PARMGuidedModel, pblora_layers, validate_beta, validate_preference
from peft_pblora.tuners.pblora.preference import expand_preference_rows

from ..conftest import ALPHAS, CacheFreeGuidance, left_padded_batch, strong_parm, tiny_llama, tiny_tokenizer

FUZZ = settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ARGUMENT_NAMES = ("alpha", "beta", "attention_mask", "tokenizer", "parm")

BASE = tiny_llama(seed=10)
PARM_BASE = tiny_llama(seed=0)  # the PARM's own base before its adapter: the fused path's base
PARM = strong_parm("llama", lora_dropout=0.2).train()  # in training mode, as right after trainer.train()
PARM.set_preference([0.25, 0.75])
IDS, MASK = left_padded_batch()
TOKENIZER = tiny_tokenizer()
OTHER_TOKENIZER = tiny_tokenizer(60)


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """One thread for the tiny models: on the loaded 2-core machine a second thread costs them up to 40x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def parm_state() -> tuple[list, list[bool]]:
    preferences = [layer.pblora_preference.get("default") for layer in pblora_layers(PARM)]
    return [None if p is None else p.clone() for p in preferences], [module.training for module in PARM.modules()]


PARM_STATE = parm_state()

finite = st.floats(min_value=-2, max_value=2, allow_nan=False, width=32)
any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
simplex_row = st.floats(min_value=0, max_value=1).map(lambda a: [a, 1 - a])
float_dtypes = st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16])

valid_alpha = st.one_of(
    simplex_row,
    st.lists(simplex_row, min_size=3, max_size=3),
    st.tuples(
        st.sampled_from([1, 3]).flatmap(lambda n: st.lists(simplex_row, min_size=n, max_size=n)), float_dtypes
    ).map(lambda r: torch.tensor(r[0]).to(r[1])),
    st.tuples(simplex_row, st.sampled_from([np.float16, np.float32, np.float64])).map(lambda r: np.array(r[0], r[1])),
)
invalid_alpha = st.one_of(
    st.sampled_from([torch.tensor([1, 0]), torch.tensor([True, False]), torch.tensor([0.5, 0.5], dtype=torch.int64)]),
    st.lists(simplex_row, min_size=1, max_size=4),
    st.lists(finite, min_size=0, max_size=4),
    st.lists(st.lists(any_float, min_size=2, max_size=2), min_size=1, max_size=3),
    st.just([[ALPHAS[0]]]),  # 3-D
    st.sampled_from([None, "0.5, 0.5", {"a": 0.5, "b": 0.5}, 0.5, [[1.0, 0.0], [0.5]]]),
)
alpha_strategy = st.one_of(valid_alpha, valid_alpha, invalid_alpha)
valid_beta = st.one_of(
    st.floats(min_value=0.05, max_value=20),
    st.integers(min_value=1, max_value=5),
    st.floats(min_value=0.05, max_value=10).map(np.float32),
    st.floats(min_value=0.05, max_value=10).map(torch.tensor),
)
invalid_beta = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-3, max_value=0),
    st.booleans(),
    st.floats(min_value=-1, max_value=10).map(torch.tensor),
    st.floats(min_value=0.1, max_value=10).map(lambda b: torch.tensor([b, b])),
    st.sampled_from(["1", None, [1.0], torch.tensor(True), 1e-40, 1e-29]),
)
beta_strategy = st.one_of(valid_beta, valid_beta, invalid_beta)
mask_strategy = st.sampled_from(
    ["right", "right", "right", "none", "one row short", "one column short", "1-d", "list", "4 rows"]
)
tokenizer_strategy = st.sampled_from(["none", "same", "same", "other parm tokenizer"])
decoding_strategy = st.sampled_from(
    [dict(do_sample=False), dict(num_beams=2, num_return_sequences=2), dict(do_sample=True, top_k=10)]
)


def fuzzed_mask(kind: str):
    return {
        "right": MASK,
        "none": None,
        "one row short": MASK[:2],
        "one column short": MASK[:, 1:],
        "1-d": MASK[0],
        "list": MASK.tolist(),
        "4 rows": torch.cat([MASK, MASK[:1]]),
    }[kind]


def generate(processor, decoding, seed: int = 0, base=BASE):
    torch.manual_seed(seed)
    return base.generate(
        input_ids=IDS, attention_mask=MASK, logits_processor=LogitsProcessorList([processor]), max_new_tokens=3,
        min_new_tokens=3, pad_token_id=0, output_scores=True, return_dict_in_generate=True, **decoding,
    )  # fmt: skip


def assert_names_an_argument(error: Exception) -> None:
    assert isinstance(error, (ValueError, TypeError)), f"{type(error).__name__}: {error}"
    assert any(name in str(error) for name in ARGUMENT_NAMES), f"the error names no argument: {error}"


def assert_state_unchanged() -> None:
    preferences, modes = parm_state()
    assert modes == PARM_STATE[1], "the PARM's training mode changed"
    for now, before in zip(preferences, PARM_STATE[0], strict=True):
        assert torch.equal(now, before), "the PARM's stored preference changed"


@FUZZ
@given(
    alpha=alpha_strategy,
    beta=beta_strategy,
    mask=mask_strategy,
    tokenizers=tokenizer_strategy,
    decoding=decoding_strategy,
)
def test_guidance_matches_the_reference_or_refuses_clearly(alpha, beta, mask, tokenizers, decoding):
    tokenizer = None if tokenizers == "none" else TOKENIZER
    parm_tokenizer = OTHER_TOKENIZER if tokenizers == "other parm tokenizer" else None
    try:
        processor = PARMGuidance(
            PARM, alpha, beta, attention_mask=fuzzed_mask(mask), tokenizer=tokenizer, parm_tokenizer=parm_tokenizer
        )
        output = generate(processor, decoding)
    except (ValueError, TypeError) as error:
        event("refused")
        assert_names_an_argument(error)
        assert_state_unchanged()
        return
    event("guided")
    assert_state_unchanged()
    # it succeeded: the arguments were valid, and the tokens are the cache-free reference's
    assert mask == "right" and tokenizers != "other parm tokenizer"
    assert all(not torch.isnan(scores).any() for scores in output.scores)
    assert_reference_tokens(output, alpha, beta, decoding)


@FUZZ
@given(alpha=valid_alpha, beta=valid_beta, decoding=decoding_strategy, seed=st.integers(0, 2**16))
def test_valid_guidance_arguments_give_the_reference_tokens(alpha, beta, decoding, seed):
    output = generate(PARMGuidance(PARM, alpha, beta, attention_mask=MASK, tokenizer=TOKENIZER), decoding, seed)
    assert_state_unchanged()
    assert all(not torch.isnan(scores).any() for scores in output.scores)
    assert_reference_tokens(output, alpha, beta, decoding, seed)


def assert_reference_tokens(output, alpha, beta, decoding, seed: int = 0, base=BASE) -> None:
    """The tokens equal the cache-free reference's at the validated alpha and beta (its PARM runs in eval mode)."""
    rows = 3 * max(decoding.get("num_beams", 1), decoding.get("num_return_sequences", 1))
    preferences = expand_preference_rows(validate_preference(alpha, 2, name="alpha"), rows)
    PARM.eval()
    try:
        for layer in pblora_layers(PARM):  # as validated, not validated again (a float16 row may sum to 1.0002)
            layer.set_preference("default", preferences)
        reference = CacheFreeGuidance([PARM.get_base_model()], [[1.0]] * 3, MASK, validate_beta(beta))
        expected = generate(reference, decoding, seed, base)
    finally:
        PARM.train()
        PARM.set_preference(PARM_STATE[0][0])
    torch.testing.assert_close(output.sequences, expected.sequences, rtol=0, atol=0)


@FUZZ
@given(
    alpha=alpha_strategy, beta=beta_strategy, decoding=decoding_strategy, masked=st.sampled_from([True, True, False])
)
def test_fused_guidance_matches_the_reference_or_refuses_clearly(alpha, beta, decoding, masked):
    try:
        guided = PARMGuidedModel(PARM, alpha, beta)
        torch.manual_seed(0)
        output = guided.generate(
            input_ids=IDS, attention_mask=MASK if masked else None, max_new_tokens=3, min_new_tokens=3,
            pad_token_id=0, output_scores=True, return_dict_in_generate=True, **decoding,
        )  # fmt: skip
    except (ValueError, TypeError) as error:
        event("refused")
        assert_names_an_argument(error)
        assert_state_unchanged()
        return
    event("guided")
    assert masked, "left-padded prompts without a mask must be refused"
    assert_state_unchanged()
    assert all(not torch.isnan(scores).any() for scores in output.scores)
    assert_reference_tokens(output, alpha, beta, decoding, base=PARM_BASE)


@FUZZ
@given(beta=st.one_of(beta_strategy, st.fractions(), st.decimals(allow_nan=True)))
def test_validate_beta_returns_a_finite_positive_float_or_names_beta(beta):
    try:
        value = validate_beta(beta)
    except (ValueError, TypeError) as error:
        assert "beta" in str(error)
        return
    assert isinstance(value, float) and math.isfinite(value) and value > 0


@pytest.mark.parametrize("mask", ["none", "one row short", "one column short"])
def test_a_refused_mask_leaves_the_parm_as_it_was(mask):
    with pytest.raises(ValueError, match="attention_mask"):
        generate(PARMGuidance(PARM, [0.5, 0.5], 0.5, attention_mask=fuzzed_mask(mask)), dict(do_sample=False))
    assert_state_unchanged()
