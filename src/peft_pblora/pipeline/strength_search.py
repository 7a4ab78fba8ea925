"""The strength search before the sweep: which strength, per objective, the guided probe finds steers best, among
full strength, the weaker ones tried where an objective does not steer at full strength, and the stronger ones where
the probe cannot judge it; the record it chooses is the run's diagnosis."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Collection, Sequence
from typing import Any, NamedTuple

from ..evaluation.steering_diagnosis import degenerate_share_of, probe_can_tell
from ..evaluation.steering_flags import DEGENERATE_FLAGS, LEARNED_MARGIN
from .diagnosis import NOT_STEERING_FLAGS, flagged_objectives

logger = logging.getLogger("peft_pblora.pipeline")

STEERING_T_STATISTIC = 2.0  # a probe rise beyond two standard errors, as `diagnose` passes it
MIN_T_GAIN_FOR_WEAKER = 1.0
"""How much a weaker combination of strengths must raise the least-steering objective's probe t statistic to be
chosen over a stronger one that passes as many objectives: a t statistic has a standard error of about one, so a
smaller gain is the probe's noise, no reason to give up the stronger guidance."""
# what the search does beyond the strengths given, recorded in the diagnosis's fingerprint so that a run folder
# diagnosed by an earlier search is probed again, not only re-ranked
STRENGTH_SEARCH = "the strengths given, then half the weakest where a vertex stays degenerate"


class _RankedCombination(NamedTuple):
    """One probed combination of strengths as `choose_strengths` ranks it."""

    before_the_t_statistics: tuple
    """What ranks first: degenerate vertices and answers, objectives out of sight or blind, objectives passing."""
    ascending_t_statistics: list[float]
    """Its objectives' probe t statistics, least first."""
    choice: tuple[float, ...]
    """Its strengths in objective order."""
    strengths: dict[str, float]
    record: dict

    @property
    def least_t_statistic(self) -> float:
        """The least-steering objective's probe t statistic; 0 without any."""
        return self.ascending_t_statistics[0] if self.ascending_t_statistics else 0.0


def probe_t_statistic(effect: dict[str, float | None]) -> float:
    """A probe effect over its standard error: a rise with no spread is +inf, no change 0, a fall with no spread or a
    non-finite effect or error (a scorer's NaN) -inf, and an effect without an error (one prompt) 0."""
    value, error = effect["effect"], effect["standard_error"]
    if error is None:
        return 0.0
    if not (math.isfinite(value) and math.isfinite(error)):
        return -math.inf
    if error:
        return value / error
    return math.copysign(math.inf, value) if value else 0.0


def diagnosis_with_strength_search(
    objectives: Sequence[str],
    weaker_strengths: Sequence[float],
    stronger_strengths: Sequence[float],
    probe_at: Callable[[float], list[dict]],
    record_of: Callable[[list[dict]], dict],
) -> dict[str, Any]:
    """The diagnosis record (`record_of(vertex points)`) at the strengths the probe finds steer best.

    `probe_at(strength)` answers the probe at every vertex with every objective at that strength. While no objective
    has a probe flag, `probe_inconclusive` or `probe_cannot_tell` at full strength the adapter stays as trained;
    else the probe runs at each of `weaker_strengths` too, and where it cannot judge an objective at full strength
    (`probe_can_tell` false: its answers rarely show it) or finds one inconclusive, at each of `stronger_strengths`
    as well (`objectives_allowed_stronger`);
    `choose_strengths` then picks a strength per objective. Where an objective's vertex is still degenerate at the
    strengths chosen (a flag in `DEGENERATE_FLAGS`: empty, looping, wordless or word salad), the probe runs once more
    at half the weakest of `weaker_strengths` and the choice is made again, every objective free to take it as any
    strength given: on the steering benchmark half the weakest strength, swept on the same adapters with the other
    objective kept, brought all 10 vertices measured that were still flagged at the weakest under a quarter of their
    answers degenerate (the word salad ones to none read as salad), every objective still steering. The record keeps
    every strength's probe points (`probe_at_strength`), so a changed scorer can choose again without decoding."""
    points_at = {1.0: probe_at(1.0)}
    record = record_of(points_at[1.0])
    not_steering = flagged_objectives(record, NOT_STEERING_FLAGS)
    tried = [*weaker_strengths] if not_steering else []
    tried += [*stronger_strengths] if objectives_allowed_stronger(record) else []
    if points_at[1.0] and tried:
        logger.warning(
            "%s not steering at full strength in the probe: probing every vertex at strengths %s",
            ", ".join(not_steering), ", ".join(f"{level:g}" for level in tried),
        )  # fmt: skip
        points_at.update({level: probe_at(level) for level in tried})
    chosen = choose_strengths(objectives, points_at, record_of)
    weakest = min((level for level in points_at if level < 1.0), default=None)  # the weakest probed, if any
    still_degenerate = degenerate_objectives(chosen) if weakest is not None else []
    if still_degenerate:
        logger.warning(
            "%s still degenerate at every strength tried: probing every vertex at %g, half the weakest",
            ", ".join(still_degenerate), weakest / 2,
        )  # fmt: skip
        points_at[weakest / 2] = probe_at(weakest / 2)
        chosen = choose_strengths(objectives, points_at, record_of)
    return chosen


