"""Pairs a rule adds to each objective's made pairs with the objective's own scorer: against the empty answer
(`non_answer_pairs`), or an answer against itself less one sentence (`sentence_edit_pairs`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from datasets import Dataset, DatasetDict, concatenate_datasets

from ..evaluation.scorers import Scorer
from ..trainer.preference_data import WEIGHT_COLUMN


def with_added_pairs(
    data: DatasetDict,
    scorers: Sequence[Scorer],
    rows_of: Callable[[Dataset, Scorer], dict[str, list]],
    kind: str,
    matched: Collection[str] = (),
) -> DatasetDict:
    """`data` (objective -> pairs with `prompt`, `chosen`, `rejected`, `score_gap`) with the rows `rows_of(pairs,
    scorer)` gives each objective appended, its scorer taken from `scorers` by name; the `matched` objectives
    (length- or score-matched) get none; where the pairs have a `weight` column, an added row without one weighs 1.
    Raises ValueError naming `kind` where an objective has no scorer."""
    by_name = {scorer.name: scorer for scorer in scorers}
    missing = [name for name in data if name not in by_name]
    if missing:
        raise ValueError(f"no scorer for objective(s) {missing}: {kind} need one each")
    extended = {}
    for name, pairs in data.items():
        added = rows_of(pairs, by_name[name]) if name not in matched else {"prompt": []}
        if not added["prompt"]:
            extended[name] = pairs
            continue
        if WEIGHT_COLUMN in pairs.column_names and WEIGHT_COLUMN not in added:
            added = {**added, WEIGHT_COLUMN: [1.0] * len(added["prompt"])}
        extra = Dataset.from_dict({column: added[column] for column in pairs.column_names}, features=pairs.features)
        extended[name] = concatenate_datasets([pairs, extra])
    return DatasetDict(extended)
