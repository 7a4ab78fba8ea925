"""Preference data for PARM: TRL's preference formats rendered by TRL's data utilities, tokenized with datasets.map.

Every prepared row holds one or more response pairs that share a prompt, and a label matrix (pairs x k): +1 where the
first response is preferred for objective i, -1 where the second is, 0 where the pair says nothing about i.
- {objective: Dataset} in TRL's preference format (prompt / chosen / rejected, or chosen / rejected with the prompt
  implicit, plain text or conversational): row j takes example j of every objective's dataset (shorter datasets
  cycle), so each step sees every objective, as in PARM's Algorithm 1.
- One Dataset with prompt / response_0 / response_1 (the prompt may be implicit too) and one label column per
  objective holding the index (0 or 1) of the preferred response (PKU-SafeRLHF: better_response_id,
  safer_response_id): one pair per row carries every objective's label, so one forward gives all k losses.

Rendering follows TRL (`trl.data_utils`): `maybe_extract_prompt` takes the shared prefix of the two responses as the
prompt where there is no prompt column; conversational rows go through `apply_chat_template` (with the row's
`tools` and `chat_template_kwargs`), so a response keeps the chat template's end-of-turn tokens; plain-text
responses end with EOS. PARM's own form, a conversational prompt with plain-text responses, renders the prompt by the
chat template and ends each response with EOS. Prompt and response are tokenized separately, so their boundary is
a token boundary, as guided decoding sees it (TRL's DPO tokenizes them together and splits where they diverge: the
same tokens wherever the response starts at a token boundary).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from datasets import Dataset, concatenate_datasets
from trl.data_utils import apply_chat_template, is_conversational, maybe_extract_prompt
from trl.trainer.utils import global_then_local_main_first

from ..tuners.pblora.checks import check_optional_length

PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")
MULTI_LABEL_COLUMNS = ("prompt", "response_0", "response_1")
GROUPED_COLUMNS = ("prompt_input_ids", "first_input_ids", "second_input_ids", "preference_labels")
WEIGHT_COLUMN = "weight"  # optional: a pair's loss weight, 1 where the column is absent
UNFINISHED_COLUMN = "unfinished"  # optional: True where both responses are an answer's beginning, ended by no EOS
OPTIONAL_PAIR_COLUMNS = {WEIGHT_COLUMN: 1.0, UNFINISHED_COLUMN: False}  # each optional column's value where absent
PAIR_WEIGHTS_COLUMN = "pair_weights"  # in a prepared row: one loss weight per pair
_PAIR_COLUMNS = ("prompt_ids", "first_ids", "second_ids", "pair_weight")
_GROUPED_FROM_PAIR = dict(zip(_PAIR_COLUMNS, (*GROUPED_COLUMNS[:3], PAIR_WEIGHTS_COLUMN), strict=True))


def _check_columns(dataset: Any, required: tuple[str, ...], what: str) -> None:
    if not isinstance(dataset, Dataset):
        raise ValueError(f"{what} must be a datasets.Dataset, got {type(dataset).__name__}")
    missing = [column for column in required if column not in dataset.column_names]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; it has {dataset.column_names}")
    if len(dataset) == 0:
        raise ValueError(f"{what} is empty")


def is_prepared(dataset: Any) -> bool:
    """Whether `dataset` is already in the trainer's tokenized form (a Dataset holding GROUPED_COLUMNS)."""
    return isinstance(dataset, Dataset) and all(column in dataset.column_names for column in GROUPED_COLUMNS)


def resolve_objectives(
    dataset: Dataset | Mapping[str, Dataset], label_columns: Mapping[str, str] | None, what: str
) -> list[str]:
    """Objective names in alpha order: the dict's key order, or `label_columns`' order for a multi-label dataset.

    The prompt column may be missing (TRL's implicit-prompt format: the responses' shared prefix is the prompt).
    """
    if isinstance(dataset, Mapping):
        if len(dataset) == 0:
            raise ValueError(f"{what} has no objectives")
        for name, part in dataset.items():
            _check_columns(part, PREFERENCE_COLUMNS[1:], f"{what}[{name!r}]")
        return list(dataset)
    if not label_columns:
        raise ValueError(
            f"{what} is one dataset: pass label_columns in PARMConfig (objective -> column holding the index of the "
            "preferred response), or pass a dict {objective: Dataset} with prompt/chosen/rejected columns"
        )
    _check_columns(dataset, MULTI_LABEL_COLUMNS[1:] + tuple(label_columns.values()), what)
    return list(label_columns)


