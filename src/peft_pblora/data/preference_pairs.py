"""Building multi-objective preference data: sample responses, score them per objective, pair best with worst.

The result is one prompt/chosen/rejected dataset per objective, the first form PARMTrainer takes, cached on disk as a
`datasets.DatasetDict` so a re-run skips the sampling. Which pairs are chosen is the `pairing` module's part
(`PairingOptions`, `best_and_worst_pairs`); which objectives may pair extra answers, the `more_samples` module's.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, DatasetDict, load_from_disk
from tqdm.auto import tqdm

from ..evaluation.scorers import SENTENCE_END, Scorer
from . import more_samples
from .added_pairs import counted, warn_of_objectives_without_added_pairs
from .chat import chat_texts, left_padding
from .more_samples import (
    MORE_SAMPLES_COLUMN,
    first_answers,
    more_samples_mask,
    more_samples_per_prompt,
    objectives_with_few_pairs,
    pairs_with_extras_for,
    usable_masks,
    with_extra_answers,
    without_extras,
    write_more_samples_record,
)
from .non_answer_pairs import with_non_answer_pairs
from .pairing import PairingOptions
from .sentence_edit_pairs import with_sentence_edit_pairs
from .word_choice_pairs import warn_of_objectives_left_without, with_word_choice_pairs, word_choice_pair_weights

PAIRING_RECORD = "pairing.json"
"""Beside the cached pairs: the objectives paired on whole samples only and the score-matched ones, whether the
candidates chose them, and how far each objective's unmatched pairs raise the others (`side_shares`)."""


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


def pairs_cached(cache_dir: str | Path) -> bool:
    """Whether `cache_dir` (a `build_preference_data` cache) holds pairs."""
    return (Path(cache_dir) / "dataset_dict.json").is_file()


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


