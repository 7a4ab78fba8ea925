"""The diagnosis's choice of per-objective strengths from probes at each strength, on synthetic probe scores."""

from __future__ import annotations

import math

import pytest

from peft_pblora.evaluation.steering_flags import LEARNED_MARGIN
from peft_pblora.pipeline.diagnosis import diagnosis_record
from peft_pblora.pipeline.strength_search import (
    MIN_T_GAIN_FOR_WEAKER,
    choose_strengths,
    diagnosis_with_strength_search,
    probe_t_statistic,
)

OBJECTIVES = ["a", "b"]
PROMPTS = ["p1", "p2", "p3", "p4"]


def vertex_point(index: int, scores: dict[str, list[float]], repetitive: float = 0.0) -> dict:
    alpha = [1.0 if position == index else 0.0 for position in range(len(OBJECTIVES))]
    return {"alpha": alpha, "per_prompt": scores, "quality": {"empty": 0.0, "repetitive": repetitive}}


def record_of(points: list[dict]) -> dict:
    return diagnosis_record(OBJECTIVES, PROMPTS, points, ({}, {}))


def search(
    points_at: dict[float, list[dict]], weaker: list[float], stronger: list[float] = (), record=record_of
) -> tuple[dict, list[float]]:
    probed = []

    def probe_at(strength: float) -> list[dict]:
        probed.append(strength)
        return points_at[strength]

    return diagnosis_with_strength_search(OBJECTIVES, weaker, stronger, probe_at, record), probed


def test_probe_t_statistic_is_the_effect_over_its_standard_error():
    assert probe_t_statistic({"effect": 0.3, "standard_error": 0.1}) == pytest.approx(3.0)
    assert probe_t_statistic({"effect": 0.3, "standard_error": 0.0}) == math.inf
    assert probe_t_statistic({"effect": -0.3, "standard_error": 0.0}) == -math.inf
    assert probe_t_statistic({"effect": 0.0, "standard_error": 0.0}) == 0.0
    assert probe_t_statistic({"effect": 0.3, "standard_error": None}) == 0.0
    assert probe_t_statistic({"effect": math.nan, "standard_error": math.nan}) == -math.inf
    assert probe_t_statistic({"effect": 0.3, "standard_error": math.inf}) == -math.inf


def test_objectives_that_steer_at_full_strength_are_probed_once_and_kept():
    steering = [
        vertex_point(0, {"a": [1.0, 0.9, 1.1, 1.0], "b": [0.0, 0.1, 0.0, 0.1]}),
        vertex_point(1, {"a": [0.0, 0.1, 0.2, 0.0], "b": [1.0, 1.2, 0.9, 1.0]}),
    ]
    record, probed = search({1.0: steering}, [0.5])
    assert probed == [1.0]
    assert record["objective_strengths"] == {"a": 1.0, "b": 1.0}
    assert len(record["strengths_tried"]) == 1


def test_the_combination_whose_least_steering_objective_steers_most_is_chosen():
    """a's vertex repeats itself at full strength; at 0.5 it steers, at 0.25 barely. b steers only a little at full
    strength (a rise within two standard errors) and clearly at 0.5, but its effect is measured against a's vertex
    too: (0.5, 0.5) has the largest least t statistic. By hand, at (0.5, 0.5): a's
    differences 1, 0.8, 1.2, 1 (t = 1 / (0.1633 / 2) = 12.2), b's 1, 1.1, 0.9, 1.3 (t = 1.075 / (0.1708 / 2) =
    12.6)."""
    b_weak = {"b": [0.2, -0.1, 0.3, -0.2]}  # b's scores at its vertex at full strength: a mean rise of 0.05
    b_clear = {"b": [1.0, 1.1, 0.9, 1.3]}
    at_vertex_b = {"a": [0.0, 0.0, 0.0, 0.0]}
    points_at = {
        1.0: [vertex_point(0, {"a": [1, 1, 1, 1], "b": [0, 0, 0, 0]}, repetitive=0.75),
              vertex_point(1, {**at_vertex_b, **b_weak})],
        0.5: [vertex_point(0, {"a": [1.0, 0.8, 1.2, 1.0], "b": [0, 0, 0, 0]}),
              vertex_point(1, {**at_vertex_b, **b_clear})],
        0.25: [vertex_point(0, {"a": [0.1, 0.0, 0.2, 0.1], "b": [0, 0, 0, 0]}),
               vertex_point(1, {**at_vertex_b, **b_clear})],
    }  # fmt: skip
    record, probed = search(points_at, [0.5, 0.25])
    assert probed == [1.0, 0.5, 0.25]
    assert record["objective_strengths"] == {"a": 0.5, "b": 0.5}
    assert len(record["strengths_tried"]) == 9
    chosen = next(e for e in record["strengths_tried"] if e["objective_strengths"] == {"a": 0.5, "b": 0.5})
    assert chosen["probe_t_statistics"]["a"] == pytest.approx(1.0 / (0.163299 / 2), rel=1e-4)
    assert chosen["probe_t_statistics"]["b"] == pytest.approx(1.075 / (0.170783 / 2), rel=1e-4)
    assert record["probe"]["effects"]["a"]["effect"] == pytest.approx(1.0)
    full = next(e for e in record["strengths_tried"] if e["objective_strengths"] == {"a": 1.0, "b": 1.0})
    assert full["degenerate_at_vertex"] == ["a"]
    assert all(item["flags"] == [] for item in record["objectives"])


