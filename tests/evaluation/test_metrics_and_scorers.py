"""The Pareto harness against hand-computed values, and the scorers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from transformers import LlamaForSequenceClassification

from peft_pblora import (
    Conciseness,
    PromptRelevance,
    Scorer,
    SequenceClassifierScorer,
    Thoroughness,
    VaderPositivity,
    hypervolume,
    linearly_supported,
    mean_inner_product,
    non_dominated,
    normalise,
    pareto_plot,
    preference_grid,
    spearman_over_resampled_prompts,
)

from ..conftest import tiny_llama, tiny_tokenizer


def test_preference_grid():
    grid = preference_grid(2, 0.1)
    assert len(grid) == 11 and grid[0] == [1.0, 0.0] and grid[-1] == [0.0, 1.0]
    assert all(abs(sum(alpha) - 1) < 1e-12 and min(alpha) >= 0 for alpha in grid)
    three = preference_grid(3, 0.5)
    assert sorted(map(tuple, three)) == sorted(
        [(1, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 1, 0), (0, 0.5, 0.5), (0, 0, 1)]
    )
    assert len(preference_grid(3, 0.1)) == 66
    with pytest.raises(ValueError, match="step must divide 1"):
        preference_grid(2, 0.3)


def test_hypervolume_by_hand():
    # two rectangles 1 x 2 and 2 x 1 overlapping in a 1 x 1 square
    assert hypervolume([[1, 2], [2, 1]], [0, 0]) == pytest.approx(3.0)
    assert hypervolume([[1, 2, 3]], [0, 0, 0]) == pytest.approx(6.0)
    assert hypervolume([[1, 2], [-1, 5]], [0, 0]) == pytest.approx(2.0), "a point below the reference adds nothing"
    assert hypervolume([[-1, -1]], [0, 0]) == 0.0
    with pytest.raises(ValueError, match="reference_point has 3 values"):
        hypervolume([[1, 2]], [0, 0, 0])


def test_non_dominated_mip_and_normalise():
    points = [[1.0, 2.0], [2.0, 1.0], [1.5, 1.5], [0.5, 0.5]]
    assert non_dominated(points).tolist() == [True, True, True, False]
    alphas = [[1.0, 0.0], [0.0, 1.0]]
    assert mean_inner_product(alphas, [[0.8, 0.1], [0.2, 0.6]]) == pytest.approx((0.8 + 0.6) / 2)
    normalised = normalise([[2.0, 10.0], [4.0, 10.0]], low=[2.0, 10.0], high=[4.0, 10.0])
    assert normalised.tolist() == [[0.0, 0.0], [1.0, 0.0]]


def test_linearly_supported_points_against_hand_cases_and_a_dense_weight_scan():
    # (0.6, 0.6) beats both vertices at equal weights; (0.4, 0.4) loses to one of them at every weighting
    assert linearly_supported([[1, 0], [0, 1], [0.6, 0.6]]).tolist() == [True, True, True]
    assert linearly_supported([[1, 0], [0, 1], [0.4, 0.4]]).tolist() == [True, True, False]
    assert linearly_supported([[0.3, 0.3], [0.5, 0.5]]).tolist() == [False, True], "a dominated point"
    assert linearly_supported([[0.2, 0.7]]).tolist() == [True]
    lengths = np.linspace(0, 1, 11)
    bowed_in = np.c_[1 - lengths, lengths**2]  # conciseness vs thoroughness over answer lengths
    bowed_out = np.c_[np.cos(lengths * np.pi / 2), np.sin(lengths * np.pi / 2)]
    assert linearly_supported(bowed_in).tolist() == [True] + [False] * 9 + [True]
    assert linearly_supported(bowed_out).all()
    rng = np.random.default_rng(0)
    cloud = rng.random((25, 3))
    weights = rng.dirichlet(np.ones(3), 20000)
    picked = np.zeros(25, dtype=bool)
    picked[np.unique((weights @ cloud.T).argmax(axis=1))] = True
    mask = linearly_supported(cloud)
    assert mask.sum() >= 3 and (~mask).sum() >= 3, "the case must have both kinds"
    assert (mask == picked).all(), "the linear programmes agree with picking by many random weightings"


def test_spearman_over_resampled_prompts_against_a_hand_written_resampling():
    weights = [1.0, 0.75, 0.5, 0.25, 0.0]
    rng = np.random.default_rng(1)
    rising = np.outer(weights, np.ones(30)) + np.arange(30)  # prompts differ, but every one rises with the weight
    result = spearman_over_resampled_prompts(weights, rising)
    assert result["spearman"] == pytest.approx(1.0) and result["share_at_least_threshold"] == 1.0
    assert result["interval_low"] == pytest.approx(1.0)
    assert spearman_over_resampled_prompts(weights, -rising)["interval_high"] == pytest.approx(-1.0)

    noisy = 0.1 * np.outer(weights, np.ones(40)) + rng.normal(0, 0.3, (5, 40))  # a trend within the noise
    result = spearman_over_resampled_prompts(weights, noisy, threshold=0.9, resamples=4000)
    hand = []
    for _ in range(4000):
        prompts = rng.integers(0, 40, 40)
        hand.append(scipy.stats.spearmanr(weights, noisy[:, prompts].mean(axis=1)).statistic)
    hand = np.asarray(hand)
    assert 0.05 < result["share_at_least_threshold"] < 0.95, "the case must be one where resampling matters"
    assert result["share_at_least_threshold"] == pytest.approx(np.mean(hand >= 0.9 - 1e-9), abs=0.04)
    assert result["interval_low"] == pytest.approx(np.quantile(hand, 0.05), abs=0.11)
    with pytest.raises(ValueError, match="weights has 2 values"):
        spearman_over_resampled_prompts([1.0, 0.0], noisy)
    with pytest.raises(ValueError, match="at least two prompts"):
        spearman_over_resampled_prompts(weights, noisy[:, :1])


def test_pareto_plots_are_written(tmp_path):
    alphas = preference_grid(2, 0.5)
    path = pareto_plot(
        {"PARM": (alphas, [[0.1, 0.9], [0.5, 0.5], [0.9, 0.1]])},
        tmp_path / "front.png",
        ["positivity", "conciseness"],
        base_point=[0.3, 0.3],
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    alphas3 = preference_grid(3, 0.5)
    points3 = [[a * 2, b, c] for a, b, c in alphas3]
    path3 = pareto_plot({"PARM": (alphas3, points3)}, tmp_path / "front3.png", ["a", "b", "c"])
    assert path3.stat().st_size > 1000
    alphas4 = preference_grid(4, 0.5)
    path4 = pareto_plot({"PARM": (alphas4, alphas4)}, tmp_path / "front4.png", ["a", "b", "c", "d"], [0.2] * 4)
    assert path4.stat().st_size > path3.stat().st_size  # six projections against three
    with pytest.raises(ValueError, match="2 or more objectives, got 1"):
        pareto_plot({}, tmp_path / "x.png", ["a"])
    with pytest.raises(ValueError, match=r"fronts\['PARM'\]: points have 2 objectives, expected 3"):
        pareto_plot({"PARM": (alphas, [[0.1, 0.9]] * 3)}, tmp_path / "y.png", ["a", "b", "c"])


def test_offline_scorers():
    prompts = ["Tell me about gardening tomatoes", "Tell me about gardening tomatoes"]
    responses = ["I love gardening, tomatoes are wonderful and great!", "This is awful. Terrible tomatoes."]
    positivity = VaderPositivity()(prompts, responses)
    assert positivity[0] > 0.5 and positivity[1] < -0.4
    assert Conciseness(max_words=10)(["q", "q", "q"], ["one two", "", " ".join(["w"] * 20)]) == [0.8, 0.0, 0.0]
    relevance = PromptRelevance()(["Explain photosynthesis in plants"], ["Plants use photosynthesis for energy."])
    assert relevance == [pytest.approx(1.0)]
    assert PromptRelevance()(["Explain photosynthesis in plants"], ["Cats sleep a lot."]) == [0.0]
    assert Thoroughness(max_words=10)(["q"] * 3, ["one two", "", " ".join(["w"] * 20)]) == [
        pytest.approx(0.04),
        0.0,
        1.0,
    ]
    with pytest.raises(ValueError, match="max_words must be >= 1"):
        Thoroughness(max_words=0)
    scorers = (
        VaderPositivity(),
        VaderPositivity(per_sentence=False),
        Conciseness(),
        PromptRelevance(),
        Thoroughness(),
    )
    for scorer in scorers:
        assert isinstance(scorer, Scorer)
        with pytest.raises(ValueError, match="2 prompts but 1 responses"):
            scorer(["a", "b"], ["c"])


def test_positivity_is_the_mean_of_sentence_compounds_so_length_does_not_raise_it():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    compound = lambda text: SentimentIntensityAnalyzer().polarity_scores(text)["compound"]  # noqa: E731
    short = "Great question, I am happy to help!"
    long = short + " Water is good for you. Drink it daily! Happy and healthy days are wonderful."
    listed = "Tips:\n1. Rest well.\n2. Smile, it is lovely!"
    per_sentence = VaderPositivity()(["q"] * 4, [short, long, listed, ""])
    assert per_sentence[0] == pytest.approx(compound(short))
    expected_long = [compound(short), compound("Water is good for you."), compound("Drink it daily!")]
    expected_long.append(compound("Happy and healthy days are wonderful."))
    assert per_sentence[1] == pytest.approx(sum(expected_long) / 4)
    expected_listed = [compound("Tips:"), compound("Rest well."), compound("Smile, it is lovely!")]  # "1." dropped
    assert per_sentence[2] == pytest.approx(sum(expected_listed) / 3)
    assert per_sentence[3] == 0.0
    assert VaderPositivity().name == "positivity"
    assert VaderPositivity(per_sentence=False).name == "positivity_whole_text"
    whole = VaderPositivity(per_sentence=False)(["q"] * 2, [short, long])
    assert whole == [pytest.approx(compound(short)), pytest.approx(compound(long))]
    assert whole[1] > whole[0]  # the whole-text compound grows with more positive sentences
    assert per_sentence[1] < per_sentence[0]  # the per-sentence mean does not


def test_sequence_classifier_scorer_returns_the_models_logit():
    torch.manual_seed(0)
    config = tiny_llama().config
    config.num_labels = 1
    model = LlamaForSequenceClassification(config).eval()
    tokenizer = tiny_tokenizer()
    scorer = SequenceClassifierScorer(model, tokenizer, name="harmless", template="{prompt} {response}", sign=-1.0)
    prompts, responses = ["w5 w6", "w7"], ["w8", "w9 w10 w11"]
    scores = scorer(prompts, responses)
    with torch.no_grad():
        for prompt, response, score in zip(prompts, responses, scores, strict=True):
            logit = model(**tokenizer(f"{prompt} {response}", return_tensors="pt")).logits[0, 0]
            assert score == pytest.approx(-logit.item(), abs=1e-5)
    assert scorer.name == "harmless" and isinstance(scorer, Scorer)
