"""Building multi-objective preference data: sample responses, score them per objective, pair best with worst.

The result is one prompt/chosen/rejected dataset per objective, the first form PARMTrainer takes, cached on disk as a
`datasets.DatasetDict` so a re-run skips the sampling.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, DatasetDict, load_from_disk
from tqdm.auto import tqdm

from .chat import chat_texts, left_padding
from .scorers import Scorer

SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def trim_to_last_sentence(text: str) -> str:
    """The text up to its last sentence end; a text with none is returned whole.

    A sample cut by the token limit would otherwise end mid-sentence, and the trainer appends EOS to every response:
    trimmed, it ends where an answer may end.
    """
    ends = [match.end() for match in SENTENCE_END.finditer(text)]
    return text[: ends[-1]] if ends else text


def first_sentence(text: str) -> str | None:
    """The first sentence of a text of two or more sentences: a complete, shorter answer; None otherwise."""
    ends = [match.end() for match in SENTENCE_END.finditer(text)]
    return text[: ends[0]] if len(ends) >= 2 else None


def with_first_sentence_variants(responses: Sequence[Sequence[str]]) -> list[list[str]]:
    """Each prompt's samples plus the first sentence of each multi-sentence sample (distinct candidates only)."""
    result = []
    for samples in responses:
        candidates = list(dict.fromkeys(samples))
        for sample in samples:
            short = first_sentence(sample)
            if short and short not in candidates:
                candidates.append(short)
        result.append(candidates)
    return result


@torch.no_grad()
def sample_responses(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    num_samples: int,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    temperature: float = 1.0,
    top_p: float = 0.95,
    seed: int = 0,
    show_progress: bool = True,
    trim_unfinished: bool = True,
) -> list[list[str]]:
    """`num_samples` sampled responses per prompt (chat template, left-padded batches, seeded).

    With `trim_unfinished`, a response stopped by the token limit is cut back to its last complete sentence.
    """
    if num_samples < 2:
        raise ValueError(f"num_samples must be >= 2 to make pairs, got {num_samples}")
    texts = chat_texts(tokenizer, prompts)
    jobs = [(index, text) for index, text in enumerate(texts) for _ in range(num_samples)]
    responses: list[list[str]] = [[] for _ in prompts]
    torch.manual_seed(seed)
    with left_padding(tokenizer):
        for start in tqdm(range(0, len(jobs), batch_size), desc="sampling responses", disable=not show_progress):
            batch = jobs[start : start + batch_size]
            texts_in_batch = [text for _, text in batch]
            encoded = tokenizer(texts_in_batch, return_tensors="pt", padding=True, add_special_tokens=False)
            output = model.generate(
                **encoded.to(next(model.parameters()).device),
                do_sample=True,
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
            )
            new_tokens = output[:, encoded["input_ids"].shape[1] :]
            decoded = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            finished = (new_tokens == tokenizer.eos_token_id).any(dim=1).tolist()
            for (index, _), response, done in zip(batch, decoded, finished, strict=True):
                response = response.strip()
                responses[index].append(response if done or not trim_unfinished else trim_to_last_sentence(response))
    return responses


def score_responses(
    prompts: Sequence[str], responses: Sequence[Sequence[str]], scorers: Sequence[Scorer]
) -> dict[str, list[list[float]]]:
    """{objective: scores[prompt][sample]} for every scorer."""
    flat_prompts = [prompt for prompt, samples in zip(prompts, responses, strict=True) for _ in samples]
    flat_responses = [response for samples in responses for response in samples]
    result = {}
    for scorer in scorers:
        flat = scorer(flat_prompts, flat_responses)
        nested, position = [], 0
        for samples in responses:
            nested.append(list(flat[position : position + len(samples)]))
            position += len(samples)
        result[scorer.name] = nested
    return result


def best_and_worst_pairs(
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    min_gap: float = 0.0,
) -> DatasetDict:
    """One pair per prompt and objective: the best-scored response as chosen, the worst as rejected.

    Prompts whose best and worst differ by no more than `min_gap` give no pair for that objective.
    """
    datasets = {}
    for name, per_prompt in scores.items():
        rows: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "score_gap": []}
        for prompt, samples, values in zip(prompts, responses, per_prompt, strict=True):
            best = max(range(len(values)), key=values.__getitem__)
            worst = min(range(len(values)), key=values.__getitem__)
            gap = values[best] - values[worst]
            if gap > min_gap:
                rows["prompt"].append(prompt)
                rows["chosen"].append(samples[best])
                rows["rejected"].append(samples[worst])
                rows["score_gap"].append(gap)
        if not rows["prompt"]:
            raise ValueError(f"objective {name!r} gave no pair: every prompt's responses score alike")
        datasets[name] = Dataset.from_dict(rows)
    return DatasetDict(datasets)


def build_preference_data(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    scorers: Sequence[Scorer],
    cache_dir: str | Path,
    num_samples: int = 4,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    seed: int = 0,
    min_gap: float = 0.0,
    show_progress: bool = True,
    sentence_variants: bool = False,
) -> DatasetDict:
    """Sample, score and pair, or load the pairs a previous run cached in `cache_dir`.

    `sentence_variants` adds each multi-sentence sample's first sentence as a candidate: complete short answers the
    sampler rarely produces, so that an objective such as conciseness sees where an answer may end.
    """
    cache_dir = Path(cache_dir)
    if (cache_dir / "dataset_dict.json").is_file():
        cached = load_from_disk(str(cache_dir))
        if sorted(cached) != sorted(scorer.name for scorer in scorers):
            raise ValueError(f"{cache_dir} holds objectives {sorted(cached)}; remove it to rebuild for these scorers")
        return cached
    responses = sample_responses(
        model, tokenizer, prompts, num_samples, max_new_tokens, batch_size, seed=seed, show_progress=show_progress
    )
    if sentence_variants:
        responses = with_first_sentence_variants(responses)
    data = best_and_worst_pairs(prompts, responses, score_responses(prompts, responses, scorers), min_gap)
    data.save_to_disk(str(cache_dir))
    return data
