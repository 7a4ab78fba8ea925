"""The run's decoding: greedy or sampled answers for (alpha, prompt) rows in batches, guided or not, and their
scores."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from ..data.chat import chat_texts, left_padding
from ..evaluation import response_quality
from ..evaluation.weight_curves import mean_scores
from .settings import RunSettings

# sampling draws from the guided distribution itself: temperature 1, no top-k (generate's default is 50) or top-p
SAMPLING = {"do_sample": True, "temperature": 1.0, "top_k": 0, "top_p": 1.0}
GREEDY = {"do_sample": False}


def decoded_answers(
    settings: RunSettings,
    model: Any,
    tokenizer: Any,
    rows: Sequence[tuple],
    processor: Callable | None,
    guided_model_for: Callable | None = None,
    max_new_tokens: int | None = None,
    sample: bool = False,
) -> list[dict]:
    """Answers (text, whether it ended, new tokens) of at most `max_new_tokens` (default: the settings'
    sweep_tokens) for (alpha, prompt) rows in batches of the settings' sweep_batch_size, greedy or, with `sample`,
    drawn from the (guided) distribution (`SAMPLING`) from the settings' seed, so that a run decodes the same answers
    again; `processor(alphas, attention_mask)` makes the batch's logits processor (one batch may hold many
    preferences: per-row alpha), None decodes unguided; `guided_model_for(alphas)`, instead, makes the batch's fused
    guided model."""
    outputs = []
    with torch.random.fork_rng(enabled=sample), left_padding(tokenizer):  # the caller's generator left as it was
        if sample:
            torch.manual_seed(settings.seed)
        for start in tqdm(
            range(0, len(rows), settings.sweep_batch_size), desc="sweep", disable=not settings.show_progress
        ):
            batch = rows[start : start + settings.sweep_batch_size]
            encoded = tokenizer(
                chat_texts(tokenizer, [prompt for _, prompt in batch]),
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(settings.device)
            processors = None
            if processor is not None:
                processors = [processor([alpha for alpha, _ in batch], encoded["attention_mask"])]
            decoder = model if guided_model_for is None else guided_model_for([alpha for alpha, _ in batch])
            with torch.no_grad():
                generated = decoder.generate(
                    **encoded, logits_processor=processors, use_cache=True, **(SAMPLING if sample else GREEDY),
                    max_new_tokens=max_new_tokens or settings.sweep_tokens, pad_token_id=tokenizer.pad_token_id,
                )  # fmt: skip
            for tokens in generated[:, encoded["input_ids"].shape[1] :]:
                ends = (tokens == tokenizer.eos_token_id).nonzero()
                finished = len(ends) > 0
                text = tokenizer.decode(tokens, skip_special_tokens=True).strip()
                count = int(ends[0, 0]) + 1 if finished else len(tokens)
                outputs.append({"text": text, "finished": finished, "new_tokens": count})
    return outputs


def scores_of(scorers: Sequence[Any], prompts: Sequence[str], texts: Sequence[str]) -> dict:
    """Each objective's mean score, its standard error and the per-prompt scores of `texts` (one per prompt)."""
    return mean_scores({scorer.name: [float(value) for value in scorer(prompts, texts)] for scorer in scorers})


def scored_answers(scorers: Sequence[Any], prompts: Sequence[str], responses: Sequence[dict]) -> dict:
    """`scores_of` the answers' texts, with their quality (empty, unfinished, repetitive shares), three examples and
    every text (kept so a changed scorer can score them again)."""
    texts = [response["text"] for response in responses]
    return {
        **scores_of(scorers, prompts, texts),
        "quality": response_quality(responses),
        "examples": texts[:3],
        "texts": texts,
    }


def peak_resident_memory_gib() -> float:
    """The process's peak resident memory so far (Linux / macOS; NaN where unknown)."""
    try:
        import resource
    except ImportError:
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20  # bytes on macOS, KiB on Linux
