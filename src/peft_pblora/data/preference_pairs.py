"""Building multi-objective preference data: each prompt's scored candidates (the `candidates` module) paired best
against worst per objective, with the rules that add pairs.

The result is one prompt/chosen/rejected dataset per objective, the first form PARMTrainer takes, cached on disk as a
`datasets.DatasetDict` so a re-run skips the sampling. Which pairs are chosen is the `pairing` module's part
(`PairingOptions`, `best_and_worst_pairs`); which objectives may pair extra answers, the `more_samples` module's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from datasets import DatasetDict, load_from_disk

from ..evaluation.scorers import Scorer
from . import more_samples
from .added_pairs import counted, warn_of_objectives_without_added_pairs
from .candidates import (
    add_more_samples,
    candidates_cached,
    candidates_dir,
    sample_and_score,
    system_prompts_of_candidates,
)
from .more_samples import (
    first_answers,
    more_samples_mask,
    more_samples_per_prompt,
    objectives_with_few_pairs,
    pairs_with_extras_for,
    usable_masks,
)
from .non_answer_pairs import with_non_answer_pairs
from .pairing import PairingOptions
from .sentence_edit_pairs import with_sentence_edit_pairs
from .word_choice_pairs import warn_of_objectives_left_without, with_word_choice_pairs, word_choice_pair_weights

PAIRING_RECORD = "pairing.json"
"""Beside the cached pairs: the objectives paired on whole samples only and the score-matched ones, whether the
candidates chose them, and how far each objective's unmatched pairs raise the others (`side_shares`)."""


def pairs_cached(cache_dir: str | Path) -> bool:
    """Whether `cache_dir` (a `build_preference_data` cache) holds pairs."""
    return (Path(cache_dir) / "dataset_dict.json").is_file()


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
