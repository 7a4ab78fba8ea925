"""Pairs against the empty answer: added per prompt where the objective's scorer ranks the empty answer lower."""

from __future__ import annotations

import pytest
from datasets import Dataset, DatasetDict

from peft_pblora.data import PairingOptions, build_preference_data, candidates, preference_pairs
from peft_pblora.data.length_following import length_sign
from peft_pblora.data.non_answer_pairs import non_answer_rows, with_non_answer_pairs

from ..conftest import CountWord


class PrefersSilence:
    """A scorer for which saying nothing is best: an empty answer scores 1, any other minus its word count."""

    name = "silence"

    def __call__(self, prompts, responses):
        return [1.0 if not response.split() else -float(len(response.split())) for response in responses]


def pairs(prompts, chosen, rejected) -> Dataset:
    return Dataset.from_dict(
        {"prompt": prompts, "chosen": chosen, "rejected": rejected, "score_gap": [1.0] * len(prompts)}
    )


def test_one_pair_per_prompt_with_its_first_chosen_answer_where_the_scorer_ranks_the_empty_answer_lower():
    made = pairs(["p1", "p1", "p2", "p3"], ["w5 w5", "w5", "w6", "w5 w5 w5"], ["w6", "w6 w6", "w5", "w6"])
    rows = non_answer_rows(made, CountWord("w5"))
    # p2's chosen answer counts no w5, as the empty answer: no pair; p1 keeps its first (largest-gap) chosen answer
    assert rows == {"prompt": ["p1", "p3"], "chosen": ["w5 w5", "w5 w5 w5"], "rejected": ["", ""], "score_gap": [2, 3]}
    assert non_answer_rows(made, PrefersSilence())["prompt"] == []  # silence is its best answer: nothing to teach


def test_with_non_answer_pairs_appends_them_per_objective_and_needs_every_scorer():
    data = DatasetDict(
        {
            "count_w5": pairs(["p1", "p2"], ["w5", "w5 w5"], ["w6", "w6"]),
            "silence": pairs(["p1", "p2"], ["w5", "w6"], ["w5 w5", "w6 w6 w6"]),
        }
    )
    extended = with_non_answer_pairs(data, [PrefersSilence(), CountWord("w5")])
    assert extended["count_w5"]["chosen"] == ["w5", "w5 w5", "w5", "w5 w5"]
    assert extended["count_w5"]["rejected"] == ["w6", "w6", "", ""]
    assert extended["silence"].to_dict() == data["silence"].to_dict()
    assert extended["count_w5"].features == data["count_w5"].features
    with pytest.raises(ValueError, match=r"no scorer for objective\(s\) \['silence'\]"):
        with_non_answer_pairs(data, [CountWord("w5")])


def test_added_pairs_weigh_1_where_the_pairs_have_a_weight_column():
    weighted = pairs(["p1", "p2"], ["w5", "w5 w5"], ["w6", "w6"]).add_column("weight", [2.0, 0.5])
    extended = with_non_answer_pairs(DatasetDict({"count_w5": weighted}), [CountWord("w5")])
    assert extended["count_w5"]["weight"] == [2.0, 0.5, 1.0, 1.0]
    assert extended["count_w5"]["rejected"] == ["w6", "w6", "", ""]


def test_the_length_sign_leaves_pairs_with_an_empty_answer_out():
    assert length_sign(["w5", "w5 w5", "w5"], ["w5 w6", "w5 w6 w6", ""]) == -1.0
    with pytest.raises(ValueError, match="no pairs of two non-empty answers"):
        length_sign(["w5"], [" "])


def test_build_preference_data_adds_them_after_the_made_pairs_and_records_it(tmp_path, monkeypatch):
    samples = [["w5 w5 w6", "w6", "w5"], ["w5", "w6 w6", "w5 w5"]]
    monkeypatch.setattr(candidates, "sample_responses", lambda *args, **kwargs: samples)
    scorers = [CountWord("w5"), PrefersSilence()]
    options = PairingOptions(non_answer_pairs=True)
    data = build_preference_data(None, None, ["p1", "p2"], scorers, tmp_path, show_progress=False, pairing=options)
    assert data["count_w5"]["chosen"] == ["w5 w5 w6", "w5 w5", "w5 w5 w6", "w5 w5"]
    assert data["count_w5"]["rejected"] == ["w6", "w6 w6", "", ""]
    assert "" not in data["silence"]["rejected"]
    assert preference_pairs.pairing_record(tmp_path)["non_answer_pairs"] is True
    for matched in ({"length_matched": ["count_w5"]}, {"score_matched": ["count_w5"], "max_score_difference": 5}):
        folder = tmp_path / next(iter(matched))
        options = PairingOptions(non_answer_pairs=True, **matched)
        data = build_preference_data(None, None, ["p1", "p2"], scorers, folder, show_progress=False, pairing=options)
        assert "" not in data["count_w5"]["rejected"]  # an empty answer matches no answer's length or scores
    with pytest.raises(TypeError, match="non_answer_pairs must be True or False"):
        PairingOptions(non_answer_pairs="yes")
