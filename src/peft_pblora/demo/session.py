"""A loaded demo: the base model, the run's PARM and its guidance settings; answers batches of (prompt, alpha) rows.

Every row of one batch carries its own preference and guidance strength (0: the unguided base), so different users'
alphas, and the base model's own answer, are decoded in one `generate` call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from transformers import LogitsProcessorList

from ..data.chat import chat_texts, left_padding
from ..evaluation import Scorer
from ..guidance.processors import PARMGuidance
from .errors import DemoInputError
from .streaming import BatchTextStreamer, answer_text

MAX_PROMPT_CHARACTERS = 2000


@dataclass(frozen=True)
class Row:
    """One answer to decode: a prompt, a preference and a guidance strength 1/beta (0: the unguided base)."""

    prompt: str
    alpha: tuple[float, ...]
    strength: float


class RowStrengthGuidance(PARMGuidance):
    """`PARMGuidance` with one strength 1/beta per row, so guided rows of any strength and unguided rows (0) share
    a batch; with `reference="base"` a row of strength 0 is exactly the base model's log-probabilities."""

    def __init__(self, parm: nn.Module, alpha: torch.Tensor, strengths: Sequence[float], **kwargs: Any) -> None:
        super().__init__(parm, alpha, beta=1.0, **kwargs)
        self.strengths = torch.tensor(list(strengths), dtype=torch.float32).reshape(-1, 1)

    def _row_weights(self, rows: int) -> torch.Tensor:
        return self.strengths.repeat_interleave(rows // self.strengths.shape[0], dim=0)


def check_prompt(prompt: str | None) -> str:
    """The prompt without outer whitespace; refuses an empty or overlong one with a message for the page."""
    text = (prompt or "").strip()
    if not text:
        raise DemoInputError("Type a prompt first: the demo answers it with and without guidance.")
    if len(text) > MAX_PROMPT_CHARACTERS:
        raise DemoInputError(
            f"The prompt is {len(text)} characters long; the demo takes at most {MAX_PROMPT_CHARACTERS}."
        )
    return text


def check_strength(strength: float) -> float:
    """The guidance strength 1/beta, a finite number >= 0 (0 decodes the base model unguided)."""
    value = float(strength)
    if not value >= 0 or value == float("inf"):
        raise DemoInputError(f"The guidance strength 1/beta must be a number of at least 0, got {strength!r}.")
    return value


@dataclass
class DemoSession:
    """The models and settings the demo serves; built from a run folder (`loading.load_session`) or in memory."""

    base: nn.Module
    tokenizer: Any
    parm: nn.Module
    objectives: list[str]
    guidance_beta: float
    reference: nn.Module | str | None
    scorers: list[Scorer]
    grid: list[list[float]]
    max_new_tokens: int = 96
    sweep: dict | None = None
    title: str = "PARM steering demo"
    use_chat_template: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.scorers) != len(self.objectives):
            raise ValueError(f"{len(self.scorers)} scorers for {len(self.objectives)} objectives")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @property
    def default_strength(self) -> float:
        """The run's guidance strength 1/beta: what its sweep and Pareto plot were decoded with."""
        return 1.0 / self.guidance_beta

    def unguided_row(self, prompt: str) -> Row:
        """The base model's own answer to a prompt (strength 0; the alpha is a placeholder)."""
        uniform = tuple(1.0 / len(self.objectives) for _ in self.objectives)
        return Row(prompt, uniform, 0.0)

    def generate(
        self,
        rows: Sequence[Row],
        on_text: Callable[[int, str], None] | None = None,
        on_done: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Greedy answers to the rows in one batch (as the run's sweep decodes), streamed through the callbacks."""
        if not rows:
            return []
        tokenizer = self.tokenizer
        prompts = [row.prompt for row in rows]
        texts = chat_texts(tokenizer, prompts) if self.use_chat_template else prompts
        device = next(self.base.parameters()).device
        with left_padding(tokenizer):
            encoded = tokenizer(
                texts, return_tensors="pt", padding=True, add_special_tokens=not self.use_chat_template
            ).to(device)
        guidance = RowStrengthGuidance(
            self.parm,
            torch.tensor([row.alpha for row in rows], dtype=torch.float32),
            [row.strength for row in rows],
            attention_mask=encoded["attention_mask"],
            tokenizer=tokenizer,
            reference=self.reference,
        )
        streamer = BatchTextStreamer(
            tokenizer, len(rows), on_text or (lambda row, text: None), on_done or (lambda row: None)
        )
        with torch.no_grad():
            output = self.base.generate(
                **encoded,
                logits_processor=LogitsProcessorList([guidance]),
                do_sample=False,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                streamer=streamer,
            )
        answers = []
        for tokens in output[:, encoded["input_ids"].shape[1] :].tolist():
            if tokenizer.eos_token_id in tokens:
                tokens = tokens[: tokens.index(tokenizer.eos_token_id)]
            answers.append(answer_text(tokenizer, tokens))
        return answers

    def score(self, prompt: str, answers: Sequence[str]) -> list[dict[str, float]]:
        """Each answer's scores by the run's scorers (the objectives the PARM was trained for)."""
        prompts = [prompt] * len(answers)
        columns = [[float(value) for value in scorer(prompts, list(answers))] for scorer in self.scorers]
        return [
            {name: column[index] for name, column in zip(self.objectives, columns, strict=True)}
            for index in range(len(answers))
        ]