def choose_strengths(
    objectives: Sequence[str], points_at: dict[float, list[dict]], record_of: Callable[[list[dict]], dict]
) -> dict[str, Any]:
    """The diagnosis record of the best combination of per-objective strengths among those probed (`points_at`:
    strength -> the probe's points at every vertex with every objective at that strength).

    At objective i's vertex only its own strength acts (the adapter there is s_i times its part), so vertex i's
    points at strength s_i give every combination's vertices. The choice is joint, as steering is: an objective's
    probe effect is its rise at its own vertex over the other vertices, which the other objectives' strengths move.
    Only an objective the probe cannot judge or finds inconclusive at full strength (`objectives_allowed_stronger`)
    is guided above it; it is, where that makes it pass the probe or raises the least t statistic by more than
    `MIN_T_GAIN_FOR_WEAKER` (the ranking below). Best: fewest
    degenerate vertices, then the smallest share of degenerate answers at them (an objective that degenerates at every
    strength gets the strength where it degenerates least, even where a stronger one makes more objectives pass the
    probe: a probe that passes at a degenerate vertex is no sign the sweep steers), then fewest objectives kept out of
    the probe's sight (`objectives_out_of_sight`: those it cannot judge in the combination but can, with their vertex
    not degenerate, in one where their own strength is higher; a rare feature weakened until its answers no longer
    show it does not steer), then the objectives the probe cannot judge at any combination
    (`probe_blind_objectives`) nearest the strongest strength probed (their answers rarely show the objective, so a
    weaker strength would be chosen by the others' noise at a cost to it the probe cannot see, and a feature the model
    seldom writes needs the stronger push to show: each is guided at the strongest strength whose vertex does not
    degenerate, even where a weaker one would make another objective pass), then most objectives whose probe t
    statistic passes `STEERING_T_STATISTIC` (so an objective that steers is not weakened for one that no strength makes
    steer), then the largest t statistic of the least-steering objective, where a weaker combination counts as larger
    only by at least `MIN_T_GAIN_FOR_WEAKER` (among those within it of the largest: the largest strength below full
    strength, then the least strength above it, then the largest t statistic of the least-steering objective and,
    where that ties, of the next-least, and so on: its leximin), then the earliest in `points_at`'s order for the
    first objective, then the next. The record adds the strengths chosen
    (`objective_strengths`), every combination's t statistics (`strengths_tried`) and the probe points per strength
    (`probe_at_strength`)."""
    at_full_strength = record_of(points_at[1.0])
    allowed_stronger = objectives_allowed_stronger(at_full_strength)
    combinations = []
    for choice in itertools.product(points_at, repeat=len(objectives)):
        if any(level > 1.0 and name not in allowed_stronger for name, level in zip(objectives, choice, strict=True)):
            continue
        if all(level == 1.0 for level in choice) or not points_at[1.0]:
            record = at_full_strength
        else:
            record = record_of([points_at[level][index] for index, level in enumerate(choice)])
        combinations.append((choice, record, set(unjudged_objectives(record))))
    blind = probe_blind_objectives(objectives, [unseen for _, _, unseen in combinations])
    out_of_sight = objectives_out_of_sight(objectives, combinations)
    levels = list(points_at)
    ranked, tried = [], []
    for (choice, record, _), hidden in zip(combinations, out_of_sight, strict=True):
        strengths = dict(zip(objectives, choice, strict=True))
        statistics = {name: probe_t_statistic(effect) for name, effect in record["probe"]["effects"].items()}
        entry = strengths_entry(strengths, record, statistics)
        steering = sum(value > STEERING_T_STATISTIC for value in statistics.values())
        degenerate_share = round(sum(degenerate_share_of(item) for item in record["objectives"]), 9)
        blind_below_strongest = sum(sum(level > strengths[name] for level in levels) for name in blind)
        before_the_t_statistics = (
            len(entry["degenerate_at_vertex"]), degenerate_share, len(hidden), blind_below_strongest, -steering
        )  # fmt: skip
        ranked.append(
            _RankedCombination(before_the_t_statistics, sorted(statistics.values()), choice, strengths, record)
        )
        tried.append(entry)
    best_before = min(item.before_the_t_statistics for item in ranked)
    contenders = [item for item in ranked if item.before_the_t_statistics == best_before]
    largest_least = max(item.least_t_statistic for item in contenders)
    within_noise = [item for item in contenders if item.least_t_statistic >= largest_least - MIN_T_GAIN_FOR_WEAKER]
    chosen = min(
        within_noise,
        key=lambda item: (
            -sum(min(level, 1.0) for level in item.choice), sum(max(level, 1.0) for level in item.choice),
            tuple(-value for value in item.ascending_t_statistics),
        ),
    )  # fmt: skip
    strengths, record = chosen.strengths, chosen.record
    probed = [{"strength": level, "vertices": points} for level, points in points_at.items()]
    return {**record, "objective_strengths": strengths, "strengths_tried": tried, "probe_at_strength": probed}


