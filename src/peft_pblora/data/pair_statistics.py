"""What an objective's preference pairs say before any training: how far the label follows length, and how far the
frozen model's likelihood already prefers the chosen answer.

A reference-free reward starts from the frozen model's log-likelihood. Where that likelihood already ranks the pairs
one way (a summed log-probability favours the shorter answer), an objective whose label follows length starts with
margins of tens of nats in one direction, and its loss is either saturated or far from chance; a reference-relative
reward starts every objective at margin 0. These statistics make that visible per objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from datasets import Dataset

from .chat import chat_texts
from .length_following import length_sign


@torch.no_grad()
def response_log_probs(
    model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Each response's summed log-probability under `model` after its chat-formatted prompt (EOS included), and its
    token count."""
    device = next(model.parameters()).device
    sums, counts = [], []
    prompt_texts = chat_texts(tokenizer, list(prompts))
    for start in range(0, len(prompts), batch_size):
        sequences, starts = [], []
        for prompt, response in zip(
            prompt_texts[start : start + batch_size], responses[start : start + batch_size], strict=True
        ):
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            sequences.append(prompt_ids + response_ids)
            starts.append(len(prompt_ids))
        width = max(len(sequence) for sequence in sequences)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor([sequence + [pad] * (width - len(sequence)) for sequence in sequences], device=device)
        attention = torch.tensor(
            [[1] * len(sequence) + [0] * (width - len(sequence)) for sequence in sequences], device=device
        )
        log_probs = torch.log_softmax(model(input_ids=input_ids, attention_mask=attention).logits.float(), -1)
        token_log_probs = log_probs[:, :-1].gather(-1, input_ids[:, 1:, None]).squeeze(-1)
        for row, (sequence, first) in enumerate(zip(sequences, starts, strict=True)):
            values = token_log_probs[row, first - 1 : len(sequence) - 1]
            sums.append(float(values.sum()))
            counts.append(len(values))
    return np.asarray(sums), np.asarray(counts)


def pair_statistics(model: Any, tokenizer: Any, pairs: Dataset, batch_size: int = 8) -> dict[str, float]:
    """Per objective's pairs: `length_sign` (`length_following.length_sign`: +1 or -1 when the label follows
    length), and for the summed and the mean log-probability under the
    frozen model the share of pairs it already ranks right (`base_accuracy_*`), its mean margin and the spread."""
    chosen_sum, chosen_count = response_log_probs(model, tokenizer, pairs["prompt"], pairs["chosen"], batch_size)
    rejected_sum, rejected_count = response_log_probs(model, tokenizer, pairs["prompt"], pairs["rejected"], batch_size)
    summed = chosen_sum - rejected_sum
    mean = chosen_sum / chosen_count - rejected_sum / rejected_count
    return {
        "pairs": len(pairs),
        "length_sign": length_sign(pairs["chosen"], pairs["rejected"]),
        "base_accuracy_summed": float(np.mean(summed > 0)),
        "base_margin_summed": float(summed.mean()),
        "base_margin_summed_sd": float(summed.std()),
        "base_accuracy_mean": float(np.mean(mean > 0)),
        "base_margin_mean": float(mean.mean()),
        "base_margin_mean_sd": float(mean.std()),
    }
