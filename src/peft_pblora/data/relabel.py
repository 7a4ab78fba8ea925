"""Relabelling response pairs with scorers and splitting them: how PARM's official data is made.

The paper relabels PKU-SafeRLHF-10K's pairs with the Beaver reward (helpfulness) and cost (harmfulness) models and
splits it 8000 / 500 / 1500 with a fixed seed; the same two steps make a k-objective multi-label dataset for
PARMTrainer (`label_columns`) from any pairs and any k scorers (reward models, classifiers, programmatic scorers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datasets import Dataset, DatasetDict

from ..evaluation.scorers import Scorer


def relabel_pairs(
    dataset: Dataset,
    scorers: Sequence[Scorer],
    prompt_column: str = "prompt",
    response_columns: tuple[str, str] = ("response_0", "response_1"),
) -> tuple[Dataset, dict[str, str]]:
    """Score both responses of every pair with each scorer; add `<name>_score_0/1` and `<name>_better_response_id`.

    Returns the dataset and its `label_columns` ({objective: column}) for `PARMConfig(label_columns=...)`. The
    better response is the higher-scored one (a tie goes to response 0).
    """
    missing = [column for column in (prompt_column, *response_columns) if column not in dataset.column_names]
    if missing:
        raise ValueError(f"the dataset has no column(s) {missing}; it has {dataset.column_names}")
    names = [scorer.name for scorer in scorers]
    if not scorers or len(set(names)) != len(names):
        raise ValueError(f"give one or more scorers with distinct names, got {names}")
    prompts = list(dataset[prompt_column])
    label_columns = {}
    for scorer in scorers:
        first = scorer(prompts, list(dataset[response_columns[0]]))
        second = scorer(prompts, list(dataset[response_columns[1]]))
        better = [0 if score_0 >= score_1 else 1 for score_0, score_1 in zip(first, second, strict=True)]
        dataset = dataset.add_column(f"{scorer.name}_score_0", [float(value) for value in first])
        dataset = dataset.add_column(f"{scorer.name}_score_1", [float(value) for value in second])
        dataset = dataset.add_column(f"{scorer.name}_better_response_id", better)
        label_columns[scorer.name] = f"{scorer.name}_better_response_id"
    return dataset, label_columns


def split_dataset(dataset: Dataset, sizes: Mapping[str, int], seed: int = 0) -> DatasetDict:
    """Shuffle with `seed` and cut consecutive splits of the given sizes, e.g. {"train": 8000, "dev": 500, "test":
    1500} as the paper; the same seed always gives the same splits."""
    if any(size < 1 for size in sizes.values()):
        raise ValueError(f"split sizes must be >= 1, got {dict(sizes)}")
    if sum(sizes.values()) > len(dataset):
        raise ValueError(f"splits of {sum(sizes.values())} rows asked from a dataset of {len(dataset)}")
    shuffled = dataset.shuffle(seed=seed)
    splits, start = {}, 0
    for name, size in sizes.items():
        splits[name] = shuffled.select(range(start, start + size))
        start += size
    return DatasetDict(splits)