def check_text_field(value: Any, column: str, where: str) -> None:
    """A prompt or response must be a string or a list of chat messages with string contents."""
    if isinstance(value, str):
        return
    if (
        isinstance(value, list)
        and value
        and all(isinstance(message, Mapping) and isinstance(message.get("content"), str) for message in value)
    ):
        return
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    raise ValueError(
        f"{where}: column {column!r} must hold text or a list of chat messages, got {type(value).__name__} {shown}"
    )


class RenderedPair(NamedTuple):
    """One example as text: `chat_prompt` where the chat template rendered the prompt (its special tokens are in
    the text), `add_eos` where the responses are plain text that end with EOS."""

    prompt: str
    first: str
    second: str
    chat_prompt: bool
    add_eos: bool


class PreferenceTokenizer:
    """Renders and tokenizes one preference example the way the PARM scores it (see the module docstring); the
    prompt keeps its last `max_prompt_length` tokens, prompt + response their first `max_length`."""

    def __init__(self, tokenizer: Any, max_prompt_length: int | None, max_length: int | None) -> None:
        if tokenizer.eos_token_id is None:
            raise ValueError("The tokenizer has no eos_token: the reward includes the EOS token")
        self.tokenizer = tokenizer
        self.max_prompt_length = check_optional_length(max_prompt_length, "max_prompt_length")
        self.max_length = check_optional_length(max_length, "max_length")

    def render(self, example: Mapping[str, Any], columns: tuple[str, str, str], where: str) -> RenderedPair:
        """The example's prompt and responses as text, by TRL's rules (see the module docstring)."""
        prompt_column, first_column, second_column = columns
        view = {"chosen": example[first_column], "rejected": example[second_column]}
        has_prompt = prompt_column in example  # a column of None values is refused, not taken as implicit
        if has_prompt:
            check_text_field(example[prompt_column], prompt_column, where)
            view["prompt"] = example[prompt_column]
        check_text_field(view["chosen"], first_column, where)
        check_text_field(view["rejected"], second_column, where)
        conversational = is_conversational({"chosen": view["chosen"]})
        if conversational != is_conversational({"rejected": view["rejected"]}):
            raise ValueError(
                f"{where}: columns {first_column!r} and {second_column!r} must both be text or both chat messages"
            )
        mixed = has_prompt and is_conversational({"prompt": view["prompt"]}) and not conversational
        if not mixed:  # PARM's own form keeps its conversational prompt; TRL would re-extract it from the responses
            view = maybe_extract_prompt(view)
            if not view["prompt"] and not has_prompt:
                raise ValueError(
                    f"{where}: there is no {prompt_column!r} column and columns {first_column!r} and "
                    f"{second_column!r} share no prefix to take as the prompt (TRL's implicit-prompt format)"
                )
        tools = example.get("tools")
        tools = json.loads(tools) if isinstance(tools, str) else tools
        template_kwargs = dict(example.get("chat_template_kwargs") or {})
        if conversational:
            rendered = apply_chat_template(view, self.tokenizer, tools=tools, **template_kwargs)
            return RenderedPair(rendered["prompt"], rendered["chosen"], rendered["rejected"], True, False)
        if mixed:
            prompt = apply_chat_template({"prompt": view["prompt"]}, self.tokenizer, tools=tools, **template_kwargs)
            return RenderedPair(prompt["prompt"], view["chosen"], view["rejected"], True, True)
        return RenderedPair(view["prompt"], view["chosen"], view["rejected"], False, True)

    def _ids(self, text: str, special_tokens: bool) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special_tokens)["input_ids"]

    def pair_ids(
        self, example: Mapping[str, Any], columns: tuple[str, str, str], where: str
    ) -> tuple[list[int], list[int], list[int]]:
        """(prompt, first response, second response) ids of one example; refuses a pair the cut would ruin.

        A prompt of no tokens leaves the first response token unpredicted; a prompt of `max_length` tokens or more
        leaves no room for the responses; two different responses cut to the same tokens make a pair whose margin
        is 0 whatever the model does. Each is a ValueError naming the dataset, row and columns.
        """
        prompt_column, first_column, second_column = columns
        rendered = self.render(example, columns, where)
        # a plain-text prompt gets the tokenizer's special tokens (BOS), as TRL; a rendered chat prompt has them
        prompt = self._ids(rendered.prompt, special_tokens=not rendered.chat_prompt)
        if self.max_prompt_length:
            prompt = prompt[-self.max_prompt_length :]
        if not prompt:
            raise ValueError(
                f"{where}: column {prompt_column!r} tokenizes to no tokens; the first response token would be scored "
                "without a prefix. Give every pair a non-empty prompt"
            )
        if self.max_length is not None and len(prompt) >= self.max_length:
            raise ValueError(
                f"{where}: the prompt keeps {len(prompt)} tokens (max_prompt_length={self.max_prompt_length}) but "
                f"max_length={self.max_length} leaves no room for the responses; raise max_length or set a "
                "max_prompt_length below it"
            )
        unfinished = responses_unfinished(example, where)
        if unfinished and not rendered.add_eos:
            raise ValueError(
                f"{where}: column {UNFINISHED_COLUMN!r} is True but the responses are chat messages, which the chat "
                "template ends with its end-of-turn tokens; give an unfinished pair's responses as plain text"
            )
        eos = self.tokenizer.eos_token_id
        first_full, second_full = self._ids(rendered.first, False), self._ids(rendered.second, False)
        if rendered.add_eos and not unfinished:  # as TRL, plain-text responses end with EOS unless they already do
            first_full += [eos] if first_full[-1:] != [eos] else []
            second_full += [eos] if second_full[-1:] != [eos] else []
        unfinished_sides = ((first_column, first_full), (second_column, second_full)) if unfinished else ()
        for column, ids in unfinished_sides:
            if not ids or ids[-1] == eos:
                raise ValueError(
                    f"{where}: column {UNFINISHED_COLUMN!r} is True but column {column!r} "
                    + ("tokenizes to no tokens" if not ids else "ends with the EOS token")
                    + "; an unfinished response is an answer's beginning: non-empty, with no end of answer"
                )
        if self.max_length is None:
            return prompt, first_full, second_full
        room = self.max_length - len(prompt)
        first, second = first_full[:room], second_full[:room]
        if first == second and first_full != second_full:
            raise ValueError(
                f"{where}: columns {first_column!r} and {second_column!r} become identical when cut to "
                f"max_length={self.max_length} ({room} response tokens after a {len(prompt)}-token prompt), so the "
                "pair could not be told apart; raise max_length or drop the row"
            )
        return prompt, first, second

    def answer_ids(self, prompt: Any, answer: Any, where: str = "answer") -> tuple[list[int], list[int]]:
        """(prompt, answer) ids of one answer, as `pair_ids` renders it in a pair: to score or extend a single answer
        the way training scores it."""
        prompt_ids, answer_ids, _ = self.pair_ids({"prompt": prompt, "chosen": answer, "rejected": answer},
                                                  PREFERENCE_COLUMNS, where)  # fmt: skip
        return prompt_ids, answer_ids


