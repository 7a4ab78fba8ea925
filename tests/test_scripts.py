"""The scripts that rescore a sweep and compare runs, on hand-written sweeps."""

from __future__ import annotations

import importlib.util
import itertools
import json

import pytest

from peft_pblora.evaluation import VaderPositivity

from .conftest import REPO


def load_script(name: str, monkeypatch=None):
    """scripts/<name>.py as a module; with `monkeypatch`, scripts/ on the path for its sibling imports."""
    if monkeypatch is not None:
        monkeypatch.syspath_prepend(str(REPO / "scripts"))  # e.g. the benchmark imports run_grid from its folder
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rescoring_a_sweep_reports_recorded_and_current_scores_and_lengths():
    module = load_script("rescore_sweep")
    texts = ["Great! Lovely day.", "Bad."]
    point = {"scores": {"positivity": 0.9, "conciseness": 0.5}, "texts": texts}
    sweep = {
        "objectives": ["positivity", "conciseness"],
        "prompts": ["p", "q"],
        "points": [{"alpha": [1.0, 0.0], **point}],
    }
    sweep["base"] = point
    table = module.rescore(sweep)
    assert [row["alpha"] for row in table] == [[1.0, 0.0], "base"]
    assert table[0]["words"] == 2.0 and table[0]["positivity (recorded)"] == 0.9
    positivity = VaderPositivity()(["p", "q"], texts)
    assert table[0]["positivity (now)"] == pytest.approx(sum(positivity) / 2)
    assert table[0]["conciseness (now)"] == pytest.approx((0.97 + 0.99) / 2)  # 3 and 1 words of at most 100


