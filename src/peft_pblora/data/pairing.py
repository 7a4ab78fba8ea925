"""Choosing preference pairs among scored candidate answers: per objective, the best against the worst.

`PairingOptions` holds every choice of how the pairs are made (length- or score-matched, whole samples only, how
many per prompt); `best_and_worst_pairs` applies them to one set of scored candidates. Two of the choices can be read
from the candidates themselves: which objectives leave out the first-sentence variants
(`objectives_needing_whole_samples`) and which are score-matched (`objectives_carrying_others`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

from datasets import Dataset, DatasetDict

from .length_following import follows_length, length_sign, word_count
from .word_choice_pairs import WORD_CHOICE_PAIR_WEIGHT, check_word_choice_pair_weight, check_word_choice_weight_share

OBJECTIVE_LISTS = ("length_matched", "whole_samples_only", "score_matched", "system_prompted_objectives")
MAX_SIDE_SHARE = 0.2
"""An objective whose pairs raise another objective by more than this share of that objective's own pairs' mean
gap teaches it on the side (`side_shares`); where score matching is read from the candidates it is score-matched."""
MIN_MATCHED_SHARE = 0.5
"""...provided its score-matched pairs number at least this share of its pairs: fewer leave it too little to learn."""


@dataclass(frozen=True)
class PairingOptions:
    """How each objective's pairs are chosen among a prompt's scored candidates (see `best_and_worst_pairs`).

    The objective lists hold objective (scorer) names; they are kept as tuples. Every value is checked here, the
    names against the objectives where the pairs are made.
    """

    min_gap: float = 0.0
    """A pair's score gap must exceed this; a prompt without such a pair gives none for that objective."""
    length_matched: Sequence[str] = ()
    """Objectives paired only among answers of similar length (within `max_length_ratio`), so that length cannot
    stand in for the objective: a summed reward otherwise learns "longer" for any objective whose best answers
    happen to be longer."""
    max_length_ratio: float = 1.5
    """Most words the longer answer of a length-matched pair may have, as a multiple of the shorter's (>= 1)."""
    whole_samples_only: Sequence[str] | None = ()
    """Objectives whose pairs leave out candidates cut from another candidate (first-sentence variants), which beside
    a whole answer contrast length and little else. None: read from the candidates (`objectives_needing_whole_samples`,
    the end-to-end run's default); the default here, no objective, keeps every candidate in every pair."""
    score_matched: Sequence[str] | None = ()
    """Objectives whose pairs' two answers score within `max_score_difference` of each other on every other
    objective, so that a pair cannot teach another objective on the side (the shortest answers of a chat model are
    often its friendliest: "Absolutely, I'd be happy to help!"). None: read from the candidates
    (`objectives_carrying_others`, the end-to-end run's default); the default here, no objective."""
    max_score_difference: float = 0.1
    """Largest difference on each other objective within a score-matched pair (>= 0)."""
    pairs_per_prompt: int = 1
    """Up to this many pairs per prompt and objective that share no answer, largest gaps first: more distinct
    contrasts from the same candidates."""
    system_prompted_objectives: Sequence[str] | None = None
    """The only objectives whose pairs may use candidates sampled under a system prompt; None: every objective."""
    non_answer_pairs: bool = False
    """Whether each objective also gets, per prompt, its chosen answer against the empty answer wherever its scorer
    scores the empty answer lower (`data.non_answer_pairs`), but for the length- and score-matched objectives;
    `build_preference_data` adds them, as they need the scorers."""
    sentence_edit_pairs: bool = False
    """Whether each objective also gets, per prompt, an answer of its pairs against itself without the sentence whose
    removal lowers its score most (`data.sentence_edit_pairs`), but for the length- and score-matched objectives;
    `build_preference_data` adds them after the pairs against the empty answer."""
    word_choice_pairs: bool = False
    """Whether each objective also gets, per distinct answer of its pairs, the answer up to the word whose removal
    lowers its score most against the same beginning followed by the base's likeliest other word that scores lower
    (`data.word_choice_pairs`), at loss weight `word_choice_pair_weight`, but for the length- and score-matched
    objectives; `build_preference_data` adds them last, as they need the base model."""
    word_choice_pair_weight: float = WORD_CHOICE_PAIR_WEIGHT
    """Each word-choice pair's loss weight (every other pair weighs 1): a finite number >= 0."""
    word_choice_pairs_unfinished: bool = False
    """Whether each word-choice pair's two sides are an answer's beginning that no EOS follows, so that its margin
    cannot be won by ending the answer after the word."""
    word_choice_weight_share: float | None = None
    """Where given, an objective's word-choice pairs weigh together at most this many times its other pairs, each
    pair's weight lowered to fit (`data.word_choice_pairs.bounded_pair_weight`); None bounds nothing."""

    def __post_init__(self) -> None:
        for name in OBJECTIVE_LISTS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, str):
                raise TypeError(f"{name} takes a list of objective names, got the string {value!r}")
            object.__setattr__(self, name, tuple(value))
        if not self.max_length_ratio >= 1:
            raise ValueError(f"max_length_ratio must be >= 1, got {self.max_length_ratio}")
        if not self.max_score_difference >= 0:
            raise ValueError(f"max_score_difference must be >= 0, got {self.max_score_difference}")
        for name in ("non_answer_pairs", "sentence_edit_pairs", "word_choice_pairs", "word_choice_pairs_unfinished"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        check_word_choice_pair_weight(self.word_choice_pair_weight)
        check_word_choice_weight_share(self.word_choice_weight_share)
        pairs = self.pairs_per_prompt
        if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 1:
            raise ValueError(f"pairs_per_prompt must be an integer >= 1, got {pairs!r}")

    def check_objectives(self, objectives: Sequence[str]) -> None:
        """Raises ValueError if an objective list names something other than `objectives`."""
        for option in fields(self):
            names = getattr(self, option.name) if option.name in OBJECTIVE_LISTS else None
            unknown = [name for name in names or () if name not in objectives]
            if unknown:
                raise ValueError(
                    f"{option.name} names {unknown}, which are not among the objectives {sorted(objectives)}"
                )


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
    pairing: PairingOptions | None = None,
    usable: Mapping[str, Sequence[Sequence[bool]]] | None = None,
) -> DatasetDict:
    """One pair per prompt and objective (up to `pairing.pairs_per_prompt`): the best-scored response as chosen,
    the worst as rejected, among the candidates `pairing` allows (see `PairingOptions`).

    For a length-matched objective, the pair is the one of largest score gap among responses whose lengths match;
    for a score-matched one, among responses alike on every other objective. `usable[objective][prompt][candidate]`,
    where given, says which candidates that objective's pairs may use (`build_preference_data` derives it from
    `pairing.system_prompted_objectives`, which is not used here).
    """
    pairing = pairing or PairingOptions()
    usable = usable or {}
    pairing.check_objectives(list(scores))
    unknown = [name for name in usable if name not in scores]
    if unknown:
        raise ValueError(f"usable names {unknown}, which are not among the objectives {sorted(scores)}")
    pairing = with_pairing_read(pairing, prompts, responses, scores, usable)
    return DatasetDict(
        {name: objective_dataset(name, prompts, responses, scores, pairing, usable.get(name)) for name in scores}
    )


