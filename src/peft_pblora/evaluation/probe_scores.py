"""What the guided probe's per-prompt scores leave an objective to raise: the share of its answers where the
objective's weight is 0 that already reach its highest probe score (a stand-in for the unguided model at its
ceiling, which the probe does not decode), and the objectives on which every answer scored alike (nothing to read).
`steering_diagnosis.diagnose` turns them into the advice flags `already_at_top` and `probe_scores_alike`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .weight_curves import scores_alike, share_at_highest_score


def _keeps_per_prompt_scores(probe_points: Sequence[Mapping]) -> bool:
    """Whether there are probe points and every one keeps its answers' per-prompt scores."""
    return bool(probe_points) and all(point.get("per_prompt") is not None for point in probe_points)


def _scores_of(name: str, probe_points: Sequence[Mapping]) -> list[float]:
    """Every per-prompt score of objective `name` over `probe_points`, point after point."""
    return [score for point in probe_points for score in point["per_prompt"][name]]


def shares_at_top_where_weight_is_zero(probe_points: Sequence[Mapping], objectives: Sequence[str]) -> dict[str, float]:
    """Per objective, the share of the probe's answers at the vertices that give it weight 0 which already reach its
    highest score over every vertex's answers: a stand-in for the unguided model at its ceiling, which the probe does
    not decode. Objectives whose answers all score alike, or without per-prompt scores, are left out.

    Args:
        probe_points (Sequence[Mapping]): The probe's points, each with its `alpha` and `per_prompt` scores.
        objectives (Sequence[str]): The objectives, in the order of each point's alpha.

    Returns:
        dict[str, float]: The share per objective; `diagnose` flags `already_at_top` from `ALREADY_AT_TOP_SHARE` on.

    Examples:
        >>> from peft_pblora.evaluation.probe_scores import shares_at_top_where_weight_is_zero
        >>> points = [{"alpha": [1.0, 0.0], "per_prompt": {"tone": [1.0, 1.0], "rare": [0.0, 0.0]}},
        ...           {"alpha": [0.0, 1.0], "per_prompt": {"tone": [1.0, 0.5], "rare": [0.0, 2.0]}}]
        >>> shares_at_top_where_weight_is_zero(points, ["tone", "rare"])
        {'tone': 0.5, 'rare': 0.0}
    """
    if not _keeps_per_prompt_scores(probe_points):
        return {}
    shares = {}
    for index, name in enumerate(objectives):
        others = _scores_of(name, [point for point in probe_points if point["alpha"][index] == 0])
        entry = share_at_highest_score(others, _scores_of(name, probe_points)) if others else None
        if entry is not None:
            shares[name] = entry["share"]
    return shares


def objectives_scored_alike(probe_points: Sequence[Mapping], objectives: Sequence[str]) -> list[str]:
    """The objectives on which every probe answer, at every vertex, scored the same (`scores_alike`): the probe sees no
    difference to read, whether that score is the scorer's lowest (a feature guidance never wrote on these prompts)
    or its highest (one the model writes everywhere). Empty without per-prompt scores.

    Args:
        probe_points (Sequence[Mapping]): The probe's points, each with its `per_prompt` scores.
        objectives (Sequence[str]): The objectives to check.

    Returns:
        list[str]: The objectives whose finite scores are all alike (`scores_alike`), in the order given.

    Examples:
        >>> from peft_pblora.evaluation.probe_scores import objectives_scored_alike
        >>> points = [{"alpha": [1.0, 0.0], "per_prompt": {"affirm": [1.0, 1.0], "tone": [0.9, 0.4]}},
        ...           {"alpha": [0.0, 1.0], "per_prompt": {"affirm": [1.0, 1.0], "tone": [0.1, 0.2]}}]
        >>> objectives_scored_alike(points, ["affirm", "tone"])
        ['affirm']
    """
    if not _keeps_per_prompt_scores(probe_points):
        return []
    alike = []
    for name in objectives:
        every = np.asarray(_scores_of(name, probe_points), dtype=float)
        if every.size and np.isfinite(every).all() and scores_alike(every):
            alike.append(name)
    return alike
