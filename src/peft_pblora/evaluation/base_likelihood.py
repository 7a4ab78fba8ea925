"""How far answers leave the frozen base's language: the base's mean negative log-likelihood per answer token.

The quality shares (empty, repetitive) miss word salad: guidance that a word-counting objective pulls too hard writes
"Safety risks safety professional confirm", which scores high, repeats no phrase and is unlikely to the base token
by token. The base's likelihood of each answer, after its prompt as decoding rendered it, measures that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from ..data.chat import chat_texts
from .steering_flags import OFF_LANGUAGE_ANSWER_NLL_GAP, OFF_LANGUAGE_NLL_GAP


@torch.no_grad()
def answer_nll(
    model: Any, tokenizer: Any, prompts: Sequence[str], answers: Sequence[str], batch_size: int = 8
) -> list[float]:
    """Per answer, the mean negative log-likelihood (nats) per answer token under `model` after its prompt as a user
    turn in the tokenizer's chat template (as the run decodes); NaN for an answer with no token.

    Examples:
        >>> import math
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
        >>> vocabulary = {"<pad>": 0, **{f"w{i}": i for i in range(1, 16)}}
        >>> backend = Tokenizer(models.WordLevel(vocabulary, unk_token="<pad>"))
        >>> backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>")
        >>> tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
        >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16,
        ...                                      num_hidden_layers=1, num_attention_heads=2))
        >>> _ = torch.nn.init.zeros_(model.lm_head.weight)  # every token equally likely: log 16 nats each
        >>> values = answer_nll(model, tokenizer, ["w1", "w1"], ["w2 w3", ""])
        >>> round(values[0], 4) == round(math.log(16), 4), math.isnan(values[1])
        (True, True)
    """
    device = next(model.parameters()).device
    rendered = chat_texts(tokenizer, prompts)
    rows = []
    for prompt, answer in zip(rendered, answers, strict=True):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        rows.append((prompt_ids, tokenizer(answer, add_special_tokens=False)["input_ids"]))
    values = [math.nan] * len(rows)
    scored = [index for index, (_, answer_ids) in enumerate(rows) if answer_ids]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(scored), batch_size):
        batch = scored[start : start + batch_size]
        sequences = [rows[index][0] + rows[index][1] for index in batch]
        width = max(len(sequence) for sequence in sequences)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, sequence in enumerate(sequences):  # right padding: every row's positions start at 0
            ids[row, : len(sequence)] = torch.tensor(sequence)
            mask[row, : len(sequence)] = 1
        log_probs = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float().log_softmax(-1)
        for row, index in enumerate(batch):
            prompt_ids, answer_ids = rows[index]
            positions = torch.arange(len(prompt_ids) - 1, len(prompt_ids) + len(answer_ids) - 1, device=device)
            targets = torch.tensor(answer_ids, device=device)
            values[index] = -log_probs[row, positions, targets].mean().item()
    return values


def mean_nll(values: Sequence[float]) -> float | None:
    """The mean of `answer_nll`'s values over the answers that have tokens; None where none has."""
    kept = [value for value in values if not math.isnan(value)]
    return sum(kept) / len(kept) if kept else None


def is_off_language(excess: float, gap: float = OFF_LANGUAGE_NLL_GAP) -> bool:
    """Whether a vertex's mean negative log-likelihood per token `excess` nats above the base's own answers' mean is
    word salad to the base: at least `gap`. The one test the probe's flag, the report's warning after the sweep and
    `off_language_share` apply; the share passes `OFF_LANGUAGE_ANSWER_NLL_GAP`, the line for one answer."""
    return excess >= gap


def off_language_share(values: Sequence[float], reference: float, gap: float = OFF_LANGUAGE_ANSWER_NLL_GAP) -> float:
    """The share of the answers (`answer_nll`'s values, an empty one counted as in the language) at least `gap` nats
    per token less likely than `reference`, the base's own answers' mean: the word salad among them."""
    off = sum(is_off_language(value - reference, gap) for value in values if not math.isnan(value))
    return off / len(values) if values else 0.0
