"""Relabelling pairs by scorers and splitting a dataset, against hand-computed values."""

from __future__ import annotations

import pytest
from datasets import Dataset

from peft_pblora.data.relabel import relabel_pairs, split_dataset

from ..conftest import CountWord


def pairs() -> Dataset:
    return Dataset.from_dict(
        {
            "prompt": ["p1", "p2", "p3"],
            "response_0": ["w5 w5", "w6", "w5 w6"],
            "response_1": ["w6", "w5 w6 w6", "w6 w5"],
        }
    )


def test_relabelling_marks_the_higher_scored_response_per_objective():
    relabelled, label_columns = relabel_pairs(pairs(), [CountWord("w5"), CountWord("w6")])
    assert label_columns == {"count_w5": "count_w5_better_response_id", "count_w6": "count_w6_better_response_id"}
    assert relabelled["count_w5_better_response_id"] == [0, 1, 0]  # 2 > 0, 0 < 1, tie -> response 0
    assert relabelled["count_w6_better_response_id"] == [1, 1, 0]
    assert relabelled["count_w6_score_1"] == [1.0, 2.0, 1.0]
    with pytest.raises(ValueError, match=r"no column\(s\) \['response_1'\]"):
        relabel_pairs(pairs().remove_columns("response_1"), [CountWord("w5")])
    with pytest.raises(ValueError, match="distinct names"):
        relabel_pairs(pairs(), [CountWord("w5"), CountWord("w5")])


def test_splits_are_disjoint_sized_and_fixed_by_the_seed():
    dataset = Dataset.from_dict({"index": list(range(20))})
    splits = split_dataset(dataset, {"train": 12, "dev": 3, "test": 5}, seed=7)
    assert {name: len(split) for name, split in splits.items()} == {"train": 12, "dev": 3, "test": 5}
    seen = [index for split in splits.values() for index in split["index"]]
    assert sorted(seen) == list(range(20))
    assert (
        split_dataset(dataset, {"train": 12, "dev": 3, "test": 5}, seed=7)["test"]["index"] == splits["test"]["index"]
    )
    assert (
        split_dataset(dataset, {"train": 12, "dev": 3, "test": 5}, seed=8)["test"]["index"] != splits["test"]["index"]
    )
    with pytest.raises(ValueError, match="splits of 21 rows asked from a dataset of 20"):
        split_dataset(dataset, {"train": 20, "test": 1})