def test_comparing_runs_normalises_them_together():
    module = load_script("compare_runs")

    def run(name, method, points):
        alphas = [[1.0, 0.0], [0.0, 1.0]]
        sweep = {"objectives": ["a", "b"], "prompts": ["p"], "method": method, "alphas": alphas}
        sweep["points"] = [
            {"alpha": alpha, "scores": {"a": x, "b": y}} for alpha, (x, y) in zip(alphas, points, strict=True)
        ]
        sweep["base"] = {"scores": {"a": 0.0, "b": 0.0}}
        effects = {name: {"effect": points[0][0] - points[1][0], "standard_error": 0.1} for name in ("a", "b")}
        metrics = {"spearman_score_vs_weight": {"a": 1.0, "b": 1.0}, "steering_effect": effects}
        return {"name": name, "sweep": sweep, "metrics": metrics, "timings": {"train": 1.0}}

    rows, shared = module.compare(
        [run("wide", "parm", [(4.0, 0.0), (0.0, 2.0)]), run("narrow", "genarm", [(2.0, 0.0), (0.0, 1.0)])]
    )
    assert shared["low"] == [0.0, 0.0] and shared["high"] == [4.0, 2.0]  # over both runs and the base
    # wide: normalised (1, 0) and (0, 1); narrow: (0.5, 0) and (0, 0.5); reference (-0.1, -0.1)
    assert rows[0]["hypervolume"] == pytest.approx(1.1 * 0.1 + 0.1 * 1.0)
    assert rows[1]["hypervolume"] == pytest.approx(0.6 * 0.1 + 0.1 * 0.5)
    assert rows[0]["mip"] == pytest.approx(1.0) and rows[1]["mip"] == pytest.approx(0.5)
    assert [row["method"] for row in rows] == ["PARM guided", "GenARM guided"]
    assert "| narrow | GenARM guided |" in module.markdown(rows, shared)
    assert "| 1.00 | 1.00 |" in module.markdown(rows, shared)  # no resampling measured: the correlation alone
    resampled = run("resampled", "parm", [(4.0, 0.0), (0.0, 2.0)])
    resampled["metrics"]["spearman_over_resampled_prompts"] = {"a": {"share_at_least_threshold": 0.41}}
    resampled_rows, resampled_shared = module.compare([resampled])
    assert "| 1.00 (41%) | 1.00 |" in module.markdown(resampled_rows, resampled_shared)
    assert "| 0 of 2 |" in module.markdown(rows, shared)
    bowed = run("bowed", "parm", [(4.0, 0.0), (0.0, 2.0)])
    bowed["sweep"]["alphas"].insert(1, [0.5, 0.5])
    bowed["sweep"]["points"].insert(1, {"alpha": [0.5, 0.5], "scores": {"a": 1.0, "b": 0.5}})  # below the chord
    (bowed_row,), _ = module.compare([bowed])
    assert (bowed_row["pareto_points"], bowed_row["pareto_points_no_linear_weighting_picks"]) == (3, 1)
    assert module.method_summaries(rows, ["a", "b"]) == []  # one run per method: nothing to summarise
    seeds, _ = module.compare(
        [run("s0", "parm", [(4.0, 0.0), (0.0, 2.0)]), run("s1", "parm", [(2.0, 0.0), (0.0, 2.0)])]
    )
    (summary,) = module.method_summaries(seeds, ["a", "b"])
    assert summary["runs"] == 2 and summary["effect a"] == {"mean": 3.0, "std": pytest.approx(2**0.5)}  # 4 and 2
    assert summary["MIP"]["mean"] == pytest.approx((1.0 + 0.75) / 2)  # s1 normalised: (0.5, 0), (0, 1)
    assert "| PARM guided | 2 |" in module.summaries_markdown([summary])
    assert summary["train (s)"] == {"min": 1.0, "max": 1.0} and "trainable parameters" not in summary
    seeds[1]["train_seconds"] = 1234.0
    (ranged,) = module.method_summaries(seeds, ["a", "b"])
    assert "| 1 to 1,234 |" in module.summaries_markdown([ranged])  # a cost as its range, not a mean
    trained_again = run("again", "parm", [(4.0, 0.0), (0.0, 2.0)])
    trained_again["timings"]["train again"] = 30.0
    untimed = run("untimed", "parm", [(4.0, 0.0), (0.0, 2.0)])
    untimed["timings"] = {}
    assert [row["train_seconds"] for row in module.compare([trained_again, untimed])[0]] == [31.0, None]
    two_seeds = [run("s0", "parm", [(4.0, 0.0), (0.0, 2.0)]), run("s1", "parm", [(2.0, 0.0), (0.0, 1.0)])]
    solo = run("g", "genarm", [(1.0, 1.0), (3.0, 3.0)])
    two_seed_rows, _ = module.compare([*two_seeds, solo])
    fronts = module.group_mean_fronts(two_seed_rows, [*two_seeds, solo])
    assert fronts["PARM guided (mean of 2 runs)"] == ([[1.0, 0.0], [0.0, 1.0]], [[3.0, 0.0], [0.0, 1.5]])
    assert fronts["GenARM guided"][1] == [[1.0, 1.0], [3.0, 3.0]]
    two_seeds[1]["sweep"]["alphas"] = [[0.0, 1.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="s1 sweeps other preferences than s0"):
        module.group_mean_fronts(two_seed_rows, [*two_seeds, solo])
    recipes, _ = module.compare(
        [run(name, "parm", [(4.0, 0.0), (0.0, 2.0)]) for name in ("plain_s0", "plain_s1", "tilted_s0", "tilted_s1")]
        + [resampled]
    )
    recipes[2]["spearman_share_at_least_threshold"] = {"a": 0.2}
    recipes[3]["spearman_share_at_least_threshold"] = {"a": 0.6}
    by_recipe = module.method_summaries(recipes, ["a", "b"], group_by="recipe")
    assert [(summary["method"], summary["runs"]) for summary in by_recipe] == [("plain", 2), ("tilted", 2)]
    assert by_recipe[1]["share >= 0.9 a"]["mean"] == pytest.approx(0.4) and "share >= 0.9 a" not in by_recipe[0]
    assert [summary["runs"] for summary in module.method_summaries(recipes, ["a", "b"])] == [5]
    with pytest.raises(ValueError, match="other objectives or prompts"):
        other = run("other", "parm", [(1.0, 0.0), (0.0, 1.0)])
        other["sweep"]["prompts"] = ["q"]
        module.compare([run("wide", "parm", [(4.0, 0.0), (0.0, 2.0)]), other])


def test_the_steering_benchmark_table_counts_where_the_probe_agreed_with_the_sweep():
    module = load_script("benchmark_tables")

    def metrics(spearman, effects, probe):
        return {
            "objectives": list(spearman),
            "spearman_score_vs_weight": spearman,
            "steering_effect": {name: {"effect": value, "standard_error": 0.01} for name, value in effects.items()},
            "steering_diagnosis": [{"objective": name, "flags": flags} for name, flags in probe.items()],
            "hypervolume_sweep": 0.5, "hypervolume_base": 0.1, "mip_sweep": 0.4, "mip_base": 0.0,
        }  # fmt: skip

    with_margins = metrics({"a": 1.0, "b": 0.5}, {"a": 0.3, "b": 0.3}, {"a": [], "b": []})
    for item in with_margins["steering_diagnosis"]:
        item["training_margin"] = 3.0  # a run whose training log was read; the others recorded none
    summary = {
        "a__b": {"metrics": {**with_margins, "guidance_beta": 0.5, "objective_strengths": [1.0, 0.25]}},
        "a__c": {
            "metrics": metrics(
                {"a": 0.9, "c": -1.0},
                {"a": 0.005, "c": -0.2},
                {"a": ["probe_inconclusive", "already_at_top"], "c": ["steers_backwards", "not_learned"]},
            )
        },
        "b__c": {
            "metrics": metrics(
                {"b": 1.0, "c": 1.0}, {"b": 0.1, "c": 0.1}, {"b": ["does_not_steer"], "c": ["probe_cannot_tell"]}
            )
        },
    }
    summary["a__c"]["metrics"]["steering_diagnosis"][1]["training_margin"] = 0.5  # below not_learned's threshold
    rows = module.benchmark_table(summary)
    assert [result["steers"] for row in rows for result in row["objectives"].values()] == [
        True, False, False, False, True, True
    ]  # fmt: skip
    assert module.probe_agreement(rows) == {
        "passes": {"sweep steers": 1, "sweep does not": 1},
        "inconclusive": {"sweep steers": 0, "sweep does not": 1},
        "cannot tell": {"sweep steers": 1, "sweep does not": 0},
        "flags degenerate answers": {"sweep steers": 0, "sweep does not": 0},
        "flags no steering": {"sweep steers": 1, "sweep does not": 1},
    }
    assert module.probe_verdict(["degenerate_at_vertex", "probe_inconclusive"]) == "flags degenerate answers"
    assert module.probe_verdict(["degenerate_at_vertex", "steers_backwards"]) == "flags no steering"
    assert module.probe_verdict(["wordless_at_vertex"]) == "flags degenerate answers"
    assert module.probe_verdict(["not_learned", "probe_cannot_tell"]) == "cannot tell"
    assert module.margin_agreement(rows) == {
        "below not_learned's threshold": {"sweep steers": 0, "sweep does not": 1},
        "at or above it": {"sweep steers": 1, "sweep does not": 1},
        "not recorded": {"sweep steers": 2, "sweep does not": 1},
    }
    assert module.flag_agreement(rows, "already_at_top") == {
        "flagged": {"sweep steers": 0, "sweep does not": 1},
        "not flagged": {"sweep steers": 3, "sweep does not": 2},
    }
    assert [result["verdict"] for result in rows[1]["objectives"].values()] == ["within_noise", "against_its_weight"]
    assert "score above the unguided model" not in module.markdown_table(rows)  # no run measured a gain over base
    summary["a__b"]["metrics"]["steering_effect"]["a"]["gain_over_base"] = {"effect": 0.05, "standard_error": 0.03}
    summary["a__b"]["metrics"]["steering_effect"]["b"]["gain_over_base"] = {"effect": 0.07, "standard_error": 0.03}
    rows = module.benchmark_table(summary)
    assert [result["rises_above_base"] for result in rows[0]["objectives"].values()] == [False, True]
    table = module.markdown_table(rows)
    assert "| a__b | 2 | a | 1.00 | +0.300 +/- 0.010 | yes | +0.050 +/- 0.030 |  | none |" in table
    assert "that steer (those whose metrics.json holds their answers' quality)" not in table
    summary["a__b"]["metrics"]["degenerate_share_at_vertex"] = {"a": 0.3, "b": 0.1}
    summary["b__c"]["metrics"]["degenerate_share_at_vertex"] = {"b": 0.2, "c": 0.25}
    summary["b__c"]["metrics"]["degenerate_share_base"] = 0.1
    summary["a__b"]["metrics"]["degenerate_share_base"] = 0.3  # a's 0.3 no more than the unguided model's
    assert "1 of the 3 that steer" in module.markdown_table(module.benchmark_table(summary))
    summary["a__b"]["metrics"]["degenerate_share_base"] = 0.2
    quality_table = module.markdown_table(module.benchmark_table(summary))
    assert "| a__b | 2 | a | 1.00 | +0.300 +/- 0.010 | yes | +0.050 +/- 0.030 | 0.30 | none |" in quality_table
    assert (
        "2 of the 3 that steer (those whose metrics.json holds their answers' quality) have 25% or more of the "
        "answers at their vertex empty or repetitive, more than the unguided model." in quality_table
    )  # a in a__b (0.3) and c in b__c (0.25, at the line); b in a__b (0.1) does not steer, in b__c (0.2) is under it
    assert "1 of 2 score above the unguided model at their own vertex (gain > 2 se); 1 steer without." in table
    assert "3 of 6 objective-runs steer" in table
    assert "The others: 1 not_monotone, 1 within_noise, 1 against_its_weight." in table
    assert "| no: against_its_weight |" in table
    assert "| a__b | 2 | a | 1.00 |" in table and "| a__b | 2 x0.25 | b | 0.50 |" in table  # 1/beta, strengths
    assert "| a__c |  | a | 0.90 |" in table  # a run that recorded neither
    summary["b__c"]["metrics"]["retraining"] = {"not_learned": ["c"], "epochs_before": 1.0, "epochs": 3.0}
    retrained_table = module.markdown_table(module.benchmark_table(summary))
    assert (
        "| b__c (trained again, 3 epochs) |  | b | 1.00 |" in retrained_table
        and "| a__b (trained" not in retrained_table
    )
    summary["b__c"]["metrics"]["retraining"].update(own_directions_only=True, kept="longer")
    continued_table = module.markdown_table(module.benchmark_table(summary))
    assert "| b__c (trained on, c only, 3 epochs) |  | b | 1.00 |" in continued_table
    summary["b__c"]["metrics"]["retraining"].update(kept="first", not_passed=["c"])
    kept_first_table = module.markdown_table(module.benchmark_table(summary))
    assert "| b__c (trained again for 3 epochs, first training kept) |  | b | 1.00 |" in kept_first_table
    assert "that do not steer (those whose metrics.json" not in table  # no run measured the lift
    for name, lift in (("a", 0.3), ("b", 0.2)):
        summary["a__b"]["metrics"]["steering_effect"][name]["gain_over_base_at_weight_zero"] = {
            "effect": lift, "standard_error": 0.05
        }  # fmt: skip
    rows = module.benchmark_table(summary)
    assert [result["lifted_by_other_objectives"] for result in rows[0]["objectives"].values()] == [True, True]
    lifted_line = "1 of the 1 that do not steer (those whose metrics.json holds the gain at weight 0) are raised"
    assert lifted_line in module.markdown_table(rows)
    assert "already at their highest score unguided" not in module.markdown_table(rows)  # no run measured it
    summary["a__b"]["metrics"]["base_at_highest_score"] = {"a": {"highest_score": 1.0, "share": 0.8}}
    summary["b__c"]["metrics"]["base_at_highest_score"] = {
        "b": {"highest_score": 1.0, "share": 0.6}, "c": {"highest_score": 2.0, "share": 0.1}
    }  # fmt: skip
    rows = module.benchmark_table(summary)
    assert [result["leaves_little_room"] for row in rows for result in row["objectives"].values()] == [
        True, False, None, None, True, False
    ]  # fmt: skip
    # a__b's b is not in its record (its answers all scored alike); a__c holds no record
    room_line = "2 of the 4 whose metrics.json holds it are already at their highest score unguided on 50% or more"
    assert room_line + " of the test prompts; 2 of them steer." in module.markdown_table(rows)  # a in a__b, b in b__c
    assert "margin below not_learned's threshold: sweep steers 0, does not 1" in table
    assert "probe inconclusive: sweep steers 0, does not 1" in table
    assert (
        "The advice already_at_top before the sweep against the sweep: flagged: sweep steers 0, does not 1; "
        "not flagged: sweep steers 3, does not 2." in table
    )
    spearman_of_five_points_one_swap = 0.8999999999999998  # scipy's 1 - 6 * 2 / (5 * 24), the target itself
    nearly = metrics({"a": spearman_of_five_points_one_swap, "b": 1.0}, {"a": 0.3, "b": 0.3}, {"a": [], "b": []})
    assert module.objective_row("a", nearly)["steers"]
    nearly["steepest_fall"] = {"b": {"from_weight": 0.5, "to_weight": 1.0, "fall": 0.3, "standard_error": 0.1}}
    nearly["spearman_score_vs_weight"]["b"] = 0.5
    assert module.objective_row("b", nearly)["verdict"] == "falls_with_more_weight"


def test_the_steering_benchmark_takes_a_named_recipe_or_json(monkeypatch):
    module = load_script("steering_benchmark", monkeypatch)
    from peft_pblora.pipeline import RunSettings

    for name in module.RECIPES:
        RunSettings(output_dir="unused", **module.recipe_settings(name))  # every key a run setting, valid values
    log_ratio = module.recipe_settings("log-ratio")
    adaptive = module.recipe_settings("log-ratio-adaptive")
    assert adaptive == {**log_ratio, "weaker_objective_strengths": [0.5, 0.25], "stronger_objective_strengths": [2.0]}
    forms_from_pairs = module.recipe_settings("log-ratio-forms-from-pairs")
    assert {**forms_from_pairs, "length_normalized_rewards": ["none"], "beta_r": [0.1]} == adaptive
    non_answers = module.recipe_settings("log-ratio-forms-from-pairs-non-answers")
    assert non_answers == {**forms_from_pairs, "non_answer_pairs": True}
    train_again = module.recipe_settings("log-ratio-forms-from-pairs-train-again")
    assert train_again == {**forms_from_pairs, "epochs": 1.0, "epochs_if_not_learned": 3.0}
    sentence_edits = module.recipe_settings("log-ratio-forms-from-pairs-sentence-edits")
    assert sentence_edits == {**train_again, "sentence_edit_pairs": True}
    assert module.common_settings("gpu", train_again)["epochs"] == module.PRESETS["cpu"]["epochs"] == 1.0
    assert log_ratio["reference_free"] is False and module.recipe_settings("default") == {}
    assert module.recipe_settings('{"guidance_beta": 0.5}') == {"guidance_beta": 0.5}
    for bad in ("log_ratio", "[1, 2]"):
        with pytest.raises(ValueError, match="--recipe must be one of"):
            module.recipe_settings(bad)
    assert module.common_settings("cpu", adaptive)["test_prompts"] == module.PRESETS["cpu"]["test_prompts"]
    common = module.common_settings("cpu", {**adaptive, "test_prompts": 6}, test_prompts=24)
    assert common["test_prompts"] == 24 and common["epochs"] == module.PRESETS["cpu"]["epochs"]
    assert common["weaker_objective_strengths"] == [0.5, 0.25]
    with pytest.raises(ValueError, match="--test_prompts must be at least 2"):
        module.common_settings("cpu", adaptive, test_prompts=1)


def test_the_steering_benchmarks_held_out_pairs_are_the_pairs_outside_the_fixed_set(monkeypatch):
    module = load_script("steering_benchmark", monkeypatch)
    held_out = module.held_out_pairs()
    assert len(held_out) == 7 and len(set(held_out)) == 7
    fixed = {frozenset(pair) for pair in module.PAIRS}
    assert len(fixed) == 8 and not fixed & {frozenset(pair) for pair in held_out}
    every_pair = {frozenset(pair) for pair in itertools.combinations(module.OBJECTIVES, 2)}
    assert fixed | {frozenset(pair) for pair in held_out} == every_pair
    assert ("conciseness", "positivity") in held_out and ("conciseness", "relevance") not in held_out


def test_the_steering_benchmark_runs_a_users_scorers_named_by_their_names(monkeypatch):
    module = load_script("steering_benchmark", monkeypatch)
    monkeypatch.syspath_prepend(str(REPO / "tests" / "fixtures"))  # own_scorers, as a user's module on PYTHONPATH
    assert module.parse_pair("conciseness:relevance") == ("conciseness", "relevance")
    assert module.parse_pair("positivity, own_scorers:DigitSum") == ("positivity", "own_scorers:DigitSum")
    for bad in ("positivity", "a:b:c", "own_scorers:DigitSum,", "a,b,c"):
        with pytest.raises(ValueError, match="--pairs takes first:second, or first,second"):
            module.parse_pair(bad)
    grid = module.benchmark_grid(
        [("own_scorers:DigitSum", "positivity"), ("tone=positivity", "own_scorers:characters")], [0, 2], {"x": 1}
    )
    assert grid["common"] == {"x": 1}
    assert grid["runs"]["digit_sum__positivity_s2"] == {
        "objectives": ["own_scorers:DigitSum", "positivity"],
        "train_seed": 2,
    }
    assert sorted(grid["runs"]) == [
        "digit_sum__positivity_s0",
        "digit_sum__positivity_s2",
        "tone__characters_s0",
        "tone__characters_s2",
    ]
    with pytest.raises(ValueError, match="cannot import module 'no_such_module'"):
        module.benchmark_grid([("positivity", "no_such_module:Scorer")], [0], {})


def test_the_steering_benchmark_table_names_the_verdicts_a_resample_of_the_test_prompts_would_turn_over():
    module = load_script("benchmark_tables")
    spearman = {"a": 1.0, "b": 0.7, "c": 0.9, "d": 1.0, "e": 1.0, "f": 0.7, "g": 0.95}
    shares = {"a": 0.55, "b": 0.05, "c": 0.2, "d": 0.81, "e": 0.1, "f": 0.25, "g": 0.95}
    # a, c, e steer but most resamples (or more than one in five) miss 0.9: fragile; d steers in 81%: not.
    # b misses in all but 5%: a robust failure; f misses but reaches 0.9 in a quarter: fragile.
    # g fails on its effect alone (within noise), which the Spearman's resamples cannot turn over
    effects = {name: {"effect": 0.01 if name == "g" else 0.3, "standard_error": 0.01} for name in spearman}
    metrics = {
        "objectives": list(spearman),
        "spearman_score_vs_weight": spearman,
        "steering_effect": effects,
        "spearman_over_resampled_prompts": {
            name: {"share_at_least_threshold": share, "threshold": 0.9} for name, share in shares.items()
        },
        "hypervolume_sweep": 0.5, "hypervolume_base": 0.1, "mip_sweep": 0.4, "mip_base": 0.0,
    }  # fmt: skip
    rows = module.benchmark_table({"w_s0": {"metrics": metrics}})
    assert [result["steers"] for result in rows[0]["objectives"].values()] == [True, False, True, True, True, False,
                                                                                False]  # fmt: skip
    assert module.fragile_verdicts(rows) == [("w_s0/a", True), ("w_s0/c", True), ("w_s0/e", True), ("w_s0/f", False)]
    table = module.markdown_table(rows)
    assert "| w_s0 |  | a | 1.00 (55%) |" in table and "| w_s0 |  | b | 0.70 (5%) |" in table
    assert "): 4, of which 3 steer: w_s0/a, w_s0/c, w_s0/e, w_s0/f." in table
    del metrics["spearman_over_resampled_prompts"]  # a run recorded before resampling: no share, no line
    table = module.markdown_table(module.benchmark_table({"w_s0": {"metrics": metrics}}))
    assert "| w_s0 |  | a | 1.00 |" in table and "Fragile" not in table


def test_the_steering_benchmark_table_is_rebuilt_from_run_folders_with_current_flags(tmp_path):
    module = load_script("benchmark_tables")
    metrics = {
        "objectives": ["a", "b"],
        "spearman_score_vs_weight": {"a": 1.0, "b": 1.0},
        "steering_effect": {name: {"effect": 0.3, "standard_error": 0.01} for name in "ab"},
        "steering_diagnosis": [{"objective": name, "flags": []} for name in "ab"],  # drawn before the new flags
        "hypervolume_sweep": 0.5, "hypervolume_base": 0.1, "mip_sweep": 0.4, "mip_base": 0.0,
    }  # fmt: skip
    vertices = [
        {"alpha": [1.0, 0.0], "per_prompt": {"a": [0.9, 0.8], "b": [0.1, 0.2]}, "quality": {"empty": 0.5}},
        {"alpha": [0.0, 1.0], "per_prompt": {"a": [0.1, 0.2], "b": [0.9, 0.7]},
         "quality": {"empty": 0.0, "base_nll": 4.0, "off_language": 1.0}},
    ]  # fmt: skip
    trained, decoded = tmp_path / "pair" / "a__b_s0", tmp_path / "pair" / "a__b_s0_w2"
    collected = tmp_path / "collected" / "a__b_s1"  # records copied without the training log
    for folder in (trained, decoded, collected):
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps(metrics))
        stored = {"probe": {"prompts": ["p", "q"], "vertices": vertices}}
        if folder == decoded:  # held-out pairs at chance for b, recorded when the run was diagnosed
            stored.update(pair_accuracy={"b": {"own": 0.5, "others": 0.5}}, held_out_pairs={"b": 20})
        if folder == collected:  # the margins the run read from its log, and the base's own answers' likelihood
            stored["training_margins"] = {"a": 0.4, "b": 6.0}
            stored["probe"]["unguided"] = {"texts": ["x", "y"], "base_nll": 0.7}  # b's vertex 3.3 above: word salad
        (folder / "diagnosis.json").write_text(json.dumps(stored))
    (trained / "train_log.json").write_text(json.dumps([{"objective/a/margin": 5.0, "objective/b/margin": 0.2}]))
    summary = module.summary_from_run_folders(tmp_path)
    assert list(summary) == ["collected/a__b_s1", "pair/a__b_s0", "pair/a__b_s0_w2"]
    flags = {
        name: {item["objective"]: item["flags"] for item in run["metrics"]["steering_diagnosis"]}
        for name, run in summary.items()
    }
    # b's margin (0.2) is below not_learned's threshold, but its probe rises by more than four errors: no flag
    assert flags["pair/a__b_s0"] == {"a": ["degenerate_at_vertex"], "b": []}
    # the decoding-only run keeps its own held-out pair accuracy
    assert flags["pair/a__b_s0_w2"] == {"a": ["degenerate_at_vertex"], "b": ["no_pair_signal"]}
    assert flags["collected/a__b_s1"] == {"a": ["degenerate_at_vertex"], "b": ["off_language_at_vertex"]}
    text = module.write_tables(module.benchmark_table(summary), tmp_path)
    assert (tmp_path / "table.json").is_file() and "6 of 6 objective-runs steer" in text
    assert "probe flags degenerate answers: sweep steers 4, does not 0" in text  # a's vertices and b's word salad
    # the margins read: b's from the log (and the sibling's log for the decoding-only run), a's as stored
    below, above = "margin below not_learned's threshold", "margin at or above it"
    assert f"{below}: sweep steers 3, does not 0; {above}: sweep steers 3" in text
