"""The launch script's data: each objective's preference dataset (or one multi-label dataset) from a hub id, a
saved folder or local files, checked before the model is loaded so that bad input fails in seconds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

from ..trainer.parm_config import PARMConfig
from .arguments import PARMScriptArguments

FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet", ".arrow": "arrow"}
# the prompt column is the trainer's to check: TRL's implicit-prompt format has none (the responses' shared prefix)
PAIR_COLUMNS = ("chosen", "rejected")
MULTI_LABEL_COLUMNS = ("response_0", "response_1")
LABEL_COLUMNS_FILE = "label_columns.json"  # written by recipes/relabel_pairs.py beside the saved dataset


def load_source(source: str | Mapping[str, Any], what: str, dataset_config: str | None = None) -> DatasetDict:
    """All splits of one dataset: a folder saved with `save_to_disk`, a data file or folder, or a hub id (or a
    mapping of `load_dataset` arguments). A saved single `Dataset` or a data file is the `train` split.

    Raises:
        ValueError: If a local path does not exist, a file's format is unknown, or loading fails, naming `what`.
    """
    arguments = dict(source) if isinstance(source, Mapping) else {"path": source}
    if dataset_config is not None:
        arguments.setdefault("name", dataset_config)
    path = Path(arguments["path"]).expanduser()
    if path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
        loaded = load_from_disk(str(path))
        return loaded if isinstance(loaded, DatasetDict) else DatasetDict(train=loaded)
    if path.is_file():
        builder = FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise ValueError(f"{what}: {str(path)!r} is not a {'/'.join(FILE_BUILDERS)} file")
        arguments.update(path=builder, data_files=str(path))
    elif not path.exists() and looks_local(arguments["path"]):
        raise ValueError(f"{what}: {arguments['path']!r} does not exist")
    try:
        loaded = load_dataset(**arguments)
    except Exception as error:  # offline, not on the hub, unreadable files: say which dataset
        raise ValueError(f"{what}: could not load {arguments}: {type(error).__name__}: {error}") from error
    if not isinstance(loaded, DatasetDict):
        raise ValueError(f"{what}: streaming datasets are not supported, got {type(loaded).__name__}")
    return loaded


def looks_local(source: str) -> bool:
    """A path rather than a hub id: absolute, relative with a dot, home-relative, or ending like a data file."""
    return source.startswith(("/", "./", "../", "~")) or Path(source).suffix.lower() in FILE_BUILDERS


def pick_split(splits: DatasetDict, split: str, what: str) -> Dataset:
    if split not in splits:
        raise ValueError(f"{what} has no split {split!r}; it has {list(splits)}")
    return splits[split]


def load_parm_datasets(
    script_args: PARMScriptArguments, training_args: PARMConfig
) -> tuple[Dataset | dict[str, Dataset], Dataset | dict[str, Dataset] | None]:
    """The training data and, with `do_eval`, the evaluation data (the `dataset_test_split` of each dataset).

    One dataset per objective (`objective_datasets`) gives dicts in alpha order; one multi-label dataset
    (`dataset_name`) gives Datasets and, when `label_columns` is unset, reads them from the `label_columns.json`
    saved beside it (into `training_args`).

    Raises:
        ValueError: Naming the problem: no data or two kinds of data given, `label_columns` with per-objective data
            or missing for a multi-label one, streaming, a missing split, column or dataset, an objective named in
            `PARMConfig` that the data does not have.
    """
    if script_args.dataset_streaming:
        raise ValueError("dataset_streaming is not supported: the PARM trainer tokenizes the whole dataset first")
    if (script_args.objective_datasets is None) == (script_args.dataset_name is None):
        raise ValueError(
            "give either objective_datasets (objective -> prompt/chosen/rejected dataset) or dataset_name (one "
            "multi-label dataset with label_columns), "
            + ("not both" if script_args.dataset_name is not None else "got neither")
        )
    splits = [script_args.dataset_train_split] + ([script_args.dataset_test_split] if training_args.do_eval else [])
    if script_args.objective_datasets is not None:
        if training_args.label_columns is not None:
            raise ValueError(
                "label_columns name the label columns of one multi-label dataset (dataset_name); objective_datasets "
                "gives one prompt/chosen/rejected dataset per objective: remove one of them"
            )
        loaded = {
            name: load_source(source, f"objective_datasets[{name!r}]", script_args.dataset_config)
            for name, source in script_args.objective_datasets.items()
        }
        parts = [
            {name: pick_split(data, split, f"objective_datasets[{name!r}]") for name, data in loaded.items()}
            for split in splits
        ]
        for part, split in zip(parts, splits, strict=True):
            for name, data in part.items():
                check_columns(data, PAIR_COLUMNS, f"objective_datasets[{name!r}] split {split!r}")
        objectives = list(script_args.objective_datasets)
    else:
        what = f"dataset_name {script_args.dataset_name!r}"
        loaded = load_source(script_args.dataset_name, what, script_args.dataset_config)
        if training_args.label_columns is None:
            training_args.label_columns = saved_label_columns(script_args.dataset_name, what)
        parts = [pick_split(loaded, split, what) for split in splits]
        required = MULTI_LABEL_COLUMNS + tuple(training_args.label_columns.values())
        for part, split in zip(parts, splits, strict=True):
            check_columns(part, required, f"{what} split {split!r}")
        objectives = list(training_args.label_columns)
    check_named_objectives(training_args, objectives)
    train = truncate(parts[0], script_args.max_train_samples)
    return train, parts[1] if len(parts) > 1 else None


def saved_label_columns(source: str, what: str) -> dict[str, str]:
    path = Path(source).expanduser() / LABEL_COLUMNS_FILE
    if not path.is_file():
        raise ValueError(
            f"{what} is one multi-label dataset: set label_columns (objective -> column holding the index of the "
            f'preferred response, e.g. \'{{"helpful": "better_response_id"}}\'), or save {LABEL_COLUMNS_FILE} '
            "beside it"
        )
    return json.loads(path.read_text())


def check_columns(dataset: Dataset, required: tuple[str, ...], what: str) -> None:
    missing = [column for column in required if column not in dataset.column_names]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; it has {dataset.column_names}")
    if len(dataset) == 0:
        raise ValueError(f"{what} is empty")


def check_named_objectives(training_args: PARMConfig, objectives: list[str]) -> None:
    """Every objective a PARMConfig field names must be one of the data's."""
    for name in ("objective_names", "reference_relative_rewards", "length_normalized_rewards"):
        unknown = [objective for objective in getattr(training_args, name) or [] if objective not in objectives]
        if unknown:
            raise ValueError(f"{name} names unknown objective(s) {unknown}; the data's objectives are {objectives}")


def truncate(data: Dataset | dict[str, Dataset], rows: int | None) -> Dataset | dict[str, Dataset]:
    if rows is None:
        return data
    if isinstance(data, dict):
        return {name: part.select(range(min(rows, len(part)))) for name, part in data.items()}
    return data.select(range(min(rows, len(data))))
