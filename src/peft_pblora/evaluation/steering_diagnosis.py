"""Diagnosis of steering before the sweep: does each objective's score follow its own weight?

Three measurements per objective, each cheap next to the sweep:
- the training log's reward margin on the objective's own pairs over the last third of training: below
  `LEARNED_MARGIN`, the PARM barely separates the pairs it trained on, and guidance has little to follow;
- held-out pair accuracy at the objective's own vertex and at the other vertices (`PARMTrainer.evaluate`): near
  chance at its own vertex, the PARM did not learn the objective's pairs; no higher there than at the other vertices,
  it learned "better" but not "better for this objective";
- a guided probe: a few prompts outside the train and test split decoded at every vertex and scored by the run's
  own scorers: the objective's score at its own vertex minus its mean at the other vertices, paired over prompts;
  how many of the answers at its own vertex are empty or repeat themselves, and how much less likely the frozen base
  finds them than its own answers to the same prompts (guidance strong enough to push the answers off the base's
  text or language there does not give a usable trade-off);
- an empty-answer check: many more prompts outside the split (the probe's among them) decoded at every vertex for a
  few tokens only, to count the answers that end at once with no word, which a few probe prompts miss when a sixth
  of the prompts get one.
Pair accuracy can look fine while guided decoding moves an objective against its weight (the reward is learned on
whole sequences, decoding is steered token by token), so the probe's verdict is the one that decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .answer_quality import degenerate_share
from .base_likelihood import is_off_language
from .steering_flags import (
    ADVICE,
    ALREADY_AT_TOP_SHARE,
    DEGENERATE_SHARE,
    EMPTY_ANSWER_SHARE,
    FEW_PAIRS_SHARE,
    LEARNED_MARGIN,
    PROBE_FLAGS,
)

CHANCE = 0.5
MIN_HELD_OUT_PAIRS = 16  # fewer: two standard errors above chance exceed 0.75, and a pair-accuracy flag means little


@dataclass
class ObjectiveDiagnosis:
    """One objective's diagnosis: the measurements, the problems found (`flags`) and what to try for each. It
    `steers` when the guided probe raised none of `PROBE_FLAGS` (the probe decides; `probe_inconclusive`,
    `probe_cannot_tell`, `few_pairs`, pair-accuracy and training-margin flags are advice), or, without a probe, when
    nothing but `few_pairs` was flagged."""

    objective: str
    held_out_pairs: int
    pair_accuracy_at_own_vertex: float | None
    pair_accuracy_at_other_vertices: float | None
    probe_effect: float | None
    probe_standard_error: float | None
    flags: list[str]
    training_margin: float | None = None
    degenerate_share_at_vertex: float | None = None
    empty_answer_share_at_vertex: float | None = None
    prompts_with_pairs: int | None = None
    pair_prompts: int | None = None
    share_at_top_where_weight_is_zero: float | None = None
    base_nll_gap_at_vertex: float | None = None
    off_language_share_at_vertex: float | None = None

    @property
    def steers(self) -> bool:
        if self.probe_effect is not None:
            return not any(flag in PROBE_FLAGS for flag in self.flags)
        return not [flag for flag in self.flags if flag != "few_pairs"]

    @property
    def advice(self) -> list[str]:
        return [ADVICE[flag] for flag in self.flags]

    def to_dict(self) -> dict:
        """The diagnosis as plain JSON (NaN and infinite measurements as None)."""
        record = {
            key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in asdict(self).items()
        }
        return {**record, "steers": self.steers, "advice": self.advice}


def training_margins(log_history: Sequence[Mapping[str, object]], objectives: Sequence[str]) -> dict[str, float]:
    """Each objective's mean logged reward margin (`objective/<name>/margin`) over the last third of the training
    log's entries that carry it (at least one); objectives never logged are left out."""
    margins = {}
    for name in objectives:
        key = f"objective/{name}/margin"
        values = [float(entry[key]) for entry in log_history if key in entry]
        if values:
            last = values[-max(1, len(values) // 3) :]
            margins[name] = float(np.mean(last))
    return margins


def few_pair_objectives(
    prompts_with_pairs: Mapping[str, int], prompts: int, share: float = FEW_PAIRS_SHARE
) -> list[str]:
    """The objectives with pairs on fewer than `share` of the `prompts` they are made from (counting the prompts, so
    that several pairs on one prompt count once): at `FEW_PAIRS_SHARE`, flagged `few_pairs`; make-data gives extra
    answers at `data.more_samples.MORE_SAMPLES_PAIR_SHARE`.

    Examples:
        >>> from peft_pblora.evaluation.steering_diagnosis import few_pair_objectives
        >>> few_pair_objectives({"parentheses": 6, "relevance": 95, "examples": 15}, prompts=96)
        ['parentheses']
        >>> few_pair_objectives({"parentheses": 6, "relevance": 95, "examples": 15}, prompts=96, share=1 / 2)
        ['parentheses', 'examples']
    """
    return [name for name, count in prompts_with_pairs.items() if count < share * prompts]


def binomial_standard_error(count: int, probability: float = CHANCE) -> float:
    """Standard error of an accuracy over `count` independent pairs (inf for none)."""
    return math.sqrt(probability * (1 - probability) / count) if count > 0 else math.inf


def vertex_label(index: int, k: int) -> str:
    """The label `PARMTrainer.evaluate` gives the `index`-th vertex of the k-simplex, e.g. 'alpha=(1,0)'."""
    return "alpha=(" + ",".join("1" if position == index else "0" for position in range(k)) + ")"


def pair_accuracy_at_vertices(
    eval_metrics: Mapping[str, float], objectives: Sequence[str], prefix: str = "eval"
) -> dict[str, dict[str, float]]:
    """Per objective, its held-out pair accuracy at its own vertex and the mean over the other vertices, read from
    `PARMTrainer.evaluate`'s metrics (evaluated at the vertices, its default `eval_preferences`)."""
    k = len(objectives)
    table = {}
    for index, name in enumerate(objectives):
        at = [eval_metrics.get(f"{prefix}_{name}_accuracy@{vertex_label(vertex, k)}") for vertex in range(k)]
        if at[index] is None:
            continue
        others = [value for vertex, value in enumerate(at) if vertex != index and value is not None]
        table[name] = {"own": float(at[index]), "others": float(np.mean(others)) if others else math.nan}
    return table


def probe_effects(
    vertex_scores: Sequence[Mapping[str, Sequence[float]]], objectives: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    """Per objective: mean over probe prompts of its score at its own vertex minus its mean score at the other
    vertices, with the paired standard error (None for one prompt), the number of prompts and of those whose
    difference is not zero (`probe_can_tell` reads them). `vertex_scores[i]` holds every objective's per-prompt
    scores of the answers decoded at vertex i."""
    if len(vertex_scores) != len(objectives):
        raise ValueError(f"got probe scores at {len(vertex_scores)} vertices for {len(objectives)} objectives")
    effects = {}
    for index, name in enumerate(objectives):
        own = np.asarray(vertex_scores[index][name], dtype=float)
        others = np.mean(
            [np.asarray(scores[name], dtype=float) for vertex, scores in enumerate(vertex_scores) if vertex != index],
            axis=0,
        )
        differences = own - others
        error = float(np.std(differences, ddof=1) / np.sqrt(len(differences))) if len(differences) > 1 else None
        effects[name] = {
            "effect": float(differences.mean()),
            "standard_error": error,
            "prompts": len(differences),
            "prompts_that_differ": int(np.count_nonzero(~np.isclose(differences, 0.0))),
        }
    return effects


def largest_t_statistic(prompts: int, prompts_that_differ: int) -> float:
    """The largest t statistic a paired effect over `prompts` prompts reaches when only `prompts_that_differ` of them
    differ (all by the same amount, the rest by nothing): sqrt(m (n - 1) / (n - m)); inf when every prompt differs.

    Args:
        prompts (int): The probe's prompts n.
        prompts_that_differ (int): How many of them score differently at the objective's vertex than at the others m.

    Returns:
        float: The bound on |t| over every way the m prompts can differ.

    Examples:
        >>> from peft_pblora.evaluation.steering_diagnosis import largest_t_statistic
        >>> round(largest_t_statistic(8, 2), 2), round(largest_t_statistic(8, 3), 2)
        (1.53, 2.05)
    """
    if prompts_that_differ >= prompts:
        return math.inf
    return math.sqrt(prompts_that_differ * (prompts - 1) / (prompts - prompts_that_differ))


def probe_can_tell(effect: Mapping[str, float | None], significance: float = 2.0) -> bool:
    """Whether a probe effect could reach `significance` standard errors either way: False where its answers differ
    between the objective's own vertex and the others on too few prompts (an objective the answers rarely show), so
    that not even the same rise or fall on each of them would. An effect recorded without its prompt counts can tell.
    Differences within 1e-8 of zero count as none, so a scorer should not score on a scale that small.

    Args:
        effect (Mapping): One objective's entry of `probe_effects` (its `prompts` and `prompts_that_differ`).
        significance (float, optional): The standard errors a verdict needs. Defaults to `2.0`.

    Returns:
        bool: False where `largest_t_statistic` stays below `significance`.

    Examples:
        >>> from peft_pblora.evaluation.steering_diagnosis import probe_can_tell, probe_effects
        >>> digits = [0.0] * 6 + [0.5, 0.5]  # two of eight probe answers at numbers' vertex hold a digit
        >>> at_numbers = {"numbers": digits, "tone": [0.0] * 8}
        >>> at_tone = {"numbers": [0.0] * 8, "tone": [0.9] * 8}
        >>> effects = probe_effects([at_numbers, at_tone], ["numbers", "tone"])
        >>> effects["numbers"]["prompts_that_differ"], probe_can_tell(effects["numbers"])
        (2, False)
        >>> probe_can_tell(effects["tone"])
        True
    """
    prompts, differing = effect.get("prompts"), effect.get("prompts_that_differ")
    if prompts is None or differing is None:
        return True
    return largest_t_statistic(int(prompts), int(differing)) >= significance


def values_at_own_vertex(
    probe_points: Sequence[Mapping], objectives: Sequence[str], value_of: Callable[[Mapping], float | None]
) -> dict[str, float]:
    """Per objective, `value_of` its own vertex's point (the probe's points are in objective order); objectives
    whose point gives None are left out."""
    values = {}
    for name, point in zip(objectives, probe_points, strict=False):
        value = value_of(point)
        if value is not None:
            values[name] = value
    return values


def degenerate_shares(probe_points: Sequence[Mapping], objectives: Sequence[str]) -> dict[str, float]:
    """Per objective, the share of the probe's answers at its own vertex that are empty or repetitive, from each
    vertex's `quality` (`response_quality`); objectives whose vertex has no quality recorded are left out."""

    def degenerate(point: Mapping) -> float | None:
        quality = point.get("quality")
        return degenerate_share(quality) if quality else None

    return values_at_own_vertex(probe_points, objectives, degenerate)


def empty_answer_shares(probe_points: Sequence[Mapping], objectives: Sequence[str]) -> dict[str, float]:
    """Per objective, the share of the empty-answer check's answers at its own vertex with no word, from each vertex's
    `empty_answer_check` (a check made before it counted answers that run on in markup counted those that ended
    empty); objectives whose vertex was not checked are left out."""

    def empty(point: Mapping) -> float | None:
        check = point.get("empty_answer_check")
        return float(check.get("wordless", check["empty"])) if check else None

    return values_at_own_vertex(probe_points, objectives, empty)


def base_nll_gaps(
    probe_points: Sequence[Mapping], objectives: Sequence[str], unguided_base_nll: float | None
) -> dict[str, float]:
    """Per objective, how many nats per token the frozen base's mean negative log-likelihood of the probe's answers at
    its own vertex (each vertex's `quality["base_nll"]`) exceeds `unguided_base_nll`, the base's own answers' to the
    same prompts; empty without the reference, and objectives whose vertex has no likelihood (all answers empty, or
    recorded before it was measured) are left out."""
    if unguided_base_nll is None:
        return {}

    def gap(point: Mapping) -> float | None:
        value = point.get("quality", {}).get("base_nll")
        return value - unguided_base_nll if value is not None else None

    return values_at_own_vertex(probe_points, objectives, gap)


def off_language_shares(probe_points: Sequence[Mapping], objectives: Sequence[str]) -> dict[str, float]:
    """Per objective, the share of the probe's answers at its own vertex off the base's language (each vertex's
    `quality["off_language"]`: at least `OFF_LANGUAGE_ANSWER_NLL_GAP` nats per token above the base's own answers)."""
    return values_at_own_vertex(probe_points, objectives, lambda point: point.get("quality", {}).get("off_language"))


def degenerate_share_of(item: Mapping) -> float:
    """An objective diagnosis's (`ObjectiveDiagnosis.to_dict`) degenerate share over its degenerate flags: the
    probe's empty or repetitive share where it is flagged `degenerate_at_vertex`, plus the empty-answer check's share
    where it is flagged `wordless_at_vertex`, plus the probe's off-language share where it is flagged
    `off_language_at_vertex`; 0 without any of them."""
    share = 0.0
    if "degenerate_at_vertex" in item["flags"]:
        share += item["degenerate_share_at_vertex"]
    if "wordless_at_vertex" in item["flags"]:
        share += item["empty_answer_share_at_vertex"]
    if "off_language_at_vertex" in item["flags"]:
        share += item.get("off_language_share_at_vertex") or 0.0
    return share


def diagnose(
    objectives: Sequence[str],
    pair_accuracy: Mapping[str, Mapping[str, float]],
    held_out_pairs: Mapping[str, int],
    probe: Mapping[str, Mapping[str, float]],
    significance: float = 2.0,
    training_margin: Mapping[str, float] | None = None,
    degenerate_share: Mapping[str, float] | None = None,
    empty_answer_share: Mapping[str, float] | None = None,
    prompts_with_pairs: Mapping[str, int] | None = None,
    pair_prompts: int | None = None,
    share_at_top_where_weight_is_zero: Mapping[str, float] | None = None,
    scored_alike: Sequence[str] = (),
    base_nll_gap: Mapping[str, float] | None = None,
    off_language_share: Mapping[str, float] | None = None,
) -> list[ObjectiveDiagnosis]:
    """Flags per objective: "probe_cannot_tell" (its probe answers differ on some prompts, but too few for any effect
    to pass `significance` standard errors, `probe_can_tell`: advice, the probe has no reading of it), else
    "steers_backwards" (probe effect below minus `significance` standard errors),
    "does_not_steer" (no rise at its own vertex) or "probe_inconclusive" (a rise within `significance` standard
    errors: advice, a few probe prompts cannot tell a small effect from noise); with at least `MIN_HELD_OUT_PAIRS`
    held-out pairs, "no_pair_signal" (accuracy at its own vertex within `significance` standard errors of chance) or
    "not_separated" (no higher at its own vertex than at the others); with its `training_margin`, "not_learned"
    (below `LEARNED_MARGIN`, unless the probe rises beyond `significance` standard errors); with the share of the
    probe's answers at its own vertex that are empty or repetitive (`degenerate_share`), "degenerate_at_vertex" (at
    least `DEGENERATE_SHARE`); with the share of the empty-answer check's answers at its own vertex with no word
    (`empty_answer_share`), "wordless_at_vertex" (at least `EMPTY_ANSWER_SHARE`); with how far the base finds the
    probe's answers at its own vertex less likely than its own answers (`base_nll_gap`, nats per token;
    `off_language_share` is recorded beside it), "off_language_at_vertex" (at least `OFF_LANGUAGE_NLL_GAP`: word
    salad); with the prompts its training pairs are on (`prompts_with_pairs`), "few_pairs" (`few_pair_objectives`
    of the `pair_prompts` they are made from, whatever the probe says); with the share of the probe's answers where
    its weight is 0 that reach its highest probe score (`shares_at_top_where_weight_is_zero`), "already_at_top" (at
    least `ALREADY_AT_TOP_SHARE`: advice, its weight has little left to raise); where every probe answer scored alike
    on it (`scored_alike`, `objectives_scored_alike`), "probe_scores_alike" (advice: the probe had nothing to read).
    Missing measurements, too few held-out pairs and a probe of fewer than two prompts (no standard error) raise no
    probe flag."""
    diagnoses = []
    for name in objectives:
        accuracy = pair_accuracy.get(name, {})
        own, others = accuracy.get("own"), accuracy.get("others")
        pairs = int(held_out_pairs.get(name, 0))
        effect = probe.get(name, {}).get("effect")
        error = probe.get(name, {}).get("standard_error")
        margin = (training_margin or {}).get(name)
        covered = (prompts_with_pairs or {}).get(name)
        flags = []
        probe_passes = False
        if effect is not None and error is not None and math.isfinite(error):
            if not probe_can_tell(probe[name], significance) and probe[name].get("prompts_that_differ"):
                flags.append("probe_cannot_tell")
            elif effect < 0 and effect <= -significance * error:
                flags.append("steers_backwards")
            elif not effect > 0:
                flags.append("does_not_steer")
            elif not effect > significance * error:
                flags.append("probe_inconclusive")
            else:
                probe_passes = True
        if margin is not None and not margin >= LEARNED_MARGIN and not probe_passes:
            flags.insert(0, "not_learned")
        if (
            pair_prompts is not None
            and covered is not None
            and name in few_pair_objectives({name: covered}, pair_prompts)
        ):
            flags.insert(0, "few_pairs")
        degenerate = (degenerate_share or {}).get(name)
        if degenerate is not None and degenerate >= DEGENERATE_SHARE:
            flags.append("degenerate_at_vertex")
        empty = (empty_answer_share or {}).get(name)
        if empty is not None and empty >= EMPTY_ANSWER_SHARE:
            flags.append("wordless_at_vertex")
        gap = (base_nll_gap or {}).get(name)
        if gap is not None and is_off_language(gap):
            flags.append("off_language_at_vertex")
        at_top = (share_at_top_where_weight_is_zero or {}).get(name)
        if at_top is not None and at_top >= ALREADY_AT_TOP_SHARE:
            flags.append("already_at_top")
        if name in scored_alike:
            flags.append("probe_scores_alike")
        if own is not None and pairs >= MIN_HELD_OUT_PAIRS:
            if own <= CHANCE + significance * binomial_standard_error(pairs):
                flags.append("no_pair_signal")
            elif others is not None and not math.isnan(others) and own <= others:
                flags.append("not_separated")
        diagnoses.append(
            ObjectiveDiagnosis(
                objective=name,
                held_out_pairs=pairs,
                pair_accuracy_at_own_vertex=own,
                pair_accuracy_at_other_vertices=others,
                probe_effect=effect,
                probe_standard_error=error,
                flags=flags,
                training_margin=margin,
                degenerate_share_at_vertex=degenerate,
                empty_answer_share_at_vertex=empty,
                prompts_with_pairs=covered,
                pair_prompts=pair_prompts,
                share_at_top_where_weight_is_zero=at_top,
                base_nll_gap_at_vertex=gap,
                off_language_share_at_vertex=(off_language_share or {}).get(name),
            )
        )
    return diagnoses