def objective_pair_positions(
    name: str,
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    pairing: PairingOptions,
    usable: Sequence[Sequence[bool]] | None = None,
) -> list[tuple[int, int, int, float]]:
    """One objective's pairs as (prompt index, chosen position, rejected position, score gap), as
    `best_and_worst_pairs` chooses them; `pairing.whole_samples_only` and `pairing.score_matched` must be lists
    here."""
    positions = []
    masks = usable if usable is not None else [[True] * len(samples) for samples in responses]
    others = [other for other in scores if other != name] if name in pairing.score_matched else []
    length_matched = name in pairing.length_matched
    whole_samples_only = name in pairing.whole_samples_only
    for index, (samples, values, mask) in enumerate(zip(responses, scores[name], masks, strict=True)):
        other_values = [scores[other][index] for other in others]
        allowed = [
            position
            for position, sample in enumerate(samples)
            if mask[position] and not (whole_samples_only and cut_from_another(sample, samples))
        ]
        candidates = [
            (values[best] - values[worst], best, worst)
            for best in allowed
            for worst in allowed
            if (not length_matched or lengths_match(samples[best], samples[worst], pairing.max_length_ratio))
            and all(abs(other[best] - other[worst]) <= pairing.max_score_difference for other in other_values)
        ]
        for gap, best, worst in disjoint_largest_gaps(candidates, pairing.pairs_per_prompt, pairing.min_gap):
            positions.append((index, best, worst, gap))
    return positions


