"""The page's input checks and alpha controls, without a model: what the page refuses, and with which message."""

from __future__ import annotations

import pytest

from peft_pblora.demo import DemoInputError, alpha_from_first_weight, alpha_from_weights
from peft_pblora.demo.session import MAX_PROMPT_CHARACTERS, check_prompt, check_strength
from peft_pblora.demo.simplex import format_alpha


def test_one_slider_gives_two_objectives_alpha_on_the_simplex():
    assert alpha_from_first_weight(0.3) == pytest.approx([0.3, 0.7])
    assert alpha_from_first_weight(1) == [1.0, 0.0] and alpha_from_first_weight(0) == [0.0, 1.0]
    with pytest.raises(DemoInputError, match="between 0 and 1"):
        alpha_from_first_weight(1.2)


def test_linked_sliders_are_normalised_onto_the_simplex():
    assert alpha_from_weights([2, 1, 1]) == pytest.approx([0.5, 0.25, 0.25])
    assert alpha_from_weights([0, 0.4, 0]) == pytest.approx([0.0, 1.0, 0.0])
    with pytest.raises(DemoInputError, match="at least one objective a weight above 0"):
        alpha_from_weights([0, 0, 0])
    with pytest.raises(DemoInputError, match="cannot be negative"):
        alpha_from_weights([0.5, -0.1, 0.6])
    assert format_alpha([0.25, 0.75], ["tone", "brevity"]) == "tone 0.25, brevity 0.75"


def test_an_empty_or_overlong_prompt_is_refused_with_a_clear_message():
    for empty in ("", "   \n", None):
        with pytest.raises(DemoInputError, match="Type a prompt first"):
            check_prompt(empty)
    assert check_prompt("  hello \n") == "hello"
    with pytest.raises(DemoInputError, match=f"at most {MAX_PROMPT_CHARACTERS}"):
        check_prompt("x" * (MAX_PROMPT_CHARACTERS + 1))


def test_the_guidance_strength_is_a_finite_number_of_at_least_zero():
    assert check_strength(0) == 0.0 and check_strength(8) == 8.0
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(DemoInputError, match="at least 0"):
            check_strength(bad)
