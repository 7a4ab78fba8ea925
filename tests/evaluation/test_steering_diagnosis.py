"""The steering diagnosis: per-objective pair accuracy at the vertices, the guided probe's effects and the flags."""

from __future__ import annotations

import math
import random

import pytest

from peft_pblora.evaluation.benchmark_objectives import ListFormat, PlainWords, SecondPerson
from peft_pblora.evaluation.probe_scores import objectives_scored_alike, shares_at_top_where_weight_is_zero
from peft_pblora.evaluation.steering_diagnosis import (
    base_nll_gaps,
    degenerate_share_of,
    degenerate_shares,
    diagnose,
    empty_answer_shares,
    few_pair_objectives,
    largest_t_statistic,
    off_language_shares,
    pair_accuracy_at_vertices,
    probe_can_tell,
    probe_effects,
    training_margins,
    vertex_label,
)
from peft_pblora.evaluation.steering_flags import (
    ADVICE,
    ALREADY_AT_TOP_SHARE,
    DEGENERATE_SHARE,
    EMPTY_ANSWER_SHARE,
    FEW_PAIRS_SHARE,
    LEARNED_MARGIN,
)
from peft_pblora.pipeline.diagnosis import diagnosis_record, warn_about_few_pairs


def test_vertex_labels_match_the_trainer_evaluation_labels():
    from peft_pblora.trainer.preference_draws import preference_label

    for k in (2, 3):
        for index in range(k):
            vertex = [1.0 if position == index else 0.0 for position in range(k)]
            assert vertex_label(index, k) == preference_label(vertex)


def test_pair_accuracy_is_read_per_vertex():
    metrics = {
        "eval_a_accuracy@alpha=(1,0,0)": 0.9,
        "eval_a_accuracy@alpha=(0,1,0)": 0.6,
        "eval_a_accuracy@alpha=(0,0,1)": 0.4,
        "eval_b_accuracy@alpha=(0,1,0)": 0.7,
        "eval_a_accuracy@alpha=(0.333,0.333,0.333)": 0.1,  # the centre is not a vertex
    }
    table = pair_accuracy_at_vertices(metrics, ["a", "b", "c"])
    assert table["a"] == {"own": 0.9, "others": pytest.approx(0.5)}
    assert table["b"]["own"] == 0.7 and math.isnan(table["b"]["others"])
    assert "c" not in table


