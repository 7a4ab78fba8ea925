"""A streamer for a whole batch: `generate` hands it one token per row per step, it reports each row's text so far.

transformers' `TextIteratorStreamer` takes a batch of one; the demo batches several users' requests, so each row's
text is decoded on its own and handed to a callback, and a row ends at its first end-of-sequence token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from transformers.generation.streamers import BaseStreamer


def answer_text(tokenizer: Any, tokens: list[int]) -> str:
    """An answer's text as the page shows it: special tokens removed, outer whitespace stripped."""
    return tokenizer.decode(tokens, skip_special_tokens=True).strip()


class BatchTextStreamer(BaseStreamer):
    """Calls `on_text(row, text)` whenever a row's decoded text grows and `on_done(row)` once per row."""

    def __init__(
        self,
        tokenizer: Any,
        rows: int,
        on_text: Callable[[int, str], None],
        on_done: Callable[[int], None],
    ) -> None:
        self.tokenizer = tokenizer
        self.on_text, self.on_done = on_text, on_done
        self.tokens: list[list[int]] = [[] for _ in range(rows)]
        self.texts = [""] * rows
        self.finished = [False] * rows
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate first hands over the prompts
            self._prompt_seen = True
            return
        for row, token in enumerate(value.reshape(len(self.tokens), -1)[:, -1].tolist()):
            if self.finished[row]:
                continue
            if token == self.tokenizer.eos_token_id:
                self._finish(row)
                continue
            self.tokens[row].append(token)
            text = answer_text(self.tokenizer, self.tokens[row])
            if text != self.texts[row]:
                self.texts[row] = text
                self.on_text(row, text)

    def end(self) -> None:
        for row in range(len(self.tokens)):
            if not self.finished[row]:
                self._finish(row)

    def _finish(self, row: int) -> None:
        self.finished[row] = True
        self.on_done(row)
