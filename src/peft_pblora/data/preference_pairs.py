"""Building multi-objective preference data: sample responses, score them per objective, pair best with worst.

The result is one prompt/chosen/rejected dataset per objective, the first form PARMTrainer takes, cached on disk as a
`datasets.DatasetDict` so a re-run skips the sampling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, DatasetDict, load_from_disk
from tqdm.auto import tqdm

from ..evaluation.scorers import SENTENCE_END, Scorer
from .chat import chat_texts, left_padding


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


def word_count(text: str) -> int:
    return len(text.split())


def cut_from_another(candidate: str, candidates: Sequence[str]) -> bool:
    """Whether `candidate` is the beginning of another candidate, as a first-sentence variant is of its sample."""
    return any(other != candidate and other.startswith(candidate) for other in candidates)


def lengths_match(first: str, second: str, max_length_ratio: float) -> bool:
    """Whether the longer text has at most `max_length_ratio` times the words of the shorter (empty texts: 1 word)."""
    short, long = sorted((max(word_count(first), 1), max(word_count(second), 1)))
    return long <= max_length_ratio * short


def best_and_worst_pairs(
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    min_gap: float = 0.0,
    length_matched: Sequence[str] = (),
    max_length_ratio: float = 1.5,
    whole_samples_only: Sequence[str] = (),
    usable: Mapping[str, Sequence[Sequence[bool]]] | None = None,
    score_matched: Sequence[str] = (),
    max_score_difference: float = 0.1,
    pairs_per_prompt: int = 1,
) -> DatasetDict:
    """One pair per prompt and objective: the best-scored response as chosen, the worst as rejected.

    For the objectives named in `length_matched`, the pair is the one of largest score gap among responses whose
    lengths match (within `max_length_ratio`), so that length cannot stand in for the objective: a summed reward
    otherwise learns "longer" for any objective whose best answers happen to be longer. Prompts whose pair differs
    by no more than `min_gap` give no pair for that objective. For the objectives named in `whole_samples_only`,
    candidates cut from another candidate (first-sentence variants) are left out: a score averaged over sentences
    is at its noisiest on one sentence, so the largest gaps would otherwise be between single sentences.
    `usable[objective][prompt][candidate]`, where given, says which candidates that objective's pairs may use.
    For the objectives named in `score_matched`, both answers of a pair score within `max_score_difference` of each
    other on every other objective, so the pair cannot teach another objective on the side (the shortest answers
    of a chat model are often its friendliest: "Absolutely, I'd be happy to help!").
    With `pairs_per_prompt` m > 1, each prompt gives up to m pairs that share no answer, largest gaps first: more
    distinct contrasts from the same candidates.
    """
    usable = usable or {}
    for option, names in (
        ("length_matched", length_matched),
        ("whole_samples_only", whole_samples_only),
        ("usable", list(usable)),
        ("score_matched", score_matched),
    ):
        unknown = [name for name in names if name not in scores]
        if unknown:
            raise ValueError(f"{option} names {unknown}, which are not among the objectives {sorted(scores)}")
    if max_length_ratio < 1:
        raise ValueError(f"max_length_ratio must be >= 1, got {max_length_ratio}")
    if not max_score_difference >= 0:
        raise ValueError(f"max_score_difference must be >= 0, got {max_score_difference}")
    if isinstance(pairs_per_prompt, bool) or not isinstance(pairs_per_prompt, int) or pairs_per_prompt < 1:
        raise ValueError(f"pairs_per_prompt must be an integer >= 1, got {pairs_per_prompt!r}")
    datasets = {}
    for name, per_prompt in scores.items():
        rows: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "score_gap": []}
        masks = usable.get(name, [[True] * len(samples) for samples in responses])
        others = [other for other in scores if other != name] if name in score_matched else []
        for index, (prompt, samples, values, mask) in enumerate(
            zip(prompts, responses, per_prompt, masks, strict=True)
        ):
            other_values = [scores[other][index] for other in others]
            allowed = [
                position
                for position, sample in enumerate(samples)
                if mask[position] and (name not in whole_samples_only or not cut_from_another(sample, samples))
            ]
            candidates = [
                (values[best] - values[worst], best, worst)
                for best in allowed
                for worst in allowed
                if (name not in length_matched or lengths_match(samples[best], samples[worst], max_length_ratio))
                and all(abs(other[best] - other[worst]) <= max_score_difference for other in other_values)
            ]
            for gap, best, worst in disjoint_largest_gaps(candidates, pairs_per_prompt, min_gap):
                rows["prompt"].append(prompt)
                rows["chosen"].append(samples[best])
                rows["rejected"].append(samples[worst])
                rows["score_gap"].append(gap)
        if not rows["prompt"]:
            raise ValueError(f"objective {name!r} gave no pair: every prompt's responses score alike")
        datasets[name] = Dataset.from_dict(rows)
    return DatasetDict(datasets)


def disjoint_largest_gaps(
    candidates: Sequence[tuple[float, int, int]], count: int, min_gap: float
) -> list[tuple[float, int, int]]:
    """Up to `count` (gap, best, worst) pairs with gap > `min_gap`, largest first (the first of equal gaps), no
    answer in two pairs."""
    taken: list[tuple[float, int, int]] = []
    used: set[int] = set()
    for gap, best, worst in sorted(candidates, key=lambda candidate: -candidate[0]):  # stable: keeps the order
        if len(taken) == count or not gap > min_gap:
            break
        if best not in used and worst not in used:
            taken.append((gap, best, worst))
            used.update((best, worst))
    return taken


def candidates_cached(cache_dir: str | Path) -> bool:
    """Whether `cache_dir` (a `sample_and_score` cache) holds scored candidates."""
    return (Path(cache_dir) / "dataset_info.json").is_file()


def pairs_cached(cache_dir: str | Path) -> bool:
    """Whether `cache_dir` (a `build_preference_data` cache) holds pairs."""
    return (Path(cache_dir) / "dataset_dict.json").is_file()


def candidates_dir(cache_dir: str | Path) -> Path:
    """Where `build_preference_data(..., cache_dir)` keeps its scored candidates."""
    return Path(cache_dir) / "candidates"


def needs_sampling(cache_dir: str | Path) -> bool:
    """Whether `build_preference_data(..., cache_dir)` would sample, and so needs the model."""
    return not (pairs_cached(cache_dir) or candidates_cached(candidates_dir(cache_dir)))


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
    length_matched: Sequence[str] = (),
    max_length_ratio: float = 1.5,
    system_prompts: Sequence[str] = (),
    whole_samples_only: Sequence[str] = (),
    system_prompted_objectives: Sequence[str] | None = None,
    score_matched: Sequence[str] = (),
    max_score_difference: float = 0.1,
    pairs_per_prompt: int = 1,
) -> DatasetDict:
    """Sample, score and pair, or load the pairs a previous run cached in `cache_dir`.

    The scored candidates are cached in `cache_dir/candidates` (see `sample_and_score`), the pairs in `cache_dir`;
    `length_matched`, `max_length_ratio`, `whole_samples_only`, `score_matched`, `max_score_difference` and
    `pairs_per_prompt` choose the pairs (see `best_and_worst_pairs`);
    only the objectives in `system_prompted_objectives` (None: all) pair candidates sampled under a system prompt.
    """
    cache_dir = Path(cache_dir)
    if pairs_cached(cache_dir):
        cached = load_from_disk(str(cache_dir))
        if sorted(cached) != sorted(scorer.name for scorer in scorers):
            raise ValueError(f"{cache_dir} holds objectives {sorted(cached)}; remove it to rebuild for these scorers")
        return cached
    responses, scores = sample_and_score(
        model, tokenizer, prompts, scorers, candidates_dir(cache_dir), num_samples=num_samples,
        max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, show_progress=show_progress,
        sentence_variants=sentence_variants, system_prompts=system_prompts,
    )  # fmt: skip
    if system_prompted_objectives is None:
        usable = None
    else:
        plain = [[name == "" for name in row] for row in system_prompts_of_candidates(candidates_dir(cache_dir))]
        usable = {name: plain for name in scores if name not in system_prompted_objectives}
    data = best_and_worst_pairs(
        prompts, responses, scores, min_gap, length_matched, max_length_ratio, whole_samples_only, usable,
        score_matched, max_score_difference, pairs_per_prompt,
    )  # fmt: skip
    data.save_to_disk(str(cache_dir))
    return data