def is_loss_weight(value: Any) -> bool:
    """Whether `value` can weigh a pair's loss: a finite number >= 0 (not a bool)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value >= 0


def pair_weight(example: Mapping[str, Any], row: str) -> float:
    """The pair's loss weight: its `weight` column (a pair of weight w counts as w pairs), 1 where there is none.

    Args:
        example (Mapping): one row of preference data.
        row (str): where the row is, named in the error.

    Raises:
        ValueError: If the weight is anything but a finite number >= 0.

    Example:
        >>> pair_weight({"chosen": "Yes.", "weight": 2}, "row 0"), pair_weight({"chosen": "Yes."}, "row 1")
        (2.0, 1.0)
    """
    if WEIGHT_COLUMN not in example:
        return 1.0
    value = example[WEIGHT_COLUMN]
    if not is_loss_weight(value):
        raise ValueError(
            f"{row}: column {WEIGHT_COLUMN!r} must hold a finite number >= 0 (the pair's loss weight), got {value!r}"
        )
    return float(value)


def responses_unfinished(example: Mapping[str, Any], row: str) -> bool:
    """Whether the pair's responses are an answer's beginning (its `unfinished` column), so that neither ends with
    EOS: a pair that differs in its last word then cannot win its margin by where the answer ends. False where there
    is no such column.

    Raises:
        ValueError: If the value is anything but True or False.

    Example:
        >>> responses_unfinished({"chosen": "Yes, **bold**", "unfinished": True}, "row 0")
        True
    """
    value = example.get(UNFINISHED_COLUMN, OPTIONAL_PAIR_COLUMNS[UNFINISHED_COLUMN])
    if not isinstance(value, bool):
        raise ValueError(f"{row}: column {UNFINISHED_COLUMN!r} must hold True or False, got {value!r}")
    return value


def _tokenize_pair(
    example: dict[str, Any],
    index: int,
    tokenizer: PreferenceTokenizer,
    columns: tuple[str, str, str],
    where: str,
    label_columns: list[str] | None,
) -> dict[str, Any]:
    """One row's ids (and, for the multi-label form, its labels +1 / -1 per objective); refusals name the row."""
    row = f"{where} row {index}"
    prompt, first, second = tokenizer.pair_ids(example, columns, row)
    weight = pair_weight(example, row)
    output = dict(zip(_PAIR_COLUMNS, (prompt, first, second, weight), strict=True))
    if label_columns is not None:
        labels = []
        for column in label_columns:
            preferred = example[column]
            if isinstance(preferred, bool) or preferred not in (0, 1):
                raise ValueError(f"{row}: label column {column!r} must hold 0 or 1, got {preferred!r}")
            labels.append(1 if preferred == 0 else -1)
        output = {
            "prompt_input_ids": [prompt],
            "first_input_ids": [first],
            "second_input_ids": [second],
            "preference_labels": [labels],
            PAIR_WEIGHTS_COLUMN: [weight],
        }
    return output