def test_without_probe_answers_the_strengths_stay_full():
    record, probed = search({1.0: []}, [0.5])
    assert probed == [1.0] and record["objective_strengths"] == {"a": 1.0, "b": 1.0}


def test_a_weaker_strength_of_one_objective_counts_for_the_other_objectives_effect():
    """b's rise at its vertex is measured against its score at a's vertex, which a's strength moves: at full strength
    a's answers keep b's score as high as at b's own vertex (b does not steer), at 0.5 they lower it. a steers at both
    strengths (the same answers for a), so the search weakens a for b's sake: (0.5, 1)."""
    a_steers = {"a": [1.0, 0.9, 1.1, 1.0]}
    b_at_its_vertex = {"a": [0.0, 0.1, 0.0, 0.1], "b": [1.0, 1.1, 0.9, 1.0]}
    points_at = {
        1.0: [vertex_point(0, {**a_steers, "b": [1.0, 1.0, 1.0, 1.1]}), vertex_point(1, b_at_its_vertex)],
        0.5: [vertex_point(0, {**a_steers, "b": [0.1, 0.0, 0.2, 0.1]}), vertex_point(1, b_at_its_vertex)],
    }
    record, probed = search(points_at, [0.5])
    assert probed == [1.0, 0.5]
    assert record["objective_strengths"] == {"a": 0.5, "b": 1.0}
    assert record["probe"]["effects"]["b"]["effect"] == pytest.approx(1.0 - 0.1)


def test_a_scorer_that_returns_nan_counts_as_not_steering():
    """One NaN score at a's vertex at 0.5 makes that strength's t statistic -inf, so it cannot be chosen over a
    strength whose objectives steer."""
    at_b = vertex_point(1, {"a": [0.0, 0.0, 0.1, 0.0], "b": [1.0, 1.2, 0.9, 1.0]})
    points_at = {
        1.0: [vertex_point(0, {"a": [1, 1, 1, 1], "b": [0, 0, 0, 0]}, repetitive=0.75), at_b],
        0.5: [vertex_point(0, {"a": [1.0, math.nan, 1.2, 1.0], "b": [0, 0, 0, 0]}), at_b],
        0.25: [vertex_point(0, {"a": [0.6, 0.5, 0.7, 0.6], "b": [0, 0, 0, 0]}), at_b],
    }
    record, _ = search(points_at, [0.5, 0.25])
    assert record["objective_strengths"]["a"] == 0.25
    nan_entry = next(e for e in record["strengths_tried"] if e["objective_strengths"] == {"a": 0.5, "b": 1.0})
    assert nan_entry["probe_t_statistics"]["a"] is None  # -inf, written as None


def test_an_objective_that_steers_is_not_weakened_for_one_that_no_strength_makes_steer():
    """b falls at its vertex at every strength; weakening a lifts b's t statistic from -3.6 to -1.7 but drops a's
    from far above 2 to 1.1 (by hand: a's differences at 0.25 are 0.2, -0.1, 0.3, 0: mean 0.1, se 0.0913). The
    choice keeps the one objective that steers: (1, 1), not the least-bad (0.25, 1)."""
    at_b = vertex_point(1, {"a": [0.0, 0.0, 0.0, 0.0], "b": [0.3, 0.3, 0.4, 0.2]})
    points_at = {
        1.0: [vertex_point(0, {"a": [1.0, 0.8, 1.2, 1.0], "b": [0.5, 0.5, 0.5, 0.6]}), at_b],
        0.25: [vertex_point(0, {"a": [0.2, -0.1, 0.3, 0.0], "b": [0.35, 0.3, 0.45, 0.2]}), at_b],
    }
    record, _ = search(points_at, [0.25])
    assert record["objective_strengths"] == {"a": 1.0, "b": 1.0}
    weakened = next(e for e in record["strengths_tried"] if e["objective_strengths"] == {"a": 0.25, "b": 1.0})
    assert weakened["probe_t_statistics"]["a"] == pytest.approx(0.1 / 0.0912871, rel=1e-4)
    assert (
        weakened["probe_t_statistics"]["b"]
        > record["probe"]["effects"]["b"]["effect"] / (record["probe"]["effects"]["b"]["standard_error"])
    )  # the weaker a would have lifted b's statistic


