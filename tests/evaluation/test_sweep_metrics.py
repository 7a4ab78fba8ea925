"""The sweep metrics against hand-computed values: steering effects, the sweep summary and response quality."""

from __future__ import annotations

import numpy as np
import pytest

from peft_pblora.evaluation import (
    content_words,
    is_repetitive,
    levels_off,
    response_quality,
    rises_late,
    spearman_over_resampled_prompts,
    steepest_falls,
    steering_effects,
    steering_verdict,
    summarise_sweep,
)
from peft_pblora.evaluation.steering_verdicts import lifted_by_other_objectives
from peft_pblora.evaluation.weight_curves import base_at_highest_score, leaves_little_room


def test_steering_effect_is_the_paired_vertex_difference_by_hand():
    sweep = {
        "objectives": ["a", "b"],
        "points": [
            {"alpha": [1.0, 0.0], "per_prompt": {"a": [3.0, 5.0], "b": [0.0, 0.0]}},
            {"alpha": [0.5, 0.5], "per_prompt": {"a": [9.0, 9.0], "b": [9.0, 9.0]}},
            {"alpha": [0.0, 1.0], "per_prompt": {"a": [1.0, 1.0], "b": [2.0, 6.0]}},
        ],
    }
    effects = steering_effects(sweep)
    assert effects["a"] == {"effect": 3.0, "standard_error": pytest.approx(1.0)}  # differences 2 and 4
    assert effects["b"] == {"effect": 4.0, "standard_error": pytest.approx(2.0)}  # differences 2 and 6
    sweep["base"] = {"per_prompt": {"a": [4.0, 4.0], "b": [1.0, 1.0]}}
    with_base = steering_effects(sweep)
    assert with_base["a"]["gain_over_base"] == {"effect": 0.0, "standard_error": pytest.approx(1.0)}  # -1 and 1
    assert with_base["b"]["gain_over_base"] == {"effect": 3.0, "standard_error": pytest.approx(2.0)}  # 1 and 5
    # where its weight is 0: a at b's vertex [1, 1] - [4, 4]; b at a's vertex [0, 0] - [1, 1]
    assert with_base["a"]["gain_over_base_at_weight_zero"] == {"effect": -3.0, "standard_error": 0.0}
    assert with_base["b"]["gain_over_base_at_weight_zero"] == {"effect": -1.0, "standard_error": 0.0}
    assert not any(map(lifted_by_other_objectives, with_base.values()))
    sweep["base"]["per_prompt"]["b"] = [-1.0, -2.0]  # a's guidance raises b by 1 and 2 (mean 1.5, se 0.5)
    lifted = steering_effects(sweep)["b"]
    assert lifted["gain_over_base_at_weight_zero"] == {"effect": 1.5, "standard_error": pytest.approx(0.5)}
    assert lifted_by_other_objectives(lifted) and not lifted_by_other_objectives(effects["b"])  # no base: not lifted


def test_with_three_objectives_the_gain_at_weight_zero_averages_the_face_opposite_the_vertex():
    def point(alpha: list[float], a: list[float]) -> dict:
        return {"alpha": alpha, "per_prompt": {"a": a, "b": [0.0, 0.0], "c": [0.0, 0.0]}}

    sweep = {
        "objectives": ["a", "b", "c"],
        "points": [
            point([1.0, 0.0, 0.0], [5.0, 7.0]),
            point([0.0, 1.0, 0.0], [4.0, 6.0]),  # b's guidance raises a by 2 and 4 over the base
            point([0.0, 0.5, 0.5], [2.0, 2.0]),
            point([0.0, 0.0, 1.0], [0.0, 2.0]),  # c's lowers it by 2 and 0
            point([0.5, 0.5, 0.0], [9.0, 9.0]),  # a has weight there: not on the face
        ],
        "base": {"per_prompt": {"a": [2.0, 2.0], "b": [0.0, 0.0], "c": [0.0, 0.0]}},
    }
    a = steering_effects(sweep)["a"]
    # per prompt, the face's mean: (4 + 2 + 0) / 3 = 2 and (6 + 2 + 2) / 3 = 10 / 3
    assert a["gain_over_base_at_weight_zero"]["effect"] == pytest.approx((0.0 + 4.0 / 3.0) / 2)
    assert a["gain_over_base_at_weight_zero"]["standard_error"] == pytest.approx(2.0 / 3.0)  # sd of (0, 4/3) / sqrt 2
    assert a["effect"] == pytest.approx(((5.0 - 2.0) + (7.0 - 10.0 / 3.0)) / 2)


