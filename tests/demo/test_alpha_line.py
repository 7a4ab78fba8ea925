"""The line under the preference controls, without a browser: the alpha in use, or, when the controls give none
(every weight at 0), the reason, since that line updates on each slider move where no error message is shown."""

from __future__ import annotations

from peft_pblora.demo.handlers import alpha_line

from .conftest import tiny_demo_session


def test_the_alpha_line_shows_the_normalised_alpha_or_why_there_is_none():
    three = tiny_demo_session(num_objectives=3)
    assert alpha_line(three, [1.0, 1.0, 0.0]) == "alpha: count_w5 0.50, count_w6 0.50, count_w7 0.00"
    assert alpha_line(three, [0.0, 0.0, 0.0]) == "alpha: none. Give at least one objective a weight above 0."
    two = tiny_demo_session()
    assert alpha_line(two, [0.25]) == "alpha: count_w5 0.25, count_w6 0.75"