def objective_dataset(
    name: str,
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    pairing: PairingOptions,
    usable: Sequence[Sequence[bool]] | None = None,
) -> Dataset:
    """One objective's pairs as a dataset (`objective_pairs`); raises ValueError where no prompt gives one."""
    rows = objective_pairs(name, prompts, responses, scores, pairing, usable)
    if not rows["prompt"]:
        raise ValueError(f"objective {name!r} gave no pair: every prompt's responses score alike")
    return Dataset.from_dict(rows)


def objective_pairs(
    name: str,
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    pairing: PairingOptions,
    usable: Sequence[Sequence[bool]] | None = None,
) -> dict[str, list]:
    """One objective's pair columns (`prompt`, `chosen`, `rejected`, `score_gap`; empty where no prompt gives a
    pair), as `best_and_worst_pairs` chooses them (`objective_pair_positions`)."""
    rows: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "score_gap": []}
    for index, best, worst, gap in objective_pair_positions(name, responses, scores, pairing, usable):
        rows["prompt"].append(prompts[index])
        rows["chosen"].append(responses[index][best])
        rows["rejected"].append(responses[index][worst])
        rows["score_gap"].append(gap)
    return rows


def objectives_needing_whole_samples(
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    pairing: PairingOptions,
    usable: Mapping[str, Sequence[Sequence[bool]]] | None = None,
) -> list[str]:
    """The objectives whose pairs leave the first-sentence variants out, read from the candidates: those whose pairs
    among whole samples do not follow length (`follows_length`).

    A first-sentence variant is its sample cut short, so beside a whole sample it contrasts length and little else,
    and a score that is a share of the answer (of its words, its sentences, the prompt's words) is at its most extreme
    on one sentence: such pairs teach an objective that ignores length to stop after a sentence, or to go on. An
    objective whose whole samples already pair by length (conciseness) keeps the variants, its shortest answers; so
    does one whose whole samples give no pair. Without variants among the candidates no objective is named. (An empty
    answer counts as cut from every other, as it begins each of them.)"""
    if not any(cut_from_another(sample, samples) for samples in responses for sample in samples):
        return []  # no first-sentence variants among the candidates: nothing to leave out
    whole_only = replace(pairing, whole_samples_only=list(scores), score_matched=pairing.score_matched or [])
    needing = []
    for name in scores:
        rows = objective_pairs(name, prompts, responses, scores, whole_only, (usable or {}).get(name))
        if rows["prompt"] and not follows_length(length_sign(rows["chosen"], rows["rejected"])):
            needing.append(name)
    return needing


def _free_pair_positions(
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    pairing: PairingOptions,
    usable: Mapping[str, Sequence[Sequence[bool]]] | None = None,
) -> dict[str, list[tuple[int, int, int, float]]]:
    """Every objective's pairs made without score matching (`objective_pair_positions`), the pairs whose side effects
    `side_shares` measures."""
    unmatched = replace(pairing, score_matched=[])
    return {
        name: objective_pair_positions(name, responses, scores, unmatched, (usable or {}).get(name)) for name in scores
    }


def _shares_of(
    positions: Mapping[str, Sequence[tuple[int, int, int, float]]], scores: dict[str, list[list[float]]]
) -> dict[str, dict[str, float]]:
    """`side_shares` of pairs already made (`_free_pair_positions`)."""
    own_gap = {name: sum(gap for *_, gap in rows) / len(rows) if rows else 0.0 for name, rows in positions.items()}
    shares: dict[str, dict[str, float]] = {}
    for name, rows in positions.items():
        shares[name] = {}
        for other in scores:
            if other == name:
                continue
            if not rows or own_gap[other] <= 0:
                shares[name][other] = 0.0
                continue
            side_gap = sum(scores[other][index][best] - scores[other][index][worst] for index, best, worst, _ in rows)
            shares[name][other] = side_gap / len(rows) / own_gap[other]
    return shares


