"""Property-based fuzzing of preferences, PBLoraConfig / PARMConfig fields and training data (issue 19).

The property: a call either succeeds and matches an independent reference, or raises a ValueError / TypeError whose
message names the argument; no NaN output, and a refused call leaves the stored preference as it was.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from datasets import Dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peft_pblora import PARMConfig, PBLoraConfig, PBLoraLinear, pblora_layers
from peft_pblora.trainer.data_collator import PreferenceTokenizer, build_grouped_dataset
from peft_pblora.tuners.pblora.preference import simplex_tolerance

from ..conftest import make_peft_model, random_ids, tiny_tokenizer

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

PEFT_MODEL, _ = make_peft_model("llama")  # built once: every example reuses it
IDS = random_ids(batch=3, length=4)
LAYER = next(layer for layer in pblora_layers(PEFT_MODEL) if isinstance(layer, PBLoraLinear))
X = torch.randn(3, 4, LAYER.in_features, generator=torch.Generator().manual_seed(0))
TOKENIZER = tiny_tokenizer()

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.floats(min_value=0, max_value=1),
    st.sampled_from([0.0, 0.5, 1.0, 1 / 3]),
    st.integers(min_value=-2, max_value=3),
)


@st.composite
def simplex_rows(draw, k: int = 2) -> list[float]:
    first = draw(st.floats(min_value=0, max_value=1))
    return [first, 1.0 - first] if k == 2 else [1.0 / k] * k


@st.composite
def preferences(draw):
    """Valid and invalid preferences: lists, nested lists, numpy arrays and tensors of any dtype and shape."""
    kind = draw(st.sampled_from(["list", "rows", "numpy", "tensor", "other"]))
    if kind == "list":
        return draw(st.one_of(simplex_rows(), st.lists(numbers, max_size=4)))
    if kind == "rows":
        rows = draw(st.sampled_from([1, 2, 3]))
        return draw(st.lists(st.one_of(simplex_rows(), st.lists(numbers, max_size=3)), min_size=rows, max_size=rows))
    shape = draw(st.sampled_from([(), (2,), (3,), (1, 2), (3, 2), (2, 2), (1, 1, 2), (0, 2)]))
    size = int(np.prod(shape)) if shape else 1
    if draw(st.booleans()) and shape and shape[-1] == 2:
        values = [value for _ in range(size // 2) for value in draw(simplex_rows())]
    else:
        values = draw(st.lists(numbers, min_size=size, max_size=size))
    if kind == "numpy":
        dtype = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int64]))
        with np.errstate(all="ignore"):
            return np.array(values, dtype=np.float64).astype(dtype).reshape(shape)
    if kind == "tensor":
        dtype = draw(st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.int64]))
        tensor = torch.tensor(values, dtype=torch.float64).reshape(shape)
        if dtype == torch.int64:
            tensor = torch.nan_to_num(tensor, nan=0.0, posinf=2.0, neginf=-2.0)
        return tensor.to(dtype)
    return draw(
        st.sampled_from(
            [{"a": 0.5, "b": 0.5}, "helpful", None, b"\x00", [[0.5, 0.5], [1.0]], torch.full((2,), 0.5, device="meta")]
        )
    )


def reference_layer_output(alpha: torch.Tensor) -> torch.Tensor:
    """s (B1 W1 A1 + B2 reshape(alpha^T G) A2) x + W0 x by hand, one core per row where alpha has rows."""
    r1, r2 = LAYER.r1["default"], LAYER.r2["default"]
    weight_A, weight_B = LAYER.pblora_A["default"].weight, LAYER.pblora_B["default"].weight
    core = LAYER.pblora_core["default"]
    rows = alpha if alpha.dim() == 2 else alpha.expand(X.shape[0], -1)
    outputs = []
    for row, x in zip(rows.expand(X.shape[0], -1), X, strict=True):
        W2 = (row @ core.G).reshape(r2, r2)
        delta = weight_B[:, :r1] @ core.W1 @ weight_A[:r1] + weight_B[:, r1:] @ W2 @ weight_A[r1:]
        outputs.append(LAYER.get_base_layer()(x) + LAYER.scaling["default"] * x @ delta.T)
    return torch.stack(outputs)


def stored() -> list[torch.Tensor]:
    return [layer.pblora_preference["default"].clone() for layer in pblora_layers(PEFT_MODEL)]


@FUZZ
@given(preference=preferences(), bare=st.booleans())
@torch.no_grad()
def test_any_preference_is_used_exactly_or_refused_naming_it(preference, bare):
    PEFT_MODEL.set_preference([0.25, 0.75])
    before = stored()
    model = PEFT_MODEL.get_base_model() if bare else PEFT_MODEL
    try:
        logits = model(IDS, preference=preference).logits
    except ValueError as error:
        assert "preference" in str(error)
        assert all(torch.equal(now, then) for now, then in zip(stored(), before, strict=True))
        return
    assert torch.isfinite(logits).all()
    tensor = torch.as_tensor(preference if preference is not None else [0.25, 0.75])  # None: the stored one
    alpha = tensor.float()
    assert alpha.shape[-1] == 2 and alpha.dim() in (1, 2) and (alpha >= 0).all()
    assert ((alpha.sum(-1) - 1).abs() <= simplex_tolerance(tensor.dtype, 2)).all()
    assert torch.equal(LAYER.pblora_preference["default"], alpha)
    torch.testing.assert_close(LAYER(X), reference_layer_output(alpha), rtol=1e-5, atol=1e-5)


config_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=6),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.lists(st.one_of(st.text(max_size=2), st.floats(min_value=0.01, max_value=2)), max_size=3),
)
PBLORA_FIELDS = ["r1", "r2", "num_preferences", "core", "objective_names", "beta_r", "lora_alpha", "scaling"]
PBLORA_FIELDS += ["lora_dropout", "bias", "init_weights", "fan_in_fan_out"]


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(PBLORA_FIELDS), config_values, min_size=1, max_size=3))
def test_any_pblora_config_is_sound_or_refused_naming_a_field(fields):
    try:
        config = PBLoraConfig(target_modules=["q_proj"], **fields)
    except (TypeError, ValueError) as error:
        assert any(name in str(error) for name in fields), f"{error} names none of {list(fields)}"
        return
    assert all(type(getattr(config, name)) is int for name in ("r1", "r2", "num_preferences"))
    assert config.r1 >= 0 and config.r2 >= 1 and config.num_preferences >= 1
    assert math.isfinite(config.adapter_scaling) and 0 <= config.lora_dropout < 1
    assert len(config.objective_names) == config.num_preferences
    assert all(isinstance(name, str) and name for name in config.objective_names)
    assert config.beta_r is None or all(math.isfinite(value) and value > 0 for value in config.beta_r)


PARM_FIELDS = ["beta_r", "dirichlet_concentration", "max_length", "max_prompt_length", "objective_names"]


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(PARM_FIELDS), config_values, min_size=1, max_size=3))
def test_any_parm_config_is_sound_or_refused_naming_a_field(tmp_path_factory, fields):
    output_dir = str(tmp_path_factory.getbasetemp() / "parm")
    try:
        config = PARMConfig(output_dir=output_dir, use_cpu=True, report_to="none", **fields)
    except (TypeError, ValueError) as error:
        assert any(name in str(error) for name in fields), f"{error} names none of {list(fields)}"
        return
    assert config.beta_r and all(math.isfinite(value) and value > 0 for value in config.beta_r)
    assert math.isfinite(config.dirichlet_concentration) and config.dirichlet_concentration > 0
    for length in (config.max_length, config.max_prompt_length):
        assert length is None or (type(length) is int and length >= 1)


words = st.lists(st.integers(min_value=3, max_value=96).map(lambda index: f"w{index}"), max_size=12).map(" ".join)
fields = st.one_of(st.none(), words, words.map(lambda text: text + " w5" * 40))  # None, empty, short, over-long


@FUZZ
@given(
    rows=st.lists(st.tuples(fields, fields, fields), min_size=1, max_size=4),
    max_prompt_length=st.sampled_from([None, 1, 3, 8]),
    max_length=st.sampled_from([None, 4, 9, 30]),
)
def test_any_training_data_is_tokenized_within_max_length_or_refused_naming_the_row(
    rows, max_prompt_length, max_length
):
    data = Dataset.from_dict(
        {
            column: list(values)
            for column, values in zip(("prompt", "chosen", "rejected"), zip(*rows, strict=True), strict=True)
        }
    )
    tokenizer = PreferenceTokenizer(TOKENIZER, max_prompt_length, max_length)
    try:
        grouped = build_grouped_dataset({"only": data}, ["only"], None, tokenizer)
    except ValueError as error:
        assert "train_dataset['only'] row " in str(error)
        assert any(
            f"'{column}'" in str(error) for column in ("prompt", "chosen", "rejected")
        ) or "prompt keeps" in str(error)
        return
    for (prompt_text, chosen_text, rejected_text), row in zip(rows, grouped, strict=True):
        (prompt,), (first,), (second,) = row["prompt_input_ids"], row["first_input_ids"], row["second_input_ids"]
        assert prompt and first and second
        assert max_prompt_length is None or len(prompt) <= max_prompt_length
        assert max_length is None or max(len(prompt + first), len(prompt + second)) <= max_length
        if chosen_text.split() != rejected_text.split():
            assert first != second, "a cut must not make two different responses identical"
        expected_prompt = TOKENIZER(prompt_text)["input_ids"]
        assert prompt == (expected_prompt[-max_prompt_length:] if max_prompt_length else expected_prompt)
        full_first = TOKENIZER(chosen_text, add_special_tokens=False)["input_ids"] + [TOKENIZER.eos_token_id]
        assert first == full_first[: len(first)] and (max_length is not None or first == full_first)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_fuzzed_configs_include_the_reproducers(value):
    with pytest.raises(ValueError, match="scaling"):
        PBLoraConfig(scaling=value)
    with pytest.raises(ValueError, match="beta_r"):
        PARMConfig(output_dir="unused", use_cpu=True, beta_r=value)