def a_degenerate_at_every_strength(b_at_a_quarter: list[float]) -> dict[float, list[dict]]:
    """The probe's points where a's vertex loops at every strength (all its answers at 1, three quarters at 0.5, half
    at 0.25 and 0.125) and steers at each; b's scores at a's vertex at a quarter strength are `b_at_a_quarter`."""
    at_b = vertex_point(1, {"a": [0.0, 0.0, 0.0, 0.0], "b": [1.0, 1.2, 0.9, 1.0]})
    return {
        1.0: [vertex_point(0, {"a": [1, 1, 1, 1], "b": [0, 0, 0, 0]}, repetitive=1.0), at_b],
        0.5: [vertex_point(0, {"a": [1.0, 0.8, 1.2, 1.0], "b": [0, 0, 0, 0]}, repetitive=0.75), at_b],
        0.25: [vertex_point(0, {"a": [0.6, 0.4, 0.8, 0.6], "b": b_at_a_quarter}, repetitive=0.5), at_b],
        0.125: [vertex_point(0, {"a": [0.6, 0.4, 0.8, 0.6], "b": b_at_a_quarter}, repetitive=0.5), at_b],
    }  # at half the weakest strength, which the search probes too (a still degenerate), as at 0.25


def tried_with_b_at_full_strength(record: dict) -> dict[float, dict]:
    """The combinations tried with b at full strength, by a's strength."""
    return {
        entry["objective_strengths"]["a"]: entry
        for entry in record["strengths_tried"]
        if entry["objective_strengths"]["b"] == 1.0
    }


def test_an_objective_degenerate_at_every_strength_gets_the_strength_where_it_degenerates_least():
    """a's vertex is degenerate at both strengths (at least half its answers loop) and a steers at both; at 0.5 its
    rise is clearer (t 12.2 against 7.3 at 0.25), but three quarters of its answers loop there against half at 0.25.
    With as many degenerate vertices and steering objectives either way, the smaller degenerate share decides."""
    record, _ = search(a_degenerate_at_every_strength([0, 0, 0, 0]), [0.5, 0.25])
    assert record["objective_strengths"] == {"a": 0.25, "b": 1.0}
    tried = tried_with_b_at_full_strength(record)
    assert all(tried[level]["degenerate_at_vertex"] == ["a"] for level in (1.0, 0.5, 0.25))
    assert tried[0.5]["probe_t_statistics"]["a"] > tried[0.25]["probe_t_statistics"]["a"] > 2


def test_fewer_degenerate_answers_come_before_more_objectives_passing_the_probe():
    """a's vertex is degenerate at every strength, three quarters of its answers looping at 0.5 and half at 0.25. At
    0.5 its vertex also scores b low, so b passes the probe; at 0.25 a's answers score b as high as b's own vertex,
    and b does not. The strength where a degenerates least is chosen (0.25), not the one where both pass."""
    record, _ = search(a_degenerate_at_every_strength([1.0, 1.0, 1.0, 1.2]), [0.5, 0.25])
    assert record["objective_strengths"] == {"a": 0.25, "b": 1.0}
    tried = tried_with_b_at_full_strength(record)
    t_at = {strength: entry["probe_t_statistics"] for strength, entry in tried.items()}
    assert t_at[0.5]["a"] > 2 and t_at[0.5]["b"] > 2
    assert t_at[0.25]["a"] > 2 and t_at[0.25]["b"] < 2


def test_where_the_least_steering_objective_ties_the_stronger_combination_is_kept():
    """a's vertex repeats itself at full strength, so a is guided at 0.5. b's scores are the same at both its
    strengths (t = 0.15 / (0.238 / 2) = 1.26 either way: the least-steering objective ties); b's vertex at 0.5 lowers a
    there more, so a's t is larger with b at 0.5 (0.925 / (0.0957 / 2) = 19.3) than at full strength
    (0.45 / (0.1 / 2) = 9), but a passes either way: b keeps its full strength, (0.5, 1)."""
    a_vertex = {"a": [1.0, 0.9, 1.1, 1.0], "b": [0.0, 0.1, 0.0, 0.1]}
    b_scores = [0.3, 0.0, 0.4, 0.1]
    points_at = {
        1.0: [vertex_point(0, a_vertex, repetitive=0.75), vertex_point(1, {"a": [0.5, 0.4, 0.6, 0.7], "b": b_scores})],
        0.5: [vertex_point(0, a_vertex), vertex_point(1, {"a": [0.0, 0.1, 0.2, 0.0], "b": b_scores})],
    }
    record, _ = search(points_at, [0.5])
    assert record["objective_strengths"] == {"a": 0.5, "b": 1.0}
    tried = {tuple(entry["objective_strengths"].values()): entry["probe_t_statistics"] for entry in
             record["strengths_tried"]}  # fmt: skip
    assert tried[(0.5, 1.0)]["b"] == pytest.approx(tried[(0.5, 0.5)]["b"]) == pytest.approx(1.26, abs=0.01)
    assert tried[(0.5, 0.5)]["a"] == pytest.approx(19.3, abs=0.1) and tried[(0.5, 1.0)]["a"] == pytest.approx(9.0)


