"""A run's own data: prompts (`--prompts`) and preference pairs per objective (`--preference_pairs`).

Prompts: a .txt file (one prompt a line), a .jsonl / .json file (records with a `prompt` field), a folder saved by
`datasets`' `save_to_disk`, or a Hugging Face dataset name (`load_dataset(name, split=...)`), each with a `prompt`
column. Pairs: TRL's preference format, `prompt` / `chosen` / `rejected`, in a .jsonl, .json or .csv file or a
saved dataset folder, with an optional `weight` column (a pair of weight w counts as w pairs) and an optional
`unfinished` column (True where both answers are a beginning, ended by no EOS); a conversational pair
(lists of messages) is read as its one user turn and the assistant's answers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, load_from_disk

from ..trainer.preference_data import UNFINISHED_COLUMN, WEIGHT_COLUMN, pair_weight, responses_unfinished

PAIR_COLUMNS = ("prompt", "chosen", "rejected")
FILE_SUFFIXES = (".txt", ".jsonl", ".json", ".csv")


def read_records(path: Path, what: str) -> list[dict]:
    """The records of a .jsonl (one JSON object a line), .json (a list of objects) or .csv file."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8").splitlines()
            records = [json.loads(line) for line in lines if line.strip()]
        elif suffix == ".json":
            records = json.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as file:
                records = list(csv.DictReader(file))
        else:
            raise ValueError(f"{what} {path} is not a .jsonl, .json or .csv file")
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {what} {path}: {error}") from error
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise ValueError(f"{what} {path} must hold records (JSON objects), one per line in .jsonl, a list in .json")
    return records


def dataset_split(data: Dataset | DatasetDict, split: str, what: str) -> Dataset:
    """A Dataset as it is, or one split of a DatasetDict (its only split, or `split`)."""
    if isinstance(data, Dataset):
        return data
    if split in data:
        return data[split]
    if len(data) == 1:
        return next(iter(data.values()))
    raise ValueError(f"{what} has splits {sorted(data)}, not {split!r}")


def load_table(source: str, split: str, what: str, hub: bool) -> Dataset:
    """A file's records, a saved dataset folder, or (with `hub`) a Hugging Face dataset, as a Dataset."""
    path = Path(source)
    if path.is_dir():
        try:
            data = load_from_disk(str(path))
        except Exception as error:
            raise ValueError(
                f"cannot load {what} {source}: not a folder saved by datasets' save_to_disk ({error})"
            ) from error
        return dataset_split(data, split, f"{what} {source}")
    if path.suffix.lower() in FILE_SUFFIXES:
        if not path.is_file():
            raise ValueError(f"{what} {source} does not exist")
        if path.suffix.lower() == ".txt":
            lines = path.read_text(encoding="utf-8").splitlines()
            return Dataset.from_dict({"prompt": [line.strip() for line in lines if line.strip()]})
        records = read_records(path, what)
        try:
            return Dataset.from_list(records) if records else Dataset.from_dict({})
        except Exception as error:  # e.g. a column of mixed types
            raise ValueError(f"cannot read {what} {path} as a table: {error}") from error
    if not hub:
        raise ValueError(f"{what} {source} is not a .jsonl, .json or .csv file nor a saved dataset folder")
    import datasets

    try:
        data = datasets.load_dataset(source, split=split)
    except Exception as error:
        raise ValueError(
            f"cannot load {what} {source!r}: not a .txt, .jsonl or .json file, a saved dataset folder nor a Hugging "
            f"Face dataset with split {split!r} ({type(error).__name__}: {error})"
        ) from error
    return dataset_split(data, split, f"{what} {source}")


