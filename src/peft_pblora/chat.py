"""Prompts as chat turns: the one place that applies a tokenizer's chat template to user requests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def chat_texts(tokenizer: Any, prompts: Sequence[str]) -> list[str]:
    """Each prompt as a user turn in the tokenizer's chat template, ready for the assistant's answer."""
    return [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        for prompt in prompts
    ]