def b_rising_by(rise_at_half: float) -> dict[float, list[dict]]:
    """Probe points where a steers at both strengths and b rises at its vertex by 0.3 (spread 0.2 over the prompts)
    at full strength and by `rise_at_half` (the same spread) at half strength: b's t statistic, 0.3 / (0.2 / 2) = 3
    at full strength, is the least either way."""
    a_steers = {"a": [1.0, 0.9, 1.1, 1.0], "b": [0.0, 0.0, 0.0, 0.0]}
    spread = [0.2, -0.2, 0.2, -0.2]  # sample standard deviation 0.2309, standard error 0.1155
    b_vertex = {rise: {"a": [0.0] * 4, "b": [rise + step for step in spread]} for rise in (0.3, rise_at_half)}
    return {
        1.0: [vertex_point(0, a_steers), vertex_point(1, b_vertex[0.3])],
        0.5: [vertex_point(0, a_steers), vertex_point(1, b_vertex[rise_at_half])],
    }


@pytest.mark.parametrize(("rise_at_half", "b_strength"), [(0.4, 1.0), (0.45, 0.5)])
def test_a_weaker_strength_must_raise_the_least_t_statistic_by_one_to_be_chosen(rise_at_half, b_strength):
    """b's probe t statistic is 0.3 / 0.1155 = 2.60 at full strength; at half strength 0.4 / 0.1155 = 3.46 (a gain of
    0.87, within the probe's noise: b keeps full strength) or 0.45 / 0.1155 = 3.90 (a gain of 1.30: b is weakened).
    Both pass at full strength, where the search would not probe further, so the choice is given both strengths."""
    record = choose_strengths(OBJECTIVES, b_rising_by(rise_at_half), record_of)
    assert record["objective_strengths"] == {"a": 1.0, "b": b_strength}
    tried = {tuple(entry["objective_strengths"].values()): entry["probe_t_statistics"] for entry in
             record["strengths_tried"]}  # fmt: skip
    standard_error = 0.2309401 / 2
    assert tried[(1.0, 1.0)]["b"] == pytest.approx(0.3 / standard_error, rel=1e-5)
    assert tried[(1.0, 0.5)]["b"] == pytest.approx(rise_at_half / standard_error, rel=1e-5)
    gain = (rise_at_half - 0.3) / standard_error
    assert (gain >= MIN_T_GAIN_FOR_WEAKER) == (b_strength == 0.5)


def test_an_objective_whose_vertex_answers_with_no_word_is_weakened_where_the_check_finds_none():
    """a steers in the probe at every strength, but at full strength the empty-answer check finds 3 of 16 answers at
    its vertex with no word (at least a tenth): the flag probes the weaker strengths, and a is guided at 0.5, where
    the check finds one in 16 (below a tenth), rather than at full strength."""
    steering = {"a": [1.0, 0.9, 1.1, 1.0], "b": [0.0, 0.1, 0.0, 0.1]}
    at_vertex_b = {"a": [0.0, 0.1, 0.2, 0.0], "b": [1.0, 1.2, 0.9, 1.0]}

    def checked(point: dict, empty: float) -> dict:
        return {**point, "empty_answer_check": {"prompts": 16, "new_tokens": 8, "empty": 0.0, "wordless": empty}}

    points_at = {
        strength: [checked(vertex_point(0, steering), empty), checked(vertex_point(1, at_vertex_b), 0.0)]
        for strength, empty in ((1.0, 3 / 16), (0.5, 1 / 16))
    }
    record, probed = search(points_at, [0.5])
    assert probed == [1.0, 0.5]
    assert record["objective_strengths"] == {"a": 0.5, "b": 1.0}
    full = next(e for e in record["strengths_tried"] if e["objective_strengths"] == {"a": 1.0, "b": 1.0})
    assert full["degenerate_at_vertex"] == ["a"]
    chosen = next(item for item in record["objectives"] if item["objective"] == "a")
    assert chosen["flags"] == [] and chosen["empty_answer_share_at_vertex"] == pytest.approx(1 / 16)