def message_text(value: Any, role: str) -> str | None:
    """A text as it is; a conversational value (a list of {role, content} messages) as its `role` messages' text;
    None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(message, dict) for message in value):
        texts = [str(message.get("content", "")) for message in value if message.get("role") == role]
        if role == "user" and len(texts) != 1:
            return None  # a multi-turn prompt is no one request
        return "".join(texts)
    return None


def load_prompts(source: str, split: str = "train") -> list[str]:
    """The prompts of a .txt file (one a line), .jsonl / .json file or dataset (a `prompt` column), each once, in
    their order; blank ones dropped.

    Raises:
        ValueError: If the source cannot be read or has no `prompt` column.
    """
    table = load_table(source, split, "prompts", hub=True)
    if "prompt" not in table.column_names:
        raise ValueError(f"prompts {source} have no 'prompt' column (columns: {table.column_names})")
    prompts = []
    for index, value in enumerate(table["prompt"]):
        text = message_text(value, "user")
        if text is None:
            raise ValueError(f"prompts {source}: record {index}'s prompt is not a text nor a single user message")
        prompts.append(text.strip())
    return list(dict.fromkeys(prompt for prompt in prompts if prompt))


def parse_pair_sources(entries: Sequence[str]) -> dict[str, str]:
    """`objective=source` entries as {objective: source}.

    Raises:
        ValueError: If an entry has no `=` or an objective is given twice.
    """
    sources: dict[str, str] = {}
    for entry in entries:
        name, separator, source = entry.partition("=")
        if not separator or not name or not source:
            raise ValueError(f"preference_pairs entry {entry!r} is not objective=FILE")
        if name in sources:
            raise ValueError(f"preference_pairs gives objective {name!r} twice")
        sources[name] = source
    return sources


def load_pairs(source: str, objective: str) -> Dataset:
    """One objective's preference pairs (prompt, chosen, rejected, all texts, and a `weight` and an `unfinished`
    where the source has them: each pair's loss weight, whether its answers are a beginning) from a .jsonl, .json or
    .csv file or a saved dataset folder (its `train` split, or its only one); other columns are dropped.

    Raises:
        ValueError: If the source cannot be read, lacks one of the columns, holds no pair or a value that is no text.
    """
    what = f"preference pairs of {objective!r}"
    table = load_table(source, "train", what, hub=False)
    missing = [column for column in PAIR_COLUMNS if column not in table.column_names]
    if missing:
        raise ValueError(
            f"{what} ({source}) have no column(s) {missing}; TRL's preference format has prompt, chosen and "
            f"rejected (columns there: {table.column_names})"
        )
    if len(table) == 0:
        raise ValueError(f"{what} ({source}) hold no pair")
    readers = {WEIGHT_COLUMN: read_weight, UNFINISHED_COLUMN: read_unfinished}
    optional = [column for column in readers if column in table.column_names]
    kept = [*PAIR_COLUMNS, *optional]
    columns: dict[str, list] = {column: [] for column in kept}
    for index, row in enumerate(table.select_columns(kept)):
        for column in PAIR_COLUMNS:
            text = message_text(row[column], "user" if column == "prompt" else "assistant")
            if text is None:
                raise ValueError(
                    f"{what} ({source}): pair {index}'s {column} is not a text (or, conversational, a single user "
                    "turn as prompt and assistant messages as answers)"
                )
            columns[column].append(text)
        for column in optional:
            columns[column].append(readers[column](row[column], f"{what} ({source}) pair {index}"))
    return Dataset.from_dict(columns)


def read_weight(value: Any, where: str) -> float:
    """A pair's `weight` as a number: a .csv file's text read as one; refused as `pair_weight` refuses it."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    return pair_weight({WEIGHT_COLUMN: value}, where)


def read_unfinished(value: Any, where: str) -> bool:
    """A pair's `unfinished` as True or False: a .csv file's "true" / "false" (any case) read as one; refused as
    `responses_unfinished` refuses it."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        value = value.strip().lower() == "true"
    return responses_unfinished({UNFINISHED_COLUMN: value}, where)


def user_preference_data(pairs: dict[str, Dataset], cache_dir: str | Path) -> DatasetDict:
    """The user's pairs as the run's preference data in `cache_dir` (written once; a later call loads them)."""
    cache_dir = Path(cache_dir)
    if (cache_dir / "dataset_dict.json").is_file():
        cached = load_from_disk(str(cache_dir))
        if sorted(cached) != sorted(pairs):
            raise ValueError(
                f"{cache_dir} holds objectives {sorted(cached)}; remove it to rebuild for {sorted(pairs)}"
            )
        return cached
    data = DatasetDict(pairs)
    data.save_to_disk(str(cache_dir))
    return data


def load_preference_pairs(entries: Sequence[str], objectives: Sequence[str]) -> dict[str, Dataset]:
    """Every objective's pairs from `objective=source` entries ({objective: Dataset}, in the objectives' order).

    Raises:
        ValueError: If an entry is malformed, names no objective, an objective has no pairs, or a source cannot be
            read as pairs (see `load_pairs`).
    """
    sources = parse_pair_sources(entries)
    unknown = [name for name in sources if name not in objectives]
    missing = [name for name in objectives if name not in sources]
    if unknown or missing:
        problems = [f"no pairs for objective(s) {missing}"] if missing else []
        problems += [f"pairs for {unknown}, which are not objectives"] if unknown else []
        raise ValueError(
            f"preference_pairs: {'; '.join(problems)}; give objective=FILE for each of the objectives "
            f"{list(objectives)}"
        )
    return {name: load_pairs(sources[name], name) for name in objectives}
