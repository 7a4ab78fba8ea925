"""The candidate answers preference pairs are made from: sampled from the model (with first-sentence variants and
answers after system prompts where asked), scored per objective, and cached on disk one row per prompt, so that a
re-run or a new pairing rule scores them again without sampling again.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, load_from_disk
from tqdm.auto import tqdm

from ..evaluation.scorers import SENTENCE_END, Scorer
from .chat import chat_texts, left_padding
from .more_samples import (
    MORE_SAMPLES_COLUMN,
    more_samples_mask,
    with_extra_answers,
    without_extras,
    write_more_samples_record,
)


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


def merge_candidates(
    groups: Sequence[Sequence[Sequence[str]]], labels: Sequence[str]
) -> tuple[list[list[str]], list[list[str]]]:
    """Each prompt's candidates from several labelled sampling groups, in group order, each distinct answer once, and
    the label of the first group that gave each answer."""
    candidates, candidate_labels = [], []
    for per_prompt in zip(*groups, strict=True):
        first_label: dict[str, str] = {}
        for label, answers in zip(labels, per_prompt, strict=True):
            for answer in answers:
                first_label.setdefault(answer, label)
        candidates.append(list(first_label))
        candidate_labels.append(list(first_label.values()))
    return candidates, candidate_labels


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
    system_prompt: str | None = None,
) -> list[list[str]]:
    """`num_samples` sampled responses per prompt (chat template, left-padded batches, seeded).

    With `trim_unfinished`, a response stopped by the token limit is cut back to its last complete sentence. With
    `system_prompt`, the model answers after that system turn (the responses are still paired with the bare prompt).
    """
    if num_samples < 2:
        raise ValueError(f"num_samples must be >= 2 to make pairs, got {num_samples}")
    texts = chat_texts(tokenizer, prompts, system_prompt)
    jobs = [(index, text) for index, text in enumerate(texts) for _ in range(num_samples)]
    responses: list[list[str]] = [[] for _ in prompts]
    torch.manual_seed(seed)
    with left_padding(tokenizer):
        description = "sampling responses" + (" (system prompt)" if system_prompt else "")
        for start in tqdm(range(0, len(jobs), batch_size), desc=description, disable=not show_progress):
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


def candidates_cached(cache_dir: str | Path) -> bool:
    """Whether `cache_dir` (a `sample_and_score` cache) holds scored candidates."""
    return (Path(cache_dir) / "dataset_info.json").is_file()


def candidates_dir(cache_dir: str | Path) -> Path:
    """Where `build_preference_data(..., cache_dir)` keeps its scored candidates."""
    return Path(cache_dir) / "candidates"


def sample_and_score(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    scorers: Sequence[Scorer],
    cache_dir: str | Path,
    num_samples: int = 4,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    seed: int = 0,
    show_progress: bool = True,
    sentence_variants: bool = False,
    system_prompts: Sequence[str] = (),
) -> tuple[list[list[str]], dict[str, list[list[float]]]]:
    """Every prompt's candidate responses, sampled or loaded from a previous run's cache in `cache_dir`, and their
    scores by `scorers`.

    Cached as one row per prompt (prompt, responses, one score list per objective), so that pairs can be remade
    with other settings without sampling again. Cached answers are scored again by the scorers given, so that a
    changed scorer or a new objective never meets stale scores. `sentence_variants` adds each multi-sentence
    sample's first sentence as a candidate: complete short answers the sampler rarely produces, so that an objective
    such as conciseness sees where an answer may end. Each of `system_prompts` adds `num_samples` more answers per
    prompt, sampled after that system turn (seed + its position): a way to widen the spread of an objective the model
    rarely varies on its own, such as tone, while the pairs keep the bare prompt the PARM will see.
    """
    cache_dir = Path(cache_dir)
    if candidates_cached(cache_dir):
        cached = load_from_disk(str(cache_dir))
        if list(cached["prompt"]) != list(prompts):
            raise ValueError(f"{cache_dir} holds candidates for other prompts; remove it to sample again")
        responses = [list(row) for row in cached["responses"]]
        return responses, score_responses(prompts, responses, scorers)
    groups, labels = [], ["", *system_prompts]
    for offset, system_prompt in enumerate(labels):
        group = sample_responses(
            model, tokenizer, prompts, num_samples, max_new_tokens, batch_size, seed=seed + offset,
            show_progress=show_progress, system_prompt=system_prompt or None,
        )  # fmt: skip
        groups.append(with_first_sentence_variants(group) if sentence_variants else group)
    responses, sampled_under = merge_candidates(groups, labels)  # sampled_under: each answer's system prompt
    scores = score_responses(prompts, responses, scorers)
    columns = {"prompt": list(prompts), "responses": responses, "sampled_under": sampled_under, **scores}
    Dataset.from_dict(columns).save_to_disk(str(cache_dir))
    return responses, scores


def system_prompts_of_candidates(cache_dir: str | Path) -> list[list[str]]:
    """The system prompt each cached candidate was sampled under ("" for none), per prompt; a cache written before
    system prompts existed holds plain samples only."""
    cached = load_from_disk(str(cache_dir))
    if "sampled_under" in cached.column_names:
        return [list(row) for row in cached["sampled_under"]]
    return [[""] * len(row) for row in cached["responses"]]


def add_more_samples(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    scorers: Sequence[Scorer],
    cache_dir: str | Path,
    num_samples: int,
    *,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    seed: int = 0,
    show_progress: bool = True,
    sentence_variants: bool = False,
) -> tuple[list[list[str]], dict[str, list[list[float]]]]:
    """Samples `num_samples` more answers per prompt (no system prompt) into the candidates cache at `cache_dir`,
    marked as extras (`more_samples.MORE_SAMPLES_COLUMN`) and replacing any extras sampled before; returns every
    candidate and its scores, as `sample_and_score` does."""
    cache_dir = Path(cache_dir)
    cached = load_from_disk(str(cache_dir))
    marks = more_samples_mask(cache_dir)
    under = system_prompts_of_candidates(cache_dir)
    first = without_extras(cached["responses"], marks)
    first_under = without_extras(under, marks)
    del cached
    extra = sample_responses(
        model, tokenizer, prompts, num_samples, max_new_tokens, batch_size, seed=seed, show_progress=show_progress
    )
    responses, extra_marks = with_extra_answers(
        first, with_first_sentence_variants(extra) if sentence_variants else extra
    )
    scores = score_responses(prompts, responses, scorers)
    columns = {
        "prompt": list(prompts),
        "responses": responses,
        "sampled_under": [
            labels + [""] * (len(row) - len(labels)) for labels, row in zip(first_under, responses, strict=True)
        ],
        MORE_SAMPLES_COLUMN: extra_marks,
        **scores,
    }
    rewritten, previous = (cache_dir.with_name(f"{cache_dir.name}.{suffix}") for suffix in ("rewritten", "previous"))
    for path in (rewritten, previous):
        shutil.rmtree(path, ignore_errors=True)
    Dataset.from_dict(columns).save_to_disk(str(rewritten))
    write_more_samples_record(rewritten, num_samples)
    cache_dir.rename(previous)  # the old cache is whole until the new one is in its place
    rewritten.rename(cache_dir)
    shutil.rmtree(previous)
    return responses, scores