def test_an_objective_the_probe_cannot_tell_at_any_strength_is_not_weakened_for_the_others_sake():
    """a is a feature the answers rarely show: one of four probe answers at its vertex at full strength, none at 0.5
    (its largest t statistic is at most sqrt(1 * 3 / 3) = 1 < 2: `probe_cannot_tell` everywhere). At full strength a's
    answers score b as high as b's own vertex, at 0.5 they do not, so weakening a would make b pass; the search keeps
    a at full strength instead, since the probe has no reading of what a weaker a costs a."""
    at_b = vertex_point(1, {"a": [0.0, 0.0, 0.0, 0.0], "b": [1.0, 1.1, 0.9, 1.0]})
    points_at = {
        1.0: [vertex_point(0, {"a": [0.0, 0.0, 0.0, 0.5], "b": [1.0, 1.0, 1.0, 1.1]}), at_b],
        0.5: [vertex_point(0, {"a": [0.0, 0.0, 0.0, 0.0], "b": [0.1, 0.0, 0.2, 0.1]}), at_b],
    }
    record, probed = search(points_at, [0.5])
    assert probed == [1.0, 0.5]
    assert record["objective_strengths"] == {"a": 1.0, "b": 1.0}
    assert record["objectives"][0]["flags"] == ["probe_cannot_tell"]
    weakened = next(e for e in record["strengths_tried"] if e["objective_strengths"] == {"a": 0.5, "b": 1.0})
    assert weakened["probe_t_statistics"]["b"] > 2 > record["strengths_tried"][0]["probe_t_statistics"]["b"]


def test_an_objective_the_probe_cannot_tell_is_still_weakened_where_its_vertex_degenerates():
    """The same rare feature, but a's answers loop at full strength: fewer degenerate vertices come first, so a is
    weakened all the same."""
    b_at_its_vertex = {"a": [0.0, 0.0, 0.0, 0.0], "b": [1.0, 1.1, 0.9, 1.0]}
    a_vertex = {"a": [0.0, 0.0, 0.0, 0.5], "b": [0.1, 0.0, 0.2, 0.1]}
    points_at = {
        1.0: [vertex_point(0, a_vertex, repetitive=0.75), vertex_point(1, b_at_its_vertex)],
        0.5: [vertex_point(0, a_vertex), vertex_point(1, b_at_its_vertex)],
    }
    record, _ = search(points_at, [0.5])
    assert record["objective_strengths"] == {"a": 0.5, "b": 1.0}
    assert "probe_cannot_tell" in record["objectives"][0]["flags"]


def test_an_objective_the_probe_can_judge_at_a_weaker_strength_may_be_weakened():
    """a's answers show it on one of four prompts at full strength, but on all four at 0.5, where it rises clearly
    and b passes too: the probe can judge a there, so the search weakens it as before."""
    at_b = vertex_point(1, {"a": [0.0, 0.0, 0.0, 0.0], "b": [1.0, 1.1, 0.9, 1.0]})
    points_at = {
        1.0: [vertex_point(0, {"a": [0.0, 0.0, 0.0, 0.5], "b": [1.0, 1.0, 1.0, 1.1]}), at_b],
        0.5: [vertex_point(0, {"a": [0.4, 0.5, 0.6, 0.5], "b": [0.1, 0.0, 0.2, 0.1]}), at_b],
    }
    record, _ = search(points_at, [0.5])
    assert record["objective_strengths"] == {"a": 0.5, "b": 1.0}
    assert record["objectives"][0]["flags"] == []


RARE_A_AT_ITS_VERTEX = {"a": [0.0, 0.0, 0.0, 0.5], "b": [0.1, 0.0, 0.2, 0.1]}  # a shows on one prompt of four
B_AT_ITS_VERTEX = {"a": [0.0, 0.0, 0.0, 0.0], "b": [1.0, 1.1, 0.9, 1.0]}


def test_stronger_strengths_are_probed_only_where_the_probe_cannot_judge_an_objective():
    """Both objectives steer clearly at full strength: neither weaker nor stronger strengths are probed."""
    steering = [
        vertex_point(0, {"a": [1.0, 0.9, 1.1, 1.0], "b": [0.0, 0.1, 0.0, 0.1]}),
        vertex_point(1, {"a": [0.0, 0.1, 0.2, 0.0], "b": [1.0, 1.2, 0.9, 1.0]}),
    ]
    record, probed = search({1.0: steering}, [0.5], [2.0])
    assert probed == [1.0]
    assert record["objective_strengths"] == {"a": 1.0, "b": 1.0}