def build_preference_data(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    scorers: Sequence[Scorer],
    cache_dir: str | Path,
    *,
    num_samples: int = 4,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    seed: int = 0,
    show_progress: bool = True,
    sentence_variants: bool = False,
    system_prompts: Sequence[str] = (),
    pairing: PairingOptions | None = None,
    more_samples_if_few_pairs: int = 0,
    prompts_held_out: Collection[str] = (),
    load_model: Callable[[], tuple[Any, Any]] | None = None,
    chat_prompts: bool = False,
) -> DatasetDict:
    """Sample, score and pair, or load the pairs a previous run cached in `cache_dir`.

    The scored candidates are cached in `cache_dir/candidates` (see `sample_and_score`, which the sampling arguments
    go to), the pairs in `cache_dir`; `pairing` chooses the pairs (see `PairingOptions`; None: its defaults). Only
    the objectives in `pairing.system_prompted_objectives` (None: all) pair candidates sampled under a system prompt.
    With `more_samples_if_few_pairs`, each objective whose pairs cover fewer than `MORE_SAMPLES_PAIR_SHARE` of the
    prompts gets that many more answers per prompt to pair from (`add_more_samples`); the others' pairs stay as they
    were. The share counts the prompts that train: all but `prompts_held_out` where every objective has a pair among
    them (a run passes those its `held_out_pair_share` keeps out), else all (`objectives_with_few_pairs`). Where
    `model` is None, `load_model` gives (model, tokenizer) once sampling needs them: cached candidates load no model.
    `chat_prompts`: whether training renders each prompt as a user turn, as the word-choice pairs' alternatives are
    proposed.
    """
    pairing = pairing or PairingOptions()
    cache_dir = Path(cache_dir)
    if pairs_cached(cache_dir):
        cached = load_from_disk(str(cache_dir))
        if sorted(cached) != sorted(scorer.name for scorer in scorers):
            raise ValueError(f"{cache_dir} holds objectives {sorted(cached)}; remove it to rebuild for these scorers")
        return cached
    candidates = candidates_dir(cache_dir)
    sampling = dict(
        max_new_tokens=max_new_tokens, batch_size=batch_size, show_progress=show_progress,
        sentence_variants=sentence_variants,
    )  # fmt: skip
    if model is None and load_model is not None and not candidates_cached(candidates):
        model, tokenizer = load_model()
    responses, scores = sample_and_score(
        model, tokenizer, prompts, scorers, candidates, num_samples=num_samples, seed=seed,
        system_prompts=system_prompts, **sampling,
    )  # fmt: skip
    names = list(scores)
    extra = more_samples_mask(candidates)
    system_masks = system_prompt_masks(pairing, scores, candidates)
    more_for: list[str] = []
    share = more_samples.MORE_SAMPLES_PAIR_SHARE  # read once: the share that chooses is the share recorded
    if more_samples_if_few_pairs:
        allowed = usable_masks(responses, names, system_masks, extra, [])
        first_responses, first_scores, first_usable = first_answers(responses, scores, allowed, extra)
        more_for = objectives_with_few_pairs(
            prompts, first_responses, first_scores, pairing, first_usable, prompts_held_out, share
        )
        if more_for and more_samples_per_prompt(candidates) != more_samples_if_few_pairs:
            if model is None and load_model is not None:
                model, tokenizer = load_model()
            if model is None:
                raise ValueError(
                    f"{more_for} have pairs on fewer than {share:.1%} of the prompts; sampling "
                    f"{more_samples_if_few_pairs} more answers per prompt for them needs the model"
                )
            responses, scores = add_more_samples(model, tokenizer, prompts, scorers, candidates,
                                                 more_samples_if_few_pairs, seed=seed + len(system_prompts) + 1,
                                                 **sampling)  # fmt: skip
            extra = more_samples_mask(candidates)
            system_masks = system_prompt_masks(pairing, scores, candidates)
    usable = usable_masks(responses, names, system_masks, extra, more_for)
    read_from_candidates = pairing.whole_samples_only is None
    score_matching_read = pairing.score_matched is None
    data, pairing, shares = pairs_with_extras_for(prompts, responses, scores, pairing, usable, extra, more_for)
    matched = [*pairing.length_matched, *pairing.score_matched]
    added: dict[str, dict[str, int]] = {}
    if pairing.non_answer_pairs:
        data, added["non_answer_pairs"] = counted(data, with_non_answer_pairs(data, scorers, matched=matched))
    if pairing.sentence_edit_pairs:
        data, added["sentence_edit_pairs"] = counted(data, with_sentence_edit_pairs(data, scorers, matched=matched))
    if pairing.word_choice_pairs:
        if model is None and load_model is not None:
            model, tokenizer = load_model()
        if model is None:
            raise ValueError("word-choice pairs need the base model, to propose each word's alternative")
        extended = with_word_choice_pairs(data, scorers, model, tokenizer, chat_prompts,
                                          pairing.word_choice_pair_weight, matched,
                                          pairing.word_choice_pairs_unfinished,
                                          pairing.word_choice_weight_share)  # fmt: skip
        data, added["word_choice_pairs"] = counted(data, extended)
    warn_of_objectives_without_added_pairs(added, matched)
    warn_of_objectives_left_without(added.get("word_choice_pairs", {}))
    data.save_to_disk(str(cache_dir))
    record = {
        "whole_samples_only": list(pairing.whole_samples_only),
        "read_from_candidates": read_from_candidates,
        "score_matched": list(pairing.score_matched),
        "score_matching_read_from_candidates": score_matching_read,
        "side_shares": shares,
        "non_answer_pairs": pairing.non_answer_pairs,
        "sentence_edit_pairs": pairing.sentence_edit_pairs,
        "word_choice_pairs": pairing.word_choice_pairs,
        "word_choice_pair_weight": pairing.word_choice_pair_weight if pairing.word_choice_pairs else None,
        "word_choice_pairs_unfinished": pairing.word_choice_pairs_unfinished if pairing.word_choice_pairs else None,
        "word_choice_weight_share": pairing.word_choice_weight_share if pairing.word_choice_pairs else None,
        "word_choice_pair_weights": (
            word_choice_pair_weights(data, added["word_choice_pairs"]) if pairing.word_choice_pairs else None
        ),
        "pairs_added": added,
        "matched": matched,
        "more_samples_for": more_for,
        "more_samples_per_prompt": more_samples_per_prompt(candidates) if more_for else 0,
        "more_samples_pair_share": share,
    }
    (cache_dir / PAIRING_RECORD).write_text(json.dumps(record, indent=2))
    return data


def system_prompt_masks(
    pairing: PairingOptions, scores: dict[str, list[list[float]]], cache_dir: str | Path
) -> dict[str, list[list[bool]]] | None:
    """Per objective outside `pairing.system_prompted_objectives`, which cached candidates were sampled without a
    system prompt (the only ones its pairs may use); None where every objective may use every candidate."""
    if pairing.system_prompted_objectives is None:
        return None
    plain = [[name == "" for name in row] for row in system_prompts_of_candidates(cache_dir)]
    return {name: plain for name in scores if name not in pairing.system_prompted_objectives}


def pairing_record(cache_dir: str | Path) -> dict | None:
    """Which objectives `build_preference_data` paired on whole samples only and which it score-matched, whether it
    read them from the candidates, and the side shares (`PAIRING_RECORD`); None for pairs given by the user or made
    before the record existed."""
    path = Path(cache_dir) / PAIRING_RECORD
    return json.loads(path.read_text()) if path.is_file() else None
