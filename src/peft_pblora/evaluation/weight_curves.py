"""Each objective's per-prompt scores along its own weight in a sweep, and the shapes a report names from them:
paired differences with their standard errors, the steepest fall, a level-off below the vertex, a late rise and an
unguided model that already scores the highest on most prompts."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np


def standard_error(values: Sequence[float]) -> float:
    """Standard error of a mean over prompts (0 for fewer than two values)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def mean_scores(per_prompt: Mapping[str, Sequence[float]]) -> dict[str, dict]:
    """A sweep point's scores from its per-prompt scores: each objective's mean over prompts and its standard error,
    beside the per-prompt scores themselves, so a point scored now and one cut to fewer prompts read alike.

    Args:
        per_prompt (Mapping[str, Sequence[float]]): Each objective's score per prompt.

    Returns:
        dict[str, dict]: `scores` (the means), `standard_errors` and `per_prompt`.

    Examples:
        >>> from peft_pblora.evaluation.weight_curves import mean_scores
        >>> point = mean_scores({"brevity": [0.5, 1.0, 0.0]})
        >>> point["scores"], round(point["standard_errors"]["brevity"], 3)
        ({'brevity': 0.5}, 0.289)
    """
    return {
        "scores": {name: float(np.mean(values)) for name, values in per_prompt.items()},
        "standard_errors": {name: standard_error(values) for name, values in per_prompt.items()},
        "per_prompt": per_prompt,
    }


def paired_difference(first: Sequence[float], second: Sequence[float]) -> dict[str, float]:
    """Mean over prompts of first - second, with its paired standard error."""
    differences = np.asarray(first, dtype=float) - np.asarray(second, dtype=float)
    return {"effect": float(differences.mean()), "standard_error": standard_error(differences)}


def is_clearly_positive(difference: Mapping[str, float] | None) -> bool:
    """Whether a paired difference (`paired_difference`) lies more than two standard errors above 0; None does not."""
    return difference is not None and difference["effect"] > 2 * difference["standard_error"]


def has_per_prompt_scores(sweep: dict) -> bool:
    """Whether the sweep keeps each point's per-prompt scores (an older sweep.json holds only the means)."""
    return bool(sweep["points"]) and "per_prompt" in sweep["points"][0]


def scores_per_weight(sweep: dict, index: int) -> dict[float, np.ndarray]:
    """One objective's per-prompt scores at each of its weights in the sweep, in rising order of weight; the points
    that share a weight (with more than two objectives) averaged per prompt."""
    name = sweep["objectives"][index]
    weights = sorted({point["alpha"][index] for point in sweep["points"]})
    return {
        weight: np.mean([point["per_prompt"][name] for point in sweep["points"] if point["alpha"][index] == weight], 0)
        for weight in weights
    }


def _weight_curves(sweep: dict) -> Iterator[tuple[str, dict[float, np.ndarray], list[float], list[float]]]:
    """Each objective's name, per-prompt scores at each weight (`scores_per_weight`), weights in rising order and
    mean scores there; nothing for a sweep without per-prompt scores."""
    if not has_per_prompt_scores(sweep):
        return
    for index, name in enumerate(sweep["objectives"]):
        at_weight = scores_per_weight(sweep, index)
        yield name, at_weight, list(at_weight), [float(np.mean(values)) for values in at_weight.values()]


def _where_and_rise(weight_key: str, weight: float, score: float, rise: Mapping[str, float]) -> dict[str, float]:
    """A shape's record: the weight it names under `weight_key`, the mean score there, and a paired rise."""
    return {weight_key: weight, "score": score, "rise": rise["effect"], "standard_error": rise["standard_error"]}


def steepest_falls(sweep: dict) -> dict[str, dict[str, float] | None]:
    """Per objective, the largest fall of its score from one of its weights to a higher one, in standard errors: the
    pair of weights (lower `from_weight`, higher `to_weight`) where the score falls most clearly, with the fall (mean
    over prompts of the score at `from_weight` minus at `to_weight`, the points sharing a weight averaged) and its
    paired standard error; None where the score falls nowhere or the sweep has no per-prompt scores. A fall beyond
    two standard errors means more weight gave less of the objective, which a Spearman correlation only hints at."""
    falls: dict[str, dict[str, float] | None] = {}
    for name, at_weight, _, _ in _weight_curves(sweep):
        steepest, steepest_t = None, -math.inf
        for lower, higher in itertools.combinations(at_weight, 2):
            fall = paired_difference(at_weight[lower], at_weight[higher])
            if not fall["effect"] > 0:
                continue
            t = fall["effect"] / fall["standard_error"] if fall["standard_error"] > 0 else math.inf
            if t > steepest_t:
                steepest_t = t
                steepest = {
                    "from_weight": lower,
                    "to_weight": higher,
                    "fall": fall["effect"],
                    "standard_error": fall["standard_error"],
                }
        falls[name] = steepest
    return falls


def levels_off(sweep: dict) -> dict[str, dict[str, float] | None]:
    """Per objective, the weight below its top one where its mean score peaks, if it rises at every step of weight up
    to there and by more than two standard errors in all (paired over prompts, from its lowest weight): `at_weight`,
    the mean `score` there, the `rise` and its `standard_error`; None otherwise, or without per-prompt scores. Where
    the score also falls nowhere beyond two standard errors above that weight (`steepest_falls`), it has reached its
    scorer's ceiling or as far as its guidance takes it: alpha trades it only below that weight, which a Spearman
    correlation over the whole sweep reads as not steering."""
    levels: dict[str, dict[str, float] | None] = {}
    for name, at_weight, weights, means in _weight_curves(sweep):
        peak = means.index(max(means))
        rise = paired_difference(at_weight[weights[peak]], at_weight[weights[0]])
        rises_at_every_step = all(lower < higher for lower, higher in itertools.pairwise(means[: peak + 1]))
        found = 0 < peak < len(weights) - 1 and rises_at_every_step and is_clearly_positive(rise)
        levels[name] = _where_and_rise("at_weight", weights[peak], means[peak], rise) if found else None
    return levels


