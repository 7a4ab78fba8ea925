"""Pairs a rule adds to each objective's made pairs with the objective's own scorer: against the empty answer
(`non_answer_pairs`), or an answer against itself less one sentence (`sentence_edit_pairs`); and how many each rule
added, with a warning for the objectives it added none to."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence

from datasets import Dataset, DatasetDict, concatenate_datasets

from ..evaluation.scorers import Scorer
from ..trainer.preference_data import OPTIONAL_PAIR_COLUMNS

logger = logging.getLogger(__name__)


def with_added_pairs(
    data: DatasetDict,
    scorers: Sequence[Scorer],
    rows_of: Callable[[Dataset, Scorer], dict[str, list]],
    kind: str,
    matched: Collection[str] = (),
) -> DatasetDict:
    """`data` (objective -> pairs with `prompt`, `chosen`, `rejected`, `score_gap`) with the rows `rows_of(pairs,
    scorer)` gives each objective appended, its scorer taken from `scorers` by name; the `matched` objectives
    (length- or score-matched) get none; where the pairs have a `weight` column, an added row without one weighs 1,
    and where they have an `unfinished` column, an added row without one is a whole answer.
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
        for column, default in OPTIONAL_PAIR_COLUMNS.items():
            if column in pairs.column_names and column not in added:
                added = {**added, column: [default] * len(added["prompt"])}
        extra = Dataset.from_dict({column: added[column] for column in pairs.column_names}, features=pairs.features)
        extended[name] = concatenate_datasets([pairs, extra])
    return DatasetDict(extended)


def with_default_columns(pairs: Dataset, columns: Collection[str]) -> Dataset:
    """`pairs` with each of the optional `columns` (`OPTIONAL_PAIR_COLUMNS`) it lacks, at its default in every row."""
    for column in columns:
        if column not in pairs.column_names:
            pairs = pairs.add_column(column, [OPTIONAL_PAIR_COLUMNS[column]] * len(pairs))
    return pairs


def counted(before: DatasetDict, after: DatasetDict) -> tuple[DatasetDict, dict[str, int]]:
    """`after`, with how many pairs a rule appended to each objective's pairs in `before`."""
    return after, {name: len(after[name]) - len(before[name]) for name in after}


def warn_of_objectives_without_added_pairs(added: dict[str, dict[str, int]], matched: Collection[str]) -> None:
    """Log, per rule that was asked for (`added`: rule -> objective -> pairs added), the objectives it added no pair
    to and why: a length- or score-matched objective gets none by design, any other had none to give."""
    for rule, counts in added.items():
        skipped = [name for name in counts if name in matched]
        empty = [name for name, count in counts.items() if count == 0 and name not in matched]
        if skipped:
            logger.warning("%s: none for %s, length- or score-matched (no rule adds pairs to those)", rule, skipped)
        if empty:
            logger.warning("%s: none found for %s; their pairs are the sampled ones only", rule, empty)