def _group_objectives(batch: dict[str, list], k: int) -> dict[str, list]:
    """Stack the k objectives' pairs of each row (columns `<name>_<objective index>`) into one row of k pairs."""
    rows = len(batch[f"{_PAIR_COLUMNS[0]}_0"])
    grouped = {
        target: [[batch[f"{source}_{objective}"][row] for objective in range(k)] for row in range(rows)]
        for source, target in _GROUPED_FROM_PAIR.items()
    }
    identity = [[1 if other == objective else 0 for other in range(k)] for objective in range(k)]
    grouped["preference_labels"] = [identity] * rows
    return grouped


def build_grouped_dataset(
    dataset: Dataset | Mapping[str, Dataset],
    objectives: list[str],
    label_columns: Mapping[str, str] | None,
    tokenizer: PreferenceTokenizer,
    what: str = "train_dataset",
    num_proc: int | None = None,
) -> Dataset:
    """Tokenize into rows of pairs: prompt_input_ids, first_input_ids, second_input_ids, preference_labels and
    pair_weights (each pair's `weight` column, 1 where the dataset has none).

    Runs `datasets.map` (with `num_proc` processes, cached where the data is file-backed) under TRL's
    `global_then_local_main_first`, so in a multi-process run the main process tokenizes first and the others read
    its cache. A bad field raises a ValueError naming `what`, the objective, the row and the column.
    """
    map_kwargs: dict[str, Any] = {"with_indices": True, "num_proc": num_proc}
    with global_then_local_main_first():
        if not isinstance(dataset, Mapping):
            return dataset.map(
                _tokenize_pair,
                fn_kwargs={
                    "tokenizer": tokenizer,
                    "columns": MULTI_LABEL_COLUMNS,
                    "where": what,
                    "label_columns": [label_columns[objective] for objective in objectives],
                },
                remove_columns=dataset.column_names,
                desc=f"Tokenizing {what}",
                **map_kwargs,
            )
        parts = []
        rows = max(len(dataset[name]) for name in objectives)
        for index, name in enumerate(objectives):
            part = dataset[name]
            tokenized = part.map(
                _tokenize_pair,
                fn_kwargs={
                    "tokenizer": tokenizer,
                    "columns": PREFERENCE_COLUMNS,
                    "where": f"{what}[{name!r}]",
                    "label_columns": None,
                },
                remove_columns=part.column_names,
                desc=f"Tokenizing {what}[{name!r}]",
                **map_kwargs,
            )
            if len(tokenized) < rows:  # shorter datasets cycle
                tokenized = tokenized.select([row % len(tokenized) for row in range(rows)])
            parts.append(tokenized.rename_columns({column: f"{column}_{index}" for column in _PAIR_COLUMNS}))
        combined = concatenate_datasets(parts, axis=1)
        return combined.map(
            _group_objectives,
            fn_kwargs={"k": len(objectives)},
            batched=True,
            remove_columns=combined.column_names,
            num_proc=num_proc,
            desc=f"Grouping {what}'s objectives",
        )
