"""Prompts for generation: chat turns, left padding and the positions that follow from the padding mask."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch


def chat_texts(tokenizer: Any, prompts: Sequence[str], system_prompt: str | None = None) -> list[str]:
    """Each prompt as a user turn in the tokenizer's chat template, ready for the assistant's answer; with
    `system_prompt`, after that system turn."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [
        tokenizer.apply_chat_template(
            [*system, {"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        for prompt in prompts
    ]


@contextmanager
def left_padding(tokenizer: Any) -> Iterator[Any]:
    """Pad on the left inside the block (generation continues every row at its end), then restore the setting."""
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        yield tokenizer
    finally:
        tokenizer.padding_side = padding_side


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position of every token counted over the unpadded ones (Llama and GPT-2 do not derive it from the mask)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