def side_shares(
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    pairing: PairingOptions,
    usable: Mapping[str, Sequence[Sequence[bool]]] | None = None,
) -> dict[str, dict[str, float]]:
    """{objective: {other: share}}: how far the objective's pairs, made without score matching, raise each other
    objective, as the mean of the other's score gap (chosen minus rejected) over them divided by the mean gap of the
    other's own pairs (0 where the other has no pair). A share near 1 teaches the other as much as its own pairs do;
    the guidance at the objective's vertex then raises the other too, and alpha cannot steer the other by its weight.

    Args:
        responses: Each prompt's candidate answers.
        scores: {objective: each prompt's candidates' scores}, as `score_responses` gives them.
        pairing: How pairs are made; its `whole_samples_only` must be a list (its `score_matched` is ignored).
        usable: {objective: each prompt's mask of the candidates its pairs may use}; None: every candidate.

    Returns:
        {objective: {other objective: share}}, every other objective present.

    Examples:
        >>> from peft_pblora.data import PairingOptions
        >>> from peft_pblora.data.pairing import side_shares
        >>> responses = [["x0", "x1", "x2"], ["y0", "y1", "y2"]]
        >>> scores = {"a": [[2, 0, 1], [0, 3, 1]], "b": [[1, 0, 0], [0, 0, 2]]}
        >>> shares = side_shares(responses, scores, PairingOptions(whole_samples_only=[]))
        >>> round(shares["a"]["b"], 3), round(shares["b"]["a"], 3)
        (0.333, 0.6)
    """
    return _shares_of(_free_pair_positions(responses, scores, pairing, usable), scores)


def objectives_carrying_others(
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    pairing: PairingOptions,
    usable: Mapping[str, Sequence[Sequence[bool]]] | None = None,
) -> list[str]:
    """The objectives to score-match, read from the candidates: those whose pairs raise another objective by more
    than `MAX_SIDE_SHARE` of that objective's own pairs (`side_shares`), where matching keeps at least
    `MIN_MATCHED_SHARE` of their pairs.

    Args:
        responses: Each prompt's candidate answers.
        scores: {objective: each prompt's candidates' scores}, as `score_responses` gives them.
        pairing: How pairs are made; its `whole_samples_only` must be a list, its `max_score_difference` says how
            alike a matched pair's answers must be.
        usable: {objective: each prompt's mask of the candidates its pairs may use}; None: every candidate.

    Returns:
        The objectives to score-match, in the order of `scores`.

    Examples:
        >>> from peft_pblora.data import PairingOptions
        >>> from peft_pblora.data.pairing import objectives_carrying_others
        >>> responses = [["x0", "x1", "x2"], ["y0", "y1", "y2"]]
        >>> scores = {"a": [[2, 0, 1], [0, 3, 1]], "b": [[1, 0, 0], [0, 0, 2]]}
        >>> # both carry the other past a fifth; matched within 0.1 on a, b keeps none of its pairs
        >>> objectives_carrying_others(responses, scores, PairingOptions(whole_samples_only=[]))
        ['a']
    """
    positions = _free_pair_positions(responses, scores, pairing, usable)
    carrying = []
    for name, shares in _shares_of(positions, scores).items():
        if not shares or max(shares.values()) <= MAX_SIDE_SHARE:
            continue
        matched = replace(pairing, score_matched=[name])
        kept = objective_pair_positions(name, responses, scores, matched, (usable or {}).get(name))
        if len(kept) >= MIN_MATCHED_SHARE * len(positions[name]):
            carrying.append(name)
    return carrying


def with_pairing_read(
    pairing: PairingOptions,
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    scores: dict[str, list[list[float]]],
    usable: Mapping[str, Sequence[Sequence[bool]]] | None = None,
) -> PairingOptions:
    """`pairing` with what it leaves to the candidates (None) read from them: its whole-samples objectives
    (`objectives_needing_whole_samples`), then its score-matched ones (`objectives_carrying_others`, among pairs made
    with those whole samples)."""
    if pairing.whole_samples_only is None:
        needing = objectives_needing_whole_samples(prompts, responses, scores, pairing, usable)
        pairing = replace(pairing, whole_samples_only=needing)
    if pairing.score_matched is None:
        pairing = replace(pairing, score_matched=objectives_carrying_others(responses, scores, pairing, usable))
    return pairing


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