def objectives_allowed_stronger(record: dict) -> list[str]:
    """The objectives of a full-strength diagnosis record that may be guided above full strength: those the probe
    cannot judge (`unjudged_objectives`: a feature their answers rarely show) and those it finds inconclusive (a rise
    within two standard errors: guidance too weak to move them clearly, or a rise that starts only at high weights)
    whose training margin, where recorded, reached `LEARNED_MARGIN`. A stronger guidance of a direction the PARM barely
    learned amplifies its noise: on the steering benchmark such a probe passed at twice the strength and the sweep did
    not steer, and the pass hid the `not_learned` flag whose longer training made it steer."""
    margins = record.get("training_margins") or {}
    inconclusive = {
        name
        for name in flagged_objectives(record, ["probe_inconclusive"])
        if margins.get(name, LEARNED_MARGIN) >= LEARNED_MARGIN
    }
    unjudged = set(unjudged_objectives(record))
    return [name for name in record["probe"]["effects"] if name in unjudged or name in inconclusive]


def unjudged_objectives(record: dict) -> list[str]:
    """The objectives of a diagnosis record that its probe cannot judge (`probe_can_tell` false: their answers differ
    between their vertex and the others on too few prompts, none included): the only ones guided above full
    strength."""
    effects = record["probe"]["effects"]
    return [name for name, effect in effects.items() if not probe_can_tell(effect, STEERING_T_STATISTIC)]


def objectives_out_of_sight(objectives: Sequence[str], combinations: Sequence[tuple]) -> list[set[str]]:
    """Per combination `(strengths in objective order, record, unjudged objectives)`, the objectives the probe cannot
    judge there but can, with their vertex not degenerate, in a combination where their own strength is higher. One
    unjudged at a strength no lower than every strength it is judged at is not: nothing stronger would show it."""
    judged_at: dict[str, set[float]] = {name: set() for name in objectives}
    for choice, record, unjudged in combinations:
        degenerate = degenerate_objectives(record)
        for name, level in zip(objectives, choice, strict=True):
            if name not in unjudged and name not in degenerate:
                judged_at[name].add(level)
    return [
        {
            name
            for name, level in zip(objectives, choice, strict=True)
            if name in unjudged and any(higher > level for higher in judged_at[name])
        }
        for choice, _, unjudged in combinations
    ]


def probe_blind_objectives(objectives: Sequence[str], unjudged_by_combination: Sequence[Collection[str]]) -> list[str]:
    """The objectives the probe cannot judge (`unjudged_objectives`, one collection per combination of strengths
    probed) in every combination: at no strength do the probe's answers show them enough to choose a strength by."""
    return [
        name
        for name in objectives
        if unjudged_by_combination and all(name in unjudged for unjudged in unjudged_by_combination)
    ]


def degenerate_objectives(record: dict) -> list[str]:
    """The objectives of a diagnosis record whose vertex degenerates (a flag in `DEGENERATE_FLAGS`), in its order."""
    return flagged_objectives(record, DEGENERATE_FLAGS)


def strengths_entry(strengths: dict[str, float], record: dict, statistics: dict[str, float]) -> dict[str, Any]:
    """One probed combination of strengths: its degenerate vertices and its objectives' probe t statistics
    (`statistics`, an infinite one written as None, JSON having no infinity)."""
    return {
        "objective_strengths": strengths,
        "degenerate_at_vertex": degenerate_objectives(record),
        "probe_t_statistics": {name: value if math.isfinite(value) else None for name, value in statistics.items()},
    }