def _is_within_noise(difference: Mapping[str, float]) -> bool:
    """Whether a paired difference (`paired_difference`) lies within two standard errors of 0."""
    return abs(difference["effect"]) <= 2 * difference["standard_error"]


def rises_late(sweep: dict) -> dict[str, dict[str, float] | None]:
    """Per objective, the highest weight below its top one up to which its score stays within two standard errors
    of its score at its lowest weight (paired over prompts, at every weight up to there), if from there its mean
    rises at every step to its top weight and by more than two standard errors in all: `from_weight`, the mean
    `score` there, the `rise` to the top weight and its `standard_error`; None otherwise, or without per-prompt
    scores. Alpha trades it only above that weight, which a Spearman correlation over the whole sweep reads as not
    steering."""
    late: dict[str, dict[str, float] | None] = {}
    for name, at_weight, weights, means in _weight_curves(sweep):
        start = 0
        while start + 1 < len(weights) and _is_within_noise(
            paired_difference(at_weight[weights[start + 1]], at_weight[weights[0]])
        ):
            start += 1
        rise = paired_difference(at_weight[weights[-1]], at_weight[weights[start]])
        rises_at_every_step = all(lower < higher for lower, higher in itertools.pairwise(means[start:]))
        found = 0 < start < len(weights) - 1 and rises_at_every_step and is_clearly_positive(rise)
        late[name] = _where_and_rise("from_weight", weights[start], means[start], rise) if found else None
    return late


# the share of test prompts whose unguided answer already reaches an objective's highest score in the sweep from which
# the report says its weight has little room to raise it: on the steering benchmark affirmative (a mean of 0.907
# unguided) had 79% in each of its eight runs kept whole, every other objective-run of 66 at most 38% (relevance),
# most 6% or less
LITTLE_ROOM_SHARE = 0.5


def scores_alike(scores: Sequence[float]) -> bool:
    """Whether no score is above the lowest (exact comparison; NaN is above nothing): no top to reach, and nothing to
    read a rise from.

    Args:
        scores (Sequence[float]): Any scores of one objective.

    Returns:
        bool: True where the highest score is not above the lowest.

    Examples:
        >>> from peft_pblora.evaluation.weight_curves import scores_alike
        >>> scores_alike([1.0, 1.0]), scores_alike([1.0, 0.999])
        (True, False)
    """
    return not np.max(scores) > np.min(scores)


def share_at_highest_score(scores: Sequence[float], every: Sequence[float]) -> dict[str, float] | None:
    """The highest of `every` score and the share of `scores` that reach it; None where every score is alike (no
    top to reach). Shared by the sweep's `base_at_highest_score` and the probe's stand-in for it.

    Args:
        scores (Sequence[float]): The scores whose share at the top is measured (the unguided model's, say).
        every (Sequence[float]): Every score the top is read from, `scores` among them.

    Returns:
        dict[str, float] | None: `highest_score` and `share`, or None where `scores_alike(every)`.

    Examples:
        >>> from peft_pblora.evaluation.weight_curves import share_at_highest_score
        >>> share_at_highest_score([1.0, 0.5], [1.0, 0.5, 0.0, 1.0])
        {'highest_score': 1.0, 'share': 0.5}
    """
    if scores_alike(every):
        return None
    highest = float(np.max(every))
    return {"highest_score": highest, "share": float(np.mean(np.asarray(scores, dtype=float) >= highest))}


def base_at_highest_score(sweep: dict) -> dict[str, dict[str, float]]:
    """Per objective, the highest score any answer of the sweep or of the unguided model reached, and the share of
    test prompts whose unguided answer already scores it: an objective the base already writes at its top on most
    prompts can rise with its weight on the rest only, so its Spearman rests on small differences. Objectives whose
    answers all score alike, and sweeps without per-prompt scores (or the base's), are left out.

    Examples:
        >>> from peft_pblora.evaluation.weight_curves import base_at_highest_score
        >>> points = [{"alpha": [1.0, 0.0], "per_prompt": {"tone": [1.0, 1.0, 0.5, 1.0]}},
        ...           {"alpha": [0.0, 1.0], "per_prompt": {"tone": [1.0, 0.5, 0.0, 1.0]}}]
        >>> base = {"per_prompt": {"tone": [1.0, 0.5, 0.5, 1.0]}}
        >>> base_at_highest_score({"objectives": ["tone"], "points": points, "base": base})
        {'tone': {'highest_score': 1.0, 'share': 0.5}}
    """
    base = sweep.get("base", {}).get("per_prompt")
    if not base or not has_per_prompt_scores(sweep):
        return {}
    found = {}
    for name in sweep["objectives"]:
        every = [*base[name], *(score for point in sweep["points"] for score in point["per_prompt"][name])]
        entry = share_at_highest_score(base[name], every)
        if entry is not None:
            found[name] = entry
    return found


def leaves_little_room(entry: Mapping[str, float] | None) -> bool:
    """Whether the unguided model already reaches an objective's highest score on at least `LITTLE_ROOM_SHARE` of the
    test prompts (an entry of `base_at_highest_score`; None does not)."""
    return entry is not None and entry["share"] >= LITTLE_ROOM_SHARE