def test_an_objective_the_probe_cannot_judge_at_any_strength_is_guided_at_the_strongest():
    """a is a rare feature the probe sees on one prompt of four at full strength and at twice it (t at most
    sqrt(1 * 3 / 3) = 1 < 2, `probe_cannot_tell`): it is guided at 2, the strongest probed; b, which the probe
    judges, is not taken above full strength although its t statistic would be as large there."""
    points_at = {
        1.0: [vertex_point(0, RARE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        0.5: [vertex_point(0, RARE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        2.0: [vertex_point(0, {**RARE_A_AT_ITS_VERTEX, "a": [0.0, 0.0, 0.0, 1.0]}), vertex_point(1, B_AT_ITS_VERTEX)],
    }
    record, probed = search(points_at, [0.5], [2.0])
    assert probed == [1.0, 0.5, 2.0]
    assert record["objective_strengths"] == {"a": 2.0, "b": 1.0}
    assert record["objectives"][0]["flags"] == ["probe_cannot_tell"]
    assert {entry["objective_strengths"]["b"] for entry in record["strengths_tried"]} == {1.0, 0.5}
    assert len(record["strengths_tried"]) == 3 * 2


def test_a_rare_objective_whose_vertex_degenerates_when_stronger_keeps_full_strength():
    """The same rare feature, but a's answers loop at twice its strength: fewer degenerate vertices come first, and
    of the strengths left the strongest, full strength, is a's."""
    points_at = {
        1.0: [vertex_point(0, RARE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        0.5: [vertex_point(0, RARE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        2.0: [vertex_point(0, RARE_A_AT_ITS_VERTEX, repetitive=0.75), vertex_point(1, B_AT_ITS_VERTEX)],
    }
    record, _ = search(points_at, [0.5], [2.0])
    assert record["objective_strengths"] == {"a": 1.0, "b": 1.0}


def test_a_rare_objective_the_probe_judges_when_stronger_takes_the_strength_that_steers_best():
    """At twice its strength a shows on every probe prompt and rises clearly, so the probe judges it there: a is no
    longer blind, and the search picks its strength by the probe, here 2 (a passes; at 1 or 0.5 it cannot)."""
    points_at = {
        1.0: [vertex_point(0, RARE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        0.5: [vertex_point(0, RARE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        2.0: [
            vertex_point(0, {"a": [0.4, 0.5, 0.6, 0.5], "b": [0.1, 0.0, 0.2, 0.1]}),
            vertex_point(1, B_AT_ITS_VERTEX),
        ],
    }
    record, _ = search(points_at, [0.5], [2.0])
    assert record["objective_strengths"] == {"a": 2.0, "b": 1.0}
    assert record["objectives"][0]["flags"] == []


def test_an_objective_seen_only_when_stronger_is_not_weakened_out_of_the_probes_sight():
    """a shows on one probe prompt of four at full strength and at half (`probe_cannot_tell`), on all four at twice
    its strength, where it rises by less than two standard errors. Weakening a to 0.5 would let b pass (a's answers
    there score b low), but the probe could not see a there: the search keeps a where the probe judges it, at 2."""
    a_rare_scoring_b_high = {"a": [0.0, 0.0, 0.0, 0.5], "b": [1.0, 1.0, 1.0, 1.1]}
    points_at = {
        1.0: [vertex_point(0, a_rare_scoring_b_high), vertex_point(1, B_AT_ITS_VERTEX)],
        0.5: [vertex_point(0, RARE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        2.0: [
            vertex_point(0, {"a": [0.5, -0.3, 0.4, -0.2], "b": [1.0, 1.0, 1.0, 1.1]}),
            vertex_point(1, B_AT_ITS_VERTEX),
        ],
    }
    record, _ = search(points_at, [0.5], [2.0])
    assert record["objective_strengths"] == {"a": 2.0, "b": 1.0}
    weakened = next(e for e in record["strengths_tried"] if e["objective_strengths"] == {"a": 0.5, "b": 1.0})
    assert (
        weakened["probe_t_statistics"]["b"]
        > 2
        > max(e["probe_t_statistics"]["b"] for e in record["strengths_tried"] if e["objective_strengths"]["a"] == 2.0)
    )


def test_an_objective_the_probe_judges_is_not_weakened_out_of_its_sight_for_the_others_sake():
    """At full strength a rises clearly on every probe prompt, but its answers score b as high as b's own vertex, so
    b's probe falls; at 0.5 a shows on one prompt of four (`probe_cannot_tell`) and b passes. Weakening a would trade a
    rise the probe sees for one it cannot: the search keeps a at full strength."""
    at_b = vertex_point(1, B_AT_ITS_VERTEX)
    points_at = {
        1.0: [vertex_point(0, {"a": [0.5, 0.6, 0.4, 0.5], "b": [1.0, 1.0, 1.0, 1.1]}), at_b],
        0.5: [vertex_point(0, RARE_A_AT_ITS_VERTEX), at_b],
    }
    record, probed = search(points_at, [0.5])
    assert probed == [1.0, 0.5]
    assert record["objective_strengths"] == {"a": 1.0, "b": 1.0}
    weakened = next(e for e in record["strengths_tried"] if e["objective_strengths"] == {"a": 0.5, "b": 1.0})
    assert weakened["probe_t_statistics"]["b"] > 2 > weakened["probe_t_statistics"]["a"]
    assert (
        record["strengths_tried"][0]["probe_t_statistics"]["a"]
        > 2
        > record["strengths_tried"][0]["probe_t_statistics"]["b"]
    )


def test_a_rare_objective_at_its_strongest_strength_does_not_weaken_the_other_to_be_seen():
    """a shows on one probe prompt of four at each of its strengths while b is at full strength; b's vertex at 0.5
    happens to vary a's feature on three prompts, so the probe sees a (not rising) wherever b is weakened. a is guided
    at 2, the strongest probed: nothing stronger would show it, so it is not out of sight there, and b, which steers at
    full strength, is not weakened to make a visible (at (2, 0.5) a's t statistic is 0, at (2, 1) it is 1)."""
    a_vertex = {"a": [0.0, 0.0, 0.0, 0.5], "b": [0.1, 0.0, 0.2, 0.1]}
    b_vertex_weaker = {"a": [0.2, 0.3, 0.0, 0.0], "b": [0.9, 1.0, 1.0, 0.8]}
    points_at = {
        1.0: [vertex_point(0, a_vertex), vertex_point(1, B_AT_ITS_VERTEX)],
        0.5: [vertex_point(0, a_vertex), vertex_point(1, b_vertex_weaker)],
        2.0: [vertex_point(0, a_vertex), vertex_point(1, B_AT_ITS_VERTEX)],
    }
    record, probed = search(points_at, [0.5], [2.0])
    assert probed == [1.0, 0.5, 2.0]
    assert record["objective_strengths"] == {"a": 2.0, "b": 1.0}
    weakened = next(e for e in record["strengths_tried"] if e["objective_strengths"] == {"a": 2.0, "b": 0.5})
    assert weakened["probe_t_statistics"]["a"] == pytest.approx(0.0, abs=1e-9)
    assert record["probe"]["effects"]["a"]["prompts_that_differ"] == 1


INCONCLUSIVE_A_AT_ITS_VERTEX = {"a": [0.3, -0.1, 0.2, 0.0], "b": [0.1, 0.0, 0.2, 0.1]}  # t = 0.1 / (0.1826 / 2)


def inconclusive_a_passing_at_twice_its_strength() -> dict[float, list[dict]]:
    """a inconclusive at full and half strength, rising clearly at twice; b steering at every strength."""
    return {
        1.0: [vertex_point(0, INCONCLUSIVE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        0.5: [vertex_point(0, INCONCLUSIVE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        2.0: [
            vertex_point(0, {"a": [0.4, 0.5, 0.6, 0.5], "b": [0.1, 0.0, 0.2, 0.1]}),
            vertex_point(1, B_AT_ITS_VERTEX),
        ],
    }


def test_an_objective_the_probe_finds_inconclusive_is_guided_stronger_where_it_then_passes():
    """a rises at its vertex by less than two standard errors at full strength and at half (by hand: differences
    0.3, -0.1, 0.2, 0 against b's vertex, t = 1.10, `probe_inconclusive`); at twice its strength it rises clearly. The
    stronger strength is probed and chosen for a, and b, which steers, stays at full strength."""
    points_at = inconclusive_a_passing_at_twice_its_strength()
    record, probed = search(points_at, [0.5], [2.0])
    assert probed == [1.0, 0.5, 2.0]
    full = next(e for e in record["strengths_tried"] if e["objective_strengths"] == {"a": 1.0, "b": 1.0})
    assert full["probe_t_statistics"]["a"] == pytest.approx(0.1 / (math.sqrt(0.1 / 3) / 2))
    assert record["objective_strengths"] == {"a": 2.0, "b": 1.0}
    assert record["objectives"][0]["flags"] == []
    assert {entry["objective_strengths"]["b"] for entry in record["strengths_tried"]} == {1.0, 0.5}


def test_an_inconclusive_objective_the_parm_barely_learned_is_not_guided_stronger_but_flagged_not_learned():
    """The a of the test above, with a training margin below `LEARNED_MARGIN`: twice its strength would pass the probe,
    but it is neither probed nor chosen there, and a stays flagged, `not_learned` among its flags (the longer training
    it asks for is the remedy). With a margin at the threshold it is guided stronger as above."""
    points_at = inconclusive_a_passing_at_twice_its_strength()

    def searched_with_margin(margin_of_a: float) -> tuple[dict, list[float]]:
        def record_with_margins(points: list[dict]) -> dict:
            return diagnosis_record(OBJECTIVES, PROMPTS, points, ({}, {}), {"a": margin_of_a, "b": 5.0})

        return search(points_at, [0.5], [2.0], record_with_margins)

    record, probed = searched_with_margin(0.26)
    assert probed == [1.0, 0.5]
    assert record["objective_strengths"] == {"a": 1.0, "b": 1.0}
    assert "not_learned" in record["objectives"][0]["flags"]
    record, probed = searched_with_margin(LEARNED_MARGIN)
    assert probed == [1.0, 0.5, 2.0] and record["objective_strengths"] == {"a": 2.0, "b": 1.0}


def test_an_inconclusive_objective_no_stronger_strength_helps_keeps_full_strength():
    """The same a, as inconclusive at twice its strength: a stronger guidance that gains nothing is not taken."""
    points_at = {
        1.0: [vertex_point(0, INCONCLUSIVE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        0.5: [vertex_point(0, INCONCLUSIVE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
        2.0: [vertex_point(0, INCONCLUSIVE_A_AT_ITS_VERTEX), vertex_point(1, B_AT_ITS_VERTEX)],
    }
    record, probed = search(points_at, [0.5], [2.0])
    assert probed == [1.0, 0.5, 2.0]
    assert record["objective_strengths"] == {"a": 1.0, "b": 1.0}
    assert record["objectives"][0]["flags"] == ["probe_inconclusive"]


def test_an_objective_whose_vertex_leaves_the_bases_language_is_weakened_to_where_it_stays():
    """a steers at full strength, but its vertex's answers are 4.3 nats a token less likely to the base than the
    base's own (0.7): word salad, flagged `off_language_at_vertex`, so the search probes 0.5 too, where a's vertex is
    fluent (1.2) and still rises; b keeps full strength. Without the base's reference nothing is flagged and the
    adapter stays as trained."""

    def points(a_nll: float, a_share: float) -> list[dict]:
        a_vertex = vertex_point(0, {"a": [1.0, 0.9, 1.1, 1.0], "b": [0.0, 0.1, 0.0, 0.1]})
        a_vertex["quality"].update(base_nll=a_nll, off_language=a_share)
        b_vertex = vertex_point(1, {"a": [0.0, 0.1, 0.2, 0.0], "b": [1.0, 1.2, 0.9, 1.0]})
        b_vertex["quality"].update(base_nll=0.9, off_language=0.0)
        return [a_vertex, b_vertex]

    points_at = {1.0: points(5.0, 0.75), 0.5: points(1.2, 0.0)}

    def with_reference(vertices: list[dict]) -> dict:
        return diagnosis_record(OBJECTIVES, PROMPTS, vertices, ({}, {}), unguided={"texts": [], "base_nll": 0.7})

    record, probed = search(points_at, [0.5], record=with_reference)
    assert probed == [1.0, 0.5]
    assert record["objective_strengths"] == {"a": 0.5, "b": 1.0}
    tried = {tuple(entry["objective_strengths"].values()): entry for entry in record["strengths_tried"]}
    assert tried[(1.0, 1.0)]["degenerate_at_vertex"] == ["a"] and tried[(0.5, 1.0)]["degenerate_at_vertex"] == []
    assert record["probe"]["unguided"]["base_nll"] == 0.7
    a = next(item for item in record["objectives"] if item["objective"] == "a")
    assert a["base_nll_gap_at_vertex"] == pytest.approx(0.5) and a["steers"]
    unreferenced, probed = search(points_at, [0.5])
    assert probed == [1.0] and unreferenced["objective_strengths"] == {"a": 1.0, "b": 1.0}


def test_a_vertex_still_degenerate_at_the_weakest_strength_is_probed_once_more_at_half_of_it():
    """a's vertex repeats itself alike at 1, 0.5 and 0.25 and steers cleanly at 0.125: with a's vertex flagged at the
    strengths chosen among those given, the search probes every vertex once more at 0.125, half the weakest, and
    chooses it there; b, clean at full strength, stays there. Where a's vertex is clean at 0.25 the search stops at
    the strengths it was given; where it is degenerate at 0.125 too, a gets the least degenerate strength probed (the
    strongest where they tie)."""
    b_steers = vertex_point(1, {"a": [0.0, 0.1, 0.0, 0.1], "b": [1.0, 1.1, 0.9, 1.0]})
    looping = {"a": [1.0, 0.9, 1.1, 1.0], "b": [0.0, 0.1, 0.0, 0.0]}
    points_at = {level: [vertex_point(0, looping, repetitive=0.75), b_steers] for level in (1.0, 0.5, 0.25)}
    points_at[0.125] = [vertex_point(0, looping), b_steers]
    record, probed = search(points_at, [0.5, 0.25])
    assert probed == [1.0, 0.5, 0.25, 0.125]
    assert record["objective_strengths"] == {"a": 0.125, "b": 1.0}
    assert all(item["flags"] == [] for item in record["objectives"])
    points_at[0.25] = points_at[0.125]  # clean at the weakest strength given: nothing more to probe
    record, probed = search(points_at, [0.5, 0.25])
    assert probed == [1.0, 0.5, 0.25] and record["objective_strengths"] == {"a": 0.25, "b": 1.0}
    points_at[0.25] = points_at[0.5]
    points_at[0.125] = [vertex_point(0, looping, repetitive=0.6), b_steers]  # still degenerate, but less
    record, probed = search(points_at, [0.5, 0.25])
    assert probed == [1.0, 0.5, 0.25, 0.125] and record["objective_strengths"]["a"] == 0.125
    assert [item["flags"] for item in record["objectives"]] == [["degenerate_at_vertex"], []]
    points_at[0.125] = points_at[0.5]  # as degenerate as at every other strength: the strongest of them
    record, probed = search(points_at, [0.5, 0.25])
    assert probed == [1.0, 0.5, 0.25, 0.125] and record["objective_strengths"]["a"] == 1.0