def test_sweep_summary_resamples_the_prompts_of_each_objective_with_a_trend():
    per_prompt = {"a": [[3.0, 5.0, 4.0], [2.0, 6.0, 1.0], [1.0, 1.0, 2.0]], "b": [[0.0] * 3, [0.0] * 3, [0.0] * 3]}
    alphas = [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    points = [
        {"alpha": alpha, "per_prompt": {name: per_prompt[name][index] for name in per_prompt}}
        | {"scores": {name: float(np.mean(per_prompt[name][index])) for name in per_prompt}}
        for index, alpha in enumerate(alphas)
    ]
    sweep = {"objectives": ["a", "b"], "alphas": alphas, "points": points, "base": {"scores": {"a": 0.0, "b": 0.0}}}
    summary = summarise_sweep(sweep)
    assert summary["spearman_score_vs_weight"] == {"a": pytest.approx(1.0), "b": None}
    assert list(summary["spearman_over_resampled_prompts"]) == ["a"]  # b is constant: nothing to rank
    # a: vertex [3, 5, 4] against [1, 1, 2], differences 2, 4, 2 (mean 8/3, se 2/3): steers; b never moves
    assert summary["steering_verdict"] == {"a": "steers", "b": "does_not_move"}
    assert summary["spearman_over_resampled_prompts"]["a"] == spearman_over_resampled_prompts(
        [1.0, 0.5, 0.0], per_prompt["a"]
    )


def test_steepest_fall_is_the_clearest_paired_fall_to_a_higher_weight_by_hand():
    # a's curve peaks at weight 0.5 and falls back at its vertex; b rises everywhere
    sweep = {
        "objectives": ["a", "b"],
        "points": [
            {"alpha": [1.0, 0.0], "per_prompt": {"a": [1.0, 2.0, 0.0], "b": [0.0, 0.0, 0.0]}},
            {"alpha": [0.5, 0.5], "per_prompt": {"a": [5.0, 5.0, 6.0], "b": [1.0, 1.0, 1.0]}},
            {"alpha": [0.0, 1.0], "per_prompt": {"a": [0.0, 1.0, 0.0], "b": [2.0, 3.0, 2.0]}},
        ],
    }
    falls = steepest_falls(sweep)
    # a, weight 0.5 -> 1: differences 4, 3, 6 (mean 13/3, sd sqrt(7/3)); 0 -> 1 rises, 0 -> 0.5 rises
    assert falls["a"] == {
        "from_weight": 0.5,
        "to_weight": 1.0,
        "fall": pytest.approx(13 / 3),
        "standard_error": pytest.approx(np.sqrt(7 / 3) / np.sqrt(3)),
    }
    assert falls["b"] is None
    assert steering_verdict(0.5, 1.0 / 3, 0.33, falls["a"]) == "falls_with_more_weight"
    assert steering_verdict(0.5, 1.0 / 3, 0.33, None) == "within_noise"


def test_steepest_fall_averages_the_points_that_share_a_weight():
    per_prompt = {  # three objectives: weight 0 of c is two points, whose mean is compared
        (1.0, 0.0, 0.0): [4.0, 6.0],
        (0.0, 1.0, 0.0): [2.0, 2.0],
        (0.0, 0.0, 1.0): [1.0, 2.0],
    }
    sweep = {
        "objectives": ["a", "b", "c"],
        "points": [
            {"alpha": list(alpha), "per_prompt": {name: values for name in ("a", "b", "c")}}
            for alpha, values in per_prompt.items()
        ],
    }
    # c at weight 0: prompts (4 + 2) / 2 = 3 and (6 + 2) / 2 = 4; at weight 1: 1 and 2: falls 2 and 2
    assert steepest_falls(sweep)["c"] == {
        "from_weight": 0.0,
        "to_weight": 1.0,
        "fall": pytest.approx(2.0),
        "standard_error": pytest.approx(0.0),
    }
    assert steering_verdict(-1.0, -2.0, 0.0, steepest_falls(sweep)["c"]) == "against_its_weight"  # the stronger claim


def ceiling_sweep(a_per_weight: dict[float, list[float]]) -> dict:
    """A two-objective sweep whose first objective scores `a_per_weight` over three prompts at each of its weights,
    and whose second rises at every step up to its vertex."""
    points = []
    for weight, a in a_per_weight.items():
        b = [1.0 - weight] * 3
        per_prompt = {"a": a, "b": b}
        scores = {name: float(np.mean(values)) for name, values in per_prompt.items()}
        points.append({"alpha": [weight, 1.0 - weight], "per_prompt": per_prompt, "scores": scores})
    alphas = [point["alpha"] for point in points]
    return {"objectives": ["a", "b"], "alphas": alphas, "points": points, "base": {"scores": {"a": 0.0, "b": 0.0}}}


AT_ITS_CEILING_FROM_HALF = {  # means 1/3, 4/3, 3, 2.9, 2.95: Spearman 0.7
    0.0: [0.0, 1.0, 0.0],
    0.25: [1.0, 2.0, 1.0],
    0.5: [3.0, 3.0, 3.0],
    0.75: [3.2, 2.6, 2.9],
    1.0: [3.3, 2.7, 2.85],
}


def test_base_at_highest_score_is_the_share_of_prompts_where_the_unguided_answer_reaches_the_sweeps_top_by_hand():
    sweep = {
        "objectives": ["plain", "rare", "flat"],
        "points": [
            {
                "alpha": [1.0, 0.0, 0.0],
                "per_prompt": {"plain": [1.0, 0.8, 1.0, 0.6], "rare": [0, 2, 0, 0], "flat": [1] * 4},
            },
            {
                "alpha": [0.0, 1.0, 0.0],
                "per_prompt": {"plain": [0.9, 1.0, 0.7, 0.6], "rare": [0, 3, 1, 0], "flat": [1] * 4},
            },
        ],
        "base": {"per_prompt": {"plain": [1.0, 1.0, 0.9, 1.0], "rare": [0, 0, 0, 0], "flat": [1] * 4}},
    }
    found = base_at_highest_score(sweep)
    # plain: top 1.0, reached unguided on prompts 0, 1 and 3; rare: top 3, never reached unguided (its ties at the
    # lowest score do not count); flat: every answer scores alike, so it has no top to reach
    assert found == {"plain": {"highest_score": 1.0, "share": 0.75}, "rare": {"highest_score": 3.0, "share": 0.0}}
    assert leaves_little_room(found["plain"]) and not leaves_little_room(found["rare"])
    assert not leaves_little_room(None)
    sweep["base"]["per_prompt"]["plain"] = [1.0, 0.5, 0.9, 0.5]  # one prompt in four: not most
    assert not leaves_little_room(base_at_highest_score(sweep)["plain"])
    del sweep["base"]  # a sweep without the base's per-prompt scores
    assert base_at_highest_score(sweep) == {}


def test_levels_off_is_the_peak_below_the_top_weight_after_a_rise_at_every_step_by_hand():
    levels = levels_off(ceiling_sweep(AT_ITS_CEILING_FROM_HALF))
    # weight 0.5 against 0: differences 3, 2, 3 (mean 8/3, sd sqrt(1/3))
    assert levels["a"] == {
        "at_weight": 0.5,
        "score": pytest.approx(3.0),
        "rise": pytest.approx(8 / 3),
        "standard_error": pytest.approx(np.sqrt(1 / 3) / np.sqrt(3)),
    }
    assert levels["b"] is None  # it peaks at its top weight: it never levels off


@pytest.mark.parametrize(
    "change, why_not",
    [
        ({0.25: [0.0, 0.0, 0.0]}, "it falls from weight 0 to 0.25: not a rise at every step"),
        ({1.0: [3.3, 3.3, 3.3]}, "its peak is its top weight"),
        (
            {0.0: [0.0, 2.0, 0.0], 0.25: [0.2, 2.3, 0.2], 0.5: [2.0, 0.0, 1.5], 0.75: [1.0, 0.5, 1.0], 1.0: [1.0] * 3},
            "its rise to the peak at 0.5 (differences 2, -2, 1.5) is within two standard errors",
        ),
    ],
)
def test_a_score_that_dips_before_its_peak_peaks_at_the_top_or_rises_within_noise_does_not_level_off(change, why_not):
    assert levels_off(ceiling_sweep(AT_ITS_CEILING_FROM_HALF | change))["a"] is None, why_not


def test_an_objective_at_its_ceiling_from_half_its_weight_levels_off_rather_than_not_monotone():
    summary = summarise_sweep(ceiling_sweep(AT_ITS_CEILING_FROM_HALF))
    assert summary["spearman_score_vs_weight"]["a"] == pytest.approx(0.7)
    # the fall from 0.5 to 0.75 (0.1 +/- 0.17) is within noise, so the score stays near its peak above 0.5
    assert summary["steepest_fall"]["a"]["fall"] < 2 * summary["steepest_fall"]["a"]["standard_error"]
    assert summary["steering_verdict"] == {"a": "levels_off", "b": "steers"}
    effect, fall = summary["steering_effect"]["a"], summary["steepest_fall"]["a"]
    assert steering_verdict(0.7, effect["effect"], effect["standard_error"], fall) == "not_monotone"  # without it


AT_ITS_LOWEST_LEVEL_UP_TO_HALF = {  # means 1, 1, 1, 11, 21: Spearman 8 / sqrt(80) = 0.89
    0.0: [0.0, 1.0, 2.0],
    0.25: [1.0, 0.0, 2.0],
    0.5: [0.0, 2.0, 1.0],
    0.75: [10.0, 11.0, 12.0],
    1.0: [20.0, 21.0, 22.0],
}


def test_rises_late_is_the_last_weight_at_the_lowest_weights_level_before_a_rise_at_every_step_by_hand():
    late = rises_late(ceiling_sweep(AT_ITS_LOWEST_LEVEL_UP_TO_HALF))
    # 0.25 and 0.5 against 0: differences (1, -1, 0) and (0, 1, -1), mean 0; 0.75 against 0: (10, 10, 10)
    # the rise from 0.5 to 1: differences 20, 19, 21 (mean 20, sd 1)
    assert late["a"] == {
        "from_weight": 0.5,
        "score": pytest.approx(1.0),
        "rise": pytest.approx(20.0),
        "standard_error": pytest.approx(1 / np.sqrt(3)),
    }
    assert late["b"] is None  # it rises from its lowest weight on


def test_rises_late_names_the_weight_below_the_top_one_up_to_which_the_score_stays_flat():
    flat_to_three_quarters = AT_ITS_LOWEST_LEVEL_UP_TO_HALF | {0.75: [0.0, 2.0, 1.0]}
    assert rises_late(ceiling_sweep(flat_to_three_quarters))["a"]["from_weight"] == 0.75


@pytest.mark.parametrize(
    "change, why_not",
    [
        ({0.25: [5.0, 6.0, 7.0]}, "it rises clearly from its lowest weight to 0.25: not flat before the rise"),
        ({0.75: [0.0, 2.0, 1.0], 1.0: [1.0, 0.0, 2.0]}, "it stays at its lowest weight's level up to its top weight"),
        ({0.75: [25.0, 26.0, 27.0]}, "it falls from 0.75 to 1: not a rise at every step to the top"),
        (
            {0.75: [5.0, 6.0, 7.0], 1.0: [2.0, 14.0, 4.0]},
            "its rise from 0.5 to its top weight (differences 2, 12, 3) is within two standard errors",
        ),
    ],
)
def test_a_score_that_rises_early_never_rises_dips_at_the_top_or_rises_within_noise_does_not_rise_late(
    change, why_not
):
    assert rises_late(ceiling_sweep(AT_ITS_LOWEST_LEVEL_UP_TO_HALF | change))["a"] is None, why_not


def test_an_objective_flat_up_to_half_its_weight_and_rising_above_rises_late_rather_than_not_monotone():
    summary = summarise_sweep(ceiling_sweep(AT_ITS_LOWEST_LEVEL_UP_TO_HALF))
    assert summary["spearman_score_vs_weight"]["a"] == pytest.approx(8 / np.sqrt(80))
    assert summary["levels_off"]["a"] is None
    assert summary["steering_verdict"] == {"a": "rises_late", "b": "steers"}
    effect, fall = summary["steering_effect"]["a"], summary["steepest_fall"]["a"]
    assert steering_verdict(0.89, effect["effect"], effect["standard_error"], fall) == "not_monotone"  # without it


def test_a_fall_within_two_standard_errors_does_not_change_the_verdict():
    fall = {"from_weight": 0.25, "to_weight": 0.5, "fall": 0.2, "standard_error": 0.1}
    assert steering_verdict(0.7, 0.5, 0.1, fall) == "not_monotone"  # exactly two standard errors is not beyond
    assert steering_verdict(1.0, 0.5, 0.1, {**fall, "fall": 0.5}) == "steers"  # the target is the target


def test_steering_verdict_names_each_way_alpha_can_fail_to_steer():
    assert steering_verdict(1.0, 0.3, 0.1) == "steers"
    assert steering_verdict(0.8999999999999998, 0.3, 0.1) == "steers"  # scipy's 0.9 for one swap of five points
    assert steering_verdict(1.0, 0.2, 0.1) == "within_noise"  # exactly two standard errors is not above them
    assert steering_verdict(0.7, 0.05, 0.1) == "within_noise"
    assert steering_verdict(-0.7, -0.05, 0.1) == "within_noise"  # a fall within the noise is not "against"
    assert steering_verdict(0.7, 0.5, 0.1) == "not_monotone"
    assert steering_verdict(-0.7, -0.2, 0.1) == "against_its_weight"  # two standard errors below 0
    assert steering_verdict(0.95, -0.5, 0.1) == "against_its_weight"
    assert steering_verdict(1.0, 0.0, 0.0) == "within_noise"  # no change at all, over identical prompts
    assert steering_verdict(None, 0.0, 0.0) == "does_not_move"
    assert steering_verdict(0.9, None, None) == "not_measured"
    assert steering_verdict(float("nan"), 0.3, 0.1) == "not_measured"  # a scorer's NaN
    assert steering_verdict(1.0, float("nan"), 0.1) == "not_measured"


def test_sweep_summary_names_the_front_points_no_linear_weighting_picks():
    alphas = [[1.0, 0.0], [0.75, 0.25], [0.5, 0.5], [0.25, 0.75], [0.0, 1.0]]
    # answers of 10, 30, 40, 50 and 90 words scored by conciseness and thoroughness lie on the bowed-in curve
    # (1 - x, x^2): each is Pareto-optimal, but only the two ends maximise some weighted sum
    words = np.array([10, 30, 40, 50, 90]) / 100
    raw = np.c_[1 - words, words**2]
    points = [{"alpha": alpha, "scores": {"c": c, "t": t}} for alpha, (c, t) in zip(alphas, raw, strict=True)]
    sweep = {"objectives": ["c", "t"], "alphas": alphas, "points": points, "base": {"scores": {"c": 0.2, "t": 0.1}}}
    summary = summarise_sweep(sweep)
    assert summary["front_alphas_no_linear_weighting_picks"] == [[0.75, 0.25], [0.5, 0.5], [0.25, 0.75]]
    convex = [
        {"alpha": alpha, "scores": {"c": 1 - w, "t": 1 - (1 - w) ** 2}} for alpha, w in zip(alphas, words, strict=True)
    ]
    assert summarise_sweep(sweep | {"points": convex})["front_alphas_no_linear_weighting_picks"] == []


def test_response_quality():
    responses = [
        {"text": "", "finished": True},
        {"text": "a b c a b c a b c", "finished": False},
        {"text": "fine answer here", "finished": True},
        {"text": "cut off mid", "finished": False},
    ]
    assert response_quality(responses) == {"empty": 0.25, "unfinished": 0.5, "repetitive": 0.25}


def test_a_list_of_numbers_without_words_counts_as_empty():
    responses = [
        {"text": "1.\n2.\n3.\n4.\n5.", "finished": False},
        {"text": "1. **1.1.1\n2. **1.1.2", "finished": False},
        {"text": "- **", "finished": True},
        {"text": "1. Water the plant.", "finished": True},
    ]
    assert response_quality(responses) == {"empty": 0.75, "unfinished": 0.5, "repetitive": 0.0}


def test_a_lists_repeated_markup_is_not_repetition_but_a_loop_of_words_is():
    list_of_mistakes = "1. **Not being prepared:**\n\n1. **Not having a plan:**\n\n1. **Not being late:**\n\n1. **Not"
    assert not is_repetitive(list_of_mistakes)  # the words "1. **Not" repeat; the content does not
    assert is_repetitive("I am here for you! I am here, for you. **I am here** for YOU.")
    assert not is_repetitive("Keep going, friend.")


def test_content_words_drop_numbers_and_markup():
    assert content_words("1. **Don't** skip step 2, it's 5k-run time!") == [
        "don't",
        "skip",
        "step",
        "it's",
        "5k-run",
        "time",
    ]


def test_the_degenerate_share_at_each_vertex_is_its_empty_plus_repetitive_answers_by_hand():
    answers = {
        (1.0, 0.0): ["", "so good so good so good so good", "a fine reply", "glad to help you"],
        (0.5, 0.5): ["", "", "", "a fine reply"],  # not a vertex: its empty answers count for neither
        (0.0, 1.0): ["a fine reply", "another reply", "a third one here", "and the last"],
    }
    points = [
        {
            "alpha": list(alpha),
            "scores": {"a": alpha[0], "b": alpha[1]},
            "quality": response_quality([{"text": text, "finished": True} for text in texts]),
        }
        for alpha, texts in answers.items()
    ]
    base_quality = response_quality([{"text": text, "finished": True} for text in ["", "x y z", "ok", "fine"]])
    sweep = {
        "objectives": ["a", "b"],
        "alphas": [point["alpha"] for point in points],
        "points": points,
        "base": {"scores": {"a": 0.2, "b": 0.2}, "quality": base_quality},
    }
    summary = summarise_sweep(sweep)
    assert summary["degenerate_share_at_vertex"] == {"a": 0.5, "b": 0.0}  # one empty and one loop of four at a's
    assert summary["degenerate_share_base"] == 0.25
    without_b_vertex = sweep | {"points": points[:2], "alphas": [[1.0, 0.0], [0.5, 0.5]]}
    assert summarise_sweep(without_b_vertex)["degenerate_share_at_vertex"] == {"a": 0.5}
    no_quality = [{key: value for key, value in point.items() if key != "quality"} for point in points]
    summary = summarise_sweep(sweep | {"points": no_quality, "base": {"scores": {"a": 0.2, "b": 0.2}}})
    assert summary["degenerate_share_at_vertex"] == {} and summary["degenerate_share_base"] is None