def test_probe_effects_are_paired_differences_against_the_other_vertices():
    at_a = {"a": [1.0, 0.8, 0.6], "b": [0.0, 0.0, 0.3]}
    at_b = {"a": [0.0, 0.2, 0.6], "b": [1.0, 0.5, 0.3]}
    effects = probe_effects([at_a, at_b], ["a", "b"])
    differences_a = [1.0, 0.6, 0.0]
    mean = sum(differences_a) / 3
    sd = math.sqrt(sum((value - mean) ** 2 for value in differences_a) / 2)
    assert effects["a"]["effect"] == pytest.approx(mean)
    assert effects["a"]["standard_error"] == pytest.approx(sd / math.sqrt(3))
    assert effects["b"]["effect"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    with pytest.raises(ValueError, match="2 vertices for 3 objectives"):
        probe_effects([at_a, at_b], ["a", "b", "c"])


def test_flags_name_each_problem():
    accuracy = {
        "learned": {"own": 0.95, "others": 0.3},
        "random": {"own": 0.55, "others": 0.5},
        "shared": {"own": 0.8, "others": 0.85},
        "backwards": {"own": 0.95, "others": 0.2},
    }
    pairs = dict.fromkeys(accuracy, 40)
    probe = {
        "learned": {"effect": 0.2, "standard_error": 0.05},
        "random": {"effect": -0.01, "standard_error": 0.05},
        "shared": {"effect": 0.3, "standard_error": 0.05},
        "backwards": {"effect": -0.2, "standard_error": 0.05},
    }
    verdicts = {item.objective: item for item in diagnose(list(accuracy), accuracy, pairs, probe)}
    assert verdicts["learned"].steers and verdicts["learned"].flags == []
    assert verdicts["random"].flags == ["does_not_steer", "no_pair_signal"]
    assert verdicts["shared"].flags == ["not_separated"]
    assert verdicts["backwards"].flags == ["steers_backwards"]
    assert verdicts["backwards"].advice == [ADVICE["steers_backwards"]]
    assert verdicts["random"].to_dict()["steers"] is False


def test_missing_measurements_raise_no_flag():
    (only_probe,) = diagnose(["a"], {}, {}, {"a": {"effect": 0.3, "standard_error": 0.1}})
    assert only_probe.steers and only_probe.pair_accuracy_at_own_vertex is None
    (only_pairs,) = diagnose(["a"], {"a": {"own": 0.5, "others": 0.5}}, {"a": 20}, {})
    assert only_pairs.flags == ["no_pair_signal"] and not only_pairs.steers
    (too_few,) = diagnose(["a"], {"a": {"own": 0.5, "others": 0.5}}, {"a": 15}, {})
    assert too_few.flags == [] and too_few.steers  # 15 pairs: two standard errors above chance exceed 0.75
    one_prompt_probe = probe_effects([{"a": [1.0], "b": [0.0]}, {"a": [0.0], "b": [1.0]}], ["a", "b"])
    assert one_prompt_probe["a"] == {"effect": 1.0, "standard_error": None, "prompts": 1, "prompts_that_differ": 1}
    (one_prompt, _) = diagnose(["a", "b"], {}, {}, one_prompt_probe)
    assert one_prompt.flags == [] and one_prompt.to_dict()["probe_standard_error"] is None


def test_the_probe_decides_whether_an_objective_steers():
    accuracy = {"a": {"own": 0.5, "others": 0.5}}
    (probe_passes,) = diagnose(["a"], accuracy, {"a": 40}, {"a": {"effect": 0.3, "standard_error": 0.05}})
    assert probe_passes.flags == ["no_pair_signal"] and probe_passes.steers  # pair flags are advice
    (probe_fails,) = diagnose(
        ["a"], {"a": {"own": 0.9, "others": 0.1}}, {"a": 40}, {"a": {"effect": 0.0, "standard_error": 0.05}}
    )
    assert probe_fails.flags == ["does_not_steer"] and not probe_fails.steers
    (small_rise,) = diagnose(["a"], {}, {}, {"a": {"effect": 0.05, "standard_error": 0.05}})
    assert small_rise.flags == ["probe_inconclusive"] and small_rise.steers  # advice: more probe prompts tell


def paired_t_statistic(differences: list[float]) -> float:
    """A paired t statistic by hand: the mean over its standard error."""
    n = len(differences)
    mean = sum(differences) / n
    variance = sum((value - mean) ** 2 for value in differences) / (n - 1)
    return mean / math.sqrt(variance / n)


@pytest.mark.parametrize(("prompts", "differing"), [(8, 1), (8, 2), (8, 3), (8, 7), (4, 2), (16, 4), (9, 3)])
def test_the_largest_t_statistic_is_reached_by_equal_rises_and_no_other_mix(prompts, differing):
    equal_rises = [0.4] * differing + [0.0] * (prompts - differing)
    assert largest_t_statistic(prompts, differing) == pytest.approx(paired_t_statistic(equal_rises))
    rng = random.Random(prompts * 100 + differing)
    for _ in range(200):
        mixed = [rng.uniform(-1.0, 1.0) for _ in range(differing)] + [0.0] * (prompts - differing)
        assert abs(paired_t_statistic(mixed)) <= largest_t_statistic(prompts, differing) + 1e-9
    assert largest_t_statistic(prompts, prompts) == math.inf


def test_a_probe_that_can_reach_exactly_two_standard_errors_can_tell():
    """Three equal falls of nine prompts reach t = -sqrt(3 * 8 / 6) = -2 exactly, which flags `steers_backwards`."""
    falls = [-0.5] * 3 + [0.0] * 6
    effects = probe_effects([{"a": falls, "b": [0.0] * 9}, {"a": [0.0] * 9, "b": [1.0] * 9}], ["a", "b"])
    assert largest_t_statistic(9, 3) == pytest.approx(2.0) and probe_can_tell(effects["a"])
    assert diagnose(["a", "b"], {}, {}, effects)[0].flags == ["steers_backwards"]


def test_a_small_fall_on_few_prompts_is_no_verdict_either_way():
    """Two of eight prompts fall at the objective's vertex: as little a sign that it steers backwards as two rises
    are that it steers, so `probe_cannot_tell` (advice: `steers` stays true, and --stop_on_flags does not stop)."""
    falls = [-0.5, -0.5] + [0.0] * 6
    effects = probe_effects([{"a": falls, "b": [0.0] * 8}, {"a": [0.0] * 8, "b": [1.0] * 8}], ["a", "b"])
    (fall,) = diagnose(["a"], {}, {}, {"a": effects["a"]})
    assert fall.flags == ["probe_cannot_tell"] and fall.steers


def test_a_score_that_is_not_a_number_counts_as_a_prompt_that_differs():
    scores = [math.nan] + [0.0] * 7
    effects = probe_effects([{"a": scores, "b": [0.0] * 8}, {"a": [0.0] * 8, "b": [1.0] * 8}], ["a", "b"])
    assert effects["a"]["prompts_that_differ"] == 1 and effects["b"]["prompts_that_differ"] == 8


def test_an_objective_its_probe_answers_show_on_too_few_prompts_is_flagged_probe_cannot_tell():
    """Digits in two of eight probe answers at the objective's vertex and none elsewhere: even that rise cannot pass
    two standard errors (its largest t statistic is sqrt(2 * 7 / 6) = 1.53), so the probe cannot tell; in three of
    eight it can (2.05), and the same rise there passes."""
    rare = [0.0] * 6 + [0.5, 0.5]
    seen = [0.0] * 5 + [0.5, 0.5, 0.5]
    none = [0.0] * 8
    effects = probe_effects([{"rare": rare, "seen": none}, {"rare": none, "seen": seen}], ["rare", "seen"])
    assert effects["rare"]["prompts_that_differ"] == 2 and effects["seen"]["prompts_that_differ"] == 3
    assert not probe_can_tell(effects["rare"]) and probe_can_tell(effects["seen"])
    verdicts = {item.objective: item for item in diagnose(["rare", "seen"], {}, {}, effects)}
    assert verdicts["rare"].flags == ["probe_cannot_tell"] and verdicts["rare"].steers  # advice: no reading either way
    assert verdicts["rare"].advice == [ADVICE["probe_cannot_tell"]]
    assert "--probe_prompts" in ADVICE["probe_cannot_tell"]
    assert verdicts["seen"].flags == []
    (never_moves,) = diagnose(["a"], {}, {}, {"a": {"effect": 0.0, "standard_error": 0.0, "prompts": 8,
                                                   "prompts_that_differ": 0}})  # fmt: skip
    assert never_moves.flags == ["does_not_steer"]  # the same score everywhere: the probe read no change at all
    (recorded_before_the_counts,) = diagnose(["a"], {}, {}, {"a": {"effect": 0.0, "standard_error": 0.0}})
    assert recorded_before_the_counts.flags == ["does_not_steer"]


def test_training_margins_average_the_last_third_of_each_objectives_log():
    log = [{"loss": 0.7, "objective/a/margin": value, "objective/b/margin": 0.1 * index} for index, value in
           enumerate([0.0, 0.5, 1.0, 2.0, 3.0, 4.0])]  # fmt: skip
    log.append({"train_runtime": 10.0})  # the trainer's closing entry carries no margin
    margins = training_margins(log, ["a", "b", "never_logged"])
    assert margins == {"a": pytest.approx(3.5), "b": pytest.approx(0.45)}
    assert training_margins([{"objective/a/margin": "0.25"}], ["a"]) == {"a": 0.25}  # one entry, logged as text


def test_an_objective_its_training_did_not_separate_is_flagged_not_learned_unless_the_probe_shows_it_steering():
    margin = {"unlearned": LEARNED_MARGIN - 0.5, "learned": LEARNED_MARGIN + 5, "nan": math.nan}
    inconclusive = dict.fromkeys(margin, {"effect": 0.05, "standard_error": 0.05})  # a rise within two errors
    verdicts = {item.objective: item for item in diagnose(list(margin), {}, {}, inconclusive, training_margin=margin)}
    assert verdicts["unlearned"].flags == ["not_learned", "probe_inconclusive"] and verdicts["unlearned"].steers
    assert verdicts["unlearned"].advice[0] == ADVICE["not_learned"] and "--epochs" in ADVICE["not_learned"]
    assert verdicts["learned"].flags == ["probe_inconclusive"]
    assert verdicts["nan"].flags == ["not_learned", "probe_inconclusive"]
    assert verdicts["unlearned"].to_dict()["training_margin"] == LEARNED_MARGIN - 0.5
    (backwards,) = diagnose(["a"], {}, {}, {"a": {"effect": -0.3, "standard_error": 0.05}}, training_margin={"a": 0.2})
    assert backwards.flags == ["not_learned", "steers_backwards"] and not backwards.steers
    (without_probe,) = diagnose(["a"], {}, {}, {}, training_margin={"a": 0.2})
    assert without_probe.flags == ["not_learned"] and not without_probe.steers
    passes = dict.fromkeys(margin, {"effect": 0.3, "standard_error": 0.05})  # six errors: the probe decides
    verdicts = {item.objective: item for item in diagnose(list(margin), {}, {}, passes, training_margin=margin)}
    assert all(item.flags == [] and item.steers for item in verdicts.values())
    assert verdicts["unlearned"].training_margin == LEARNED_MARGIN - 0.5  # still recorded
    (no_log,) = diagnose(["a"], {}, {}, {"a": {"effect": 0.3, "standard_error": 0.05}})
    assert no_log.flags == [] and no_log.training_margin is None


def test_an_objective_with_pairs_on_fewer_than_an_eighth_of_the_prompts_is_flagged_few_pairs_whatever_the_probe_says():
    assert FEW_PAIRS_SHARE == 1 / 8
    covered = {"rare": 11, "borderline": 12, "common": 96}  # of 96 prompts: 11 < 12, 12 is not
    assert few_pair_objectives(covered, 96) == ["rare"] and few_pair_objectives(covered, 88) == []
    passes = dict.fromkeys(covered, {"effect": 0.3, "standard_error": 0.05})
    verdicts = {
        item.objective: item
        for item in diagnose(list(covered), {}, {}, passes, prompts_with_pairs=covered, pair_prompts=96)
    }
    assert verdicts["rare"].flags == ["few_pairs"] and verdicts["rare"].steers  # advice: the probe decides
    assert verdicts["rare"].advice == [ADVICE["few_pairs"]] and "--more_samples_if_few_pairs" in ADVICE["few_pairs"]
    assert verdicts["borderline"].flags == [] and verdicts["common"].flags == []
    assert verdicts["rare"].to_dict()["prompts_with_pairs"] == 11 and verdicts["rare"].to_dict()["pair_prompts"] == 96
    (alone,) = diagnose(["a"], {}, {}, {}, prompts_with_pairs={"a": 1}, pair_prompts=9)
    assert alone.flags == ["few_pairs"] and alone.steers  # without a probe too, few_pairs alone is advice
    (unlearned,) = diagnose(["a"], {}, {}, {}, training_margin={"a": 0.2}, prompts_with_pairs={"a": 1}, pair_prompts=9)
    assert unlearned.flags == ["few_pairs", "not_learned"] and not unlearned.steers  # no probe: the others decide
    (uncounted,) = diagnose(["rare"], {}, {}, passes, prompts_with_pairs={"rare": 1})  # no prompt count: no flag
    assert uncounted.flags == [] and uncounted.prompts_with_pairs == 1


def test_few_pairs_are_warned_of_with_the_prompts_they_are_on(caplog):
    lines = warn_about_few_pairs({"parentheses": 6, "relevance": 95}, prompts=96)
    assert lines == [f"objective 'parentheses': few_pairs (training pairs on 6 of 96 prompts): {ADVICE['few_pairs']}"]
    assert [record.message for record in caplog.records] == lines
    assert warn_about_few_pairs({"a": 6, "b": 7}, prompts=8) == []


def test_answers_pushed_off_the_text_at_a_vertex_are_flagged_and_do_not_steer():
    shares = {"degenerate": DEGENERATE_SHARE, "mostly_fine": DEGENERATE_SHARE - 0.125, "unrecorded": None}
    probe = dict.fromkeys(shares, {"effect": 0.3, "standard_error": 0.05})  # the probe's effect passes for all
    degenerate_share = {name: share for name, share in shares.items() if share is not None}
    verdicts = {
        item.objective: item for item in diagnose(list(shares), {}, {}, probe, degenerate_share=degenerate_share)
    }
    assert verdicts["degenerate"].flags == ["degenerate_at_vertex"] and not verdicts["degenerate"].steers
    assert "--guidance_beta" in verdicts["degenerate"].advice[0]
    assert verdicts["degenerate"].to_dict()["degenerate_share_at_vertex"] == DEGENERATE_SHARE
    assert verdicts["mostly_fine"].flags == [] and verdicts["mostly_fine"].steers
    assert verdicts["unrecorded"].flags == [] and verdicts["unrecorded"].degenerate_share_at_vertex is None


def test_the_degenerate_share_is_read_at_each_objectives_own_vertex():
    points = [
        {"alpha": [1.0, 0.0], "quality": {"empty": 0.25, "unfinished": 1.0, "repetitive": 0.375}},
        {"alpha": [0.0, 1.0], "quality": {"empty": 0.0, "unfinished": 0.0, "repetitive": 0.125}},
    ]
    assert degenerate_shares(points, ["a", "b"]) == {"a": 0.625, "b": 0.125}
    assert degenerate_shares([{"alpha": [1.0, 0.0]}, points[1]], ["a", "b"]) == {"b": 0.125}
    per_prompt = [{"a": [0.9, 0.8], "b": [0.1, 0.2]}, {"a": [0.1, 0.2], "b": [0.9, 0.7]}]
    scored = [{**point, "per_prompt": scores} for point, scores in zip(points, per_prompt, strict=True)]
    record = diagnosis_record(["a", "b"], ["p1", "p2"], scored, ({}, {}))
    flags = {item["objective"]: item["flags"] for item in record["objectives"]}
    assert flags == {"a": ["degenerate_at_vertex"], "b": []}


def test_a_vertex_whose_check_finds_a_tenth_of_its_answers_wordless_is_flagged_and_does_not_steer():
    shares = {"empty": EMPTY_ANSWER_SHARE, "few": EMPTY_ANSWER_SHARE - 1 / 64, "unchecked": None}
    probe = dict.fromkeys(shares, {"effect": 0.3, "standard_error": 0.05})  # the probe's effect passes for all
    empty_share = {name: share for name, share in shares.items() if share is not None}
    verdicts = {item.objective: item for item in diagnose(list(shares), {}, {}, probe, empty_answer_share=empty_share)}
    assert verdicts["empty"].flags == ["wordless_at_vertex"] and not verdicts["empty"].steers
    assert "--weaker_objective_strengths" in verdicts["empty"].advice[0]
    assert verdicts["empty"].to_dict()["empty_answer_share_at_vertex"] == EMPTY_ANSWER_SHARE
    assert verdicts["few"].flags == [] and verdicts["few"].steers
    assert verdicts["unchecked"].flags == [] and verdicts["unchecked"].empty_answer_share_at_vertex is None


def test_the_empty_answer_share_is_read_at_each_objectives_own_vertex_and_adds_to_the_degenerate_share():
    """The check's wordless share is read (here a's 0.125: 0.0625 ended empty, as many ran on in markup); a check
    recorded before it counted answers that run on gives its share of answers that ended empty (b's)."""
    points = [
        {
            "alpha": [1.0, 0.0],
            "quality": {"empty": 0.5, "repetitive": 0.25},
            "empty_answer_check": {"empty": 0.0625, "wordless": 0.125},
        },
        {"alpha": [0.0, 1.0], "quality": {"empty": 0.0, "repetitive": 0.0}, "empty_answer_check": {"empty": 0.0}},
    ]
    assert empty_answer_shares(points, ["a", "b"]) == {"a": 0.125, "b": 0.0}
    assert empty_answer_shares([{"alpha": [1.0, 0.0]}, points[1]], ["a", "b"]) == {"b": 0.0}
    per_prompt = [{"a": [0.9, 0.8], "b": [0.1, 0.2]}, {"a": [0.1, 0.2], "b": [0.9, 0.7]}]
    scored = [{**point, "per_prompt": scores} for point, scores in zip(points, per_prompt, strict=True)]
    items = {
        item["objective"]: item for item in diagnosis_record(["a", "b"], ["p1", "p2"], scored, ({}, {}))["objectives"]
    }
    assert items["a"]["flags"] == ["degenerate_at_vertex", "wordless_at_vertex"] and items["b"]["flags"] == []
    assert degenerate_share_of(items["a"]) == pytest.approx(0.75 + 0.125) and degenerate_share_of(items["b"]) == 0.0


def test_a_vertex_the_base_finds_2_25_nats_a_token_less_likely_than_its_own_answers_is_off_language():
    """The gap is the vertex's mean likelihood (`quality["base_nll"]`) over the base's own answers' (0.75 here, values
    exact in binary): a at 0.75 + 2.25 is flagged and does not steer though its probe passes; b at 0.75 + 2.125 is not;
    c, whose vertex has no likelihood recorded (all its answers empty), is not; nothing is flagged without the
    reference."""
    points = [
        {"alpha": [1.0, 0.0, 0.0], "quality": {"base_nll": 3.0, "off_language": 0.75}},
        {"alpha": [0.0, 1.0, 0.0], "quality": {"base_nll": 2.875, "off_language": 0.5}},
        {"alpha": [0.0, 0.0, 1.0], "quality": {"base_nll": None}},
    ]
    objectives = ["a", "b", "c"]
    gaps = base_nll_gaps(points, objectives, 0.75)
    assert gaps == {"a": 2.25, "b": 2.125}
    assert base_nll_gaps(points, objectives, None) == {}
    assert off_language_shares(points, objectives) == {"a": 0.75, "b": 0.5}
    probe = dict.fromkeys(objectives, {"effect": 0.3, "standard_error": 0.05})
    shares = off_language_shares(points, objectives)
    verdicts = {
        item.objective: item
        for item in diagnose(objectives, {}, {}, probe, base_nll_gap=gaps, off_language_share=shares)
    }
    assert verdicts["a"].flags == ["off_language_at_vertex"] and not verdicts["a"].steers
    assert "--weaker_objective_strengths" in verdicts["a"].advice[0]
    assert degenerate_share_of(verdicts["a"].to_dict()) == 0.75
    assert verdicts["b"].flags == [] and verdicts["b"].steers and degenerate_share_of(verdicts["b"].to_dict()) == 0.0
    assert verdicts["c"].flags == [] and verdicts["c"].base_nll_gap_at_vertex is None
    unflagged = diagnose(objectives, {}, {}, probe, base_nll_gap=base_nll_gaps(points, objectives, None))
    assert all(item.flags == [] for item in unflagged)


def test_an_objective_already_at_its_top_where_its_weight_is_0_is_flagged_as_advice():
    """By hand: affirm's highest probe score is 1; at b's vertex (its weight 0) three of four answers reach it (0.75),
    so it is flagged `already_at_top`, which leaves its probe verdict alone. b's top (0.9) is reached only at its own
    vertex (share 0), and flat scores alike everywhere (left out)."""
    points = [
        {"alpha": [1.0, 0.0, 0.0], "per_prompt": {"affirm": [1, 1, 1, 1], "b": [0.1, 0.2, 0.1, 0.0], "flat": [1] * 4}},
        {
            "alpha": [0.0, 1.0, 0.0],
            "per_prompt": {"affirm": [1, 1, 0.5, 1], "b": [0.9, 0.8, 0.9, 0.7], "flat": [1] * 4},
        },
        {
            "alpha": [0.0, 0.0, 1.0],
            "per_prompt": {"affirm": [1, 1, 0.5, 1], "b": [0.1, 0.1, 0.0, 0.2], "flat": [1] * 4},
        },
    ]
    objectives = ["affirm", "b", "flat"]
    assert shares_at_top_where_weight_is_zero(points, objectives) == {"affirm": 0.75, "b": 0.0}
    assert shares_at_top_where_weight_is_zero([{"alpha": [1.0, 0.0, 0.0]}, *points[1:]], objectives) == {}
    record = diagnosis_record(objectives, ["p1", "p2", "p3", "p4"], points, ({}, {}))
    items = {item["objective"]: item for item in record["objectives"]}
    # its probe differs on one prompt only: it cannot tell, and neither flag is a verdict
    assert items["affirm"]["flags"] == ["probe_cannot_tell", "already_at_top"] and items["affirm"]["steers"]
    assert items["affirm"]["share_at_top_where_weight_is_zero"] == 0.75
    assert items["affirm"]["advice"][1] == ADVICE["already_at_top"] and "--prompts" in ADVICE["already_at_top"]
    assert "already_at_top" not in items["b"]["flags"] and items["flat"]["share_at_top_where_weight_is_zero"] is None
    # flat scores 1 on every answer at every vertex: the probe saw nothing, which its does_not_steer alone hides
    assert items["flat"]["flags"] == ["does_not_steer", "probe_scores_alike"] and not items["flat"]["steers"]
    assert items["flat"]["advice"][1] == ADVICE["probe_scores_alike"]
    assert objectives_scored_alike(points, objectives) == ["flat"]
    assert objectives_scored_alike([{"alpha": [1.0, 0.0, 0.0]}, *points[1:]], objectives) == []
    nearly_flat = [{**point, "per_prompt": {**point["per_prompt"], "flat": [1, 1, 1, 1 - 1e-6]}} for point in points]
    assert objectives_scored_alike(nearly_flat, objectives) == []
    unscored = [{**point, "per_prompt": {**point["per_prompt"], "flat": [float("nan")] * 4}} for point in points]
    assert objectives_scored_alike(unscored, objectives) == []
    assert objectives_scored_alike([{**points[0], "per_prompt": None}, *points[1:]], objectives) == []
    passing = diagnose(["a"], {}, {}, {"a": {"effect": 0.3, "standard_error": 0.05}}, scored_alike=["a"])
    assert passing[0].flags == ["probe_scores_alike"] and passing[0].steers  # advice: the verdict is the probe's
    probe = {"a": {"effect": 0.3, "standard_error": 0.05}}
    below = diagnose(["a"], {}, {}, probe, share_at_top_where_weight_is_zero={"a": ALREADY_AT_TOP_SHARE - 1 / 64})
    at = diagnose(["a"], {}, {}, probe, share_at_top_where_weight_is_zero={"a": ALREADY_AT_TOP_SHARE})
    assert below[0].flags == [] and at[0].flags == ["already_at_top"] and at[0].steers


def test_benchmark_objectives_score_what_they_name():
    prompts = ["p"] * 3
    listed = ["Steps:\n1. Boil water\n2. Add tea\n- Serve", "One line only.", "- a\n- b"]
    assert ListFormat()(prompts, listed) == [1.0, 0.0, pytest.approx(2 / 3)]
    assert SecondPerson()(prompts, ["You can do it. It works.", "It rains.", ""]) == [0.5, 0.0, 0.0]
    assert PlainWords(max_letters=4)(prompts, ["a big elephant", "", "tiny elephants"]) == [
        pytest.approx(2 / 3),
        0.0,
        0.5,
    ]
    with pytest.raises(ValueError, match="got 1 prompts but 3 responses"):
        ListFormat()(["p"], listed)
    with pytest.raises(ValueError, match="max_letters"):
        PlainWords(max_letters=0)
