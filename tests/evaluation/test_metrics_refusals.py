"""Issue 19 (no silent wrong result), evaluation part: grids, plots and Spearman refuse or say "undefined"."""

from __future__ import annotations

import numpy as np
import pytest

from peft_pblora import pareto_plot, preference_grid, spearman_over_resampled_prompts
from peft_pblora.evaluation.sweep_metrics import summarise_sweep


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ((2, 0), ValueError, "step must be positive, got 0"),
        ((2, -0.5), ValueError, "step must be positive"),
        ((2, float("nan")), ValueError, "step must be finite"),
        ((2, "0.5"), TypeError, "step must be a number"),
        ((2.5, 0.5), TypeError, "num_objectives must be an integer"),
        ((0, 0.5), ValueError, "num_objectives must be >= 1"),
    ],
)
def test_preference_grid_refuses_a_zero_step_and_wrong_types(arguments, error, message):
    with pytest.raises(error, match=message):
        preference_grid(*arguments)


def test_pareto_plot_with_mismatched_inputs_is_refused_before_writing(tmp_path):
    alphas = preference_grid(2, 0.5)
    with pytest.raises(ValueError, match=r"fronts\['PARM'\]: alphas \(3, 2\) and points \(2, 2\) must have the same"):
        pareto_plot({"PARM": (alphas, [[0.1, 0.9], [0.5, 0.5]])}, tmp_path / "a.png", ["x", "y"])
    with pytest.raises(ValueError, match="base_point must be 2 finite scores"):
        pareto_plot({"PARM": (alphas, alphas)}, tmp_path / "b.png", ["x", "y"], base_point=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"fronts\['PARM'\] must be a pair"):
        pareto_plot({"PARM": alphas}, tmp_path / "c.png", ["x", "y"])
    with pytest.raises(ValueError, match=r"fronts\['PARM'\] points must be a \(points, objectives\) array"):
        pareto_plot({"PARM": (alphas, [[0.1, 0.9], [0.5], [0.2, 0.2]])}, tmp_path / "d.png", ["x", "y"])
    with pytest.raises(TypeError, match="objective_names must be a list of strings"):
        pareto_plot({"PARM": (alphas, alphas)}, tmp_path / "e.png", "xy")
    assert not list(tmp_path.iterdir())


def test_spearman_over_constant_scores_is_undefined_not_zero():
    weights = [0.0, 0.5, 1.0]
    constant = np.full((3, 4), 0.25)
    result = spearman_over_resampled_prompts(weights, constant, resamples=50)
    assert result["spearman"] is None and result["interval_low"] is None and result["interval_high"] is None
    assert result["share_at_least_threshold"] == 0.0
    assert (
        spearman_over_resampled_prompts([0.5, 0.5, 0.5], np.arange(12.0).reshape(3, 4), resamples=50)["spearman"]
        is None
    )


def test_a_sweep_with_a_constant_objective_reports_none_and_skips_its_resampling():
    points = [
        {"alpha": alpha, "scores": {"a": alpha[0], "b": 0.5}, "per_prompt": {"a": [alpha[0]] * 3, "b": [0.5] * 3}}
        for alpha in preference_grid(2, 0.5)
    ]
    sweep = {
        "objectives": ["a", "b"],
        "alphas": preference_grid(2, 0.5),
        "points": points,
        "base": {"scores": {"a": 0.2, "b": 0.4}},
    }
    metrics = summarise_sweep(sweep)
    assert metrics["spearman_score_vs_weight"] == {"a": 1.0, "b": None}
    assert set(metrics["spearman_over_resampled_prompts"]) == {"a"}
