"""Preference data for PARM: per-objective datasets or multi-label pairs, tokenized into one grouped format.

Every training row holds one or more response pairs that share a prompt and a label matrix (pairs x k): +1 where
the first response is preferred for objective i, -1 where the second is, 0 where the pair says nothing about i.
- {objective: Dataset} in TRL's preference format (prompt / chosen / rejected, plain text or conversational): row j
  takes example j of every objective's dataset (shorter datasets cycle), so each step sees every objective, as in
  PARM's Algorithm 1.
- One Dataset with prompt / response_0 / response_1 and one label column per objective holding the index (0 or 1)
  of the preferred response (PKU-SafeRLHF: better_response_id, safer_response_id): one pair per row carries every
  objective's label, so one forward over the two responses gives all k losses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from datasets import Dataset

from ..data.chat import position_ids_from_mask
from ..tuners.pblora.checks import check_optional_length

PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")
MULTI_LABEL_COLUMNS = ("prompt", "response_0", "response_1")
REFERENCE_REWARD_COLUMNS = ("reference_first_rewards", "reference_second_rewards")  # (pairs, k) per row and side


def _check_columns(dataset: Dataset, required: tuple[str, ...], what: str) -> None:
    if not isinstance(dataset, Dataset):
        raise ValueError(f"{what} must be a datasets.Dataset, got {type(dataset).__name__}")
    missing = [column for column in required if column not in dataset.column_names]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; it has {dataset.column_names}")
    if len(dataset) == 0:
        raise ValueError(f"{what} is empty")


def resolve_objectives(
    dataset: Dataset | Mapping[str, Dataset], label_columns: Mapping[str, str] | None, what: str
) -> list[str]:
    """Objective names in alpha order: the dict's key order, or `label_columns`' order for a multi-label dataset."""
    if isinstance(dataset, Mapping):
        if len(dataset) == 0:
            raise ValueError(f"{what} has no objectives")
        for name, part in dataset.items():
            _check_columns(part, PREFERENCE_COLUMNS, f"{what}[{name!r}]")
        return list(dataset)
    if not label_columns:
        raise ValueError(
            f"{what} is one dataset: pass label_columns in PARMConfig (objective -> column holding the index of the "
            "preferred response), or pass a dict {objective: Dataset} with prompt/chosen/rejected columns"
        )
    _check_columns(dataset, MULTI_LABEL_COLUMNS + tuple(label_columns.values()), what)
    return list(label_columns)


class PreferenceTokenizer:
    """Tokenizes a prompt and a response the way the PARM scores them: prompt (chat template if conversational),
    then the response and EOS; the prompt keeps its last `max_prompt_length` tokens, the whole its first
    `max_length`."""

    def __init__(self, tokenizer: Any, max_prompt_length: int | None, max_length: int | None) -> None:
        if tokenizer.eos_token_id is None:
            raise ValueError("The tokenizer has no eos_token: the reward includes the EOS token")
        self.tokenizer = tokenizer
        self.max_prompt_length = check_optional_length(max_prompt_length, "max_prompt_length")
        self.max_length = check_optional_length(max_length, "max_length")

    def prompt_ids(self, prompt: str | list[dict]) -> list[int]:
        if isinstance(prompt, list):
            text = self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = self.tokenizer(prompt)["input_ids"]
        return ids[-self.max_prompt_length :] if self.max_prompt_length else ids

    def full_response_ids(self, response: str | list[dict]) -> list[int]:
        """The response's tokens and EOS, before any cut."""
        if isinstance(response, list):
            response = "".join(message["content"] for message in response if message.get("role") == "assistant")
        return self.tokenizer(response, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]

    def response_ids(self, response: str | list[dict], prompt_length: int) -> list[int]:
        ids = self.full_response_ids(response)
        if self.max_length:
            ids = ids[: max(1, self.max_length - prompt_length)]
        return ids

    def pair_ids(
        self, example: Mapping[str, Any], columns: tuple[str, str, str], where: str
    ) -> tuple[list[int], list[int], list[int]]:
        """(prompt, first response, second response) ids of one example; refuses a pair the cut would ruin.

        A prompt of no tokens leaves the first response token unpredicted; a prompt of `max_length` tokens or more
        leaves no room for the responses; two different responses cut to the same tokens make a pair whose margin
        is 0 whatever the model does. Each is a ValueError naming the dataset, row and columns.
        """
        prompt_column, first_column, second_column = columns
        for column in columns:
            check_text_field(example[column], column, where)
        prompt = self.prompt_ids(example[prompt_column])
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
        first_full = self.full_response_ids(example[first_column])
        second_full = self.full_response_ids(example[second_column])
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


def build_grouped_dataset(
    dataset: Dataset | Mapping[str, Dataset],
    objectives: list[str],
    label_columns: Mapping[str, str] | None,
    tokenizer: PreferenceTokenizer,
    what: str = "train_dataset",
) -> Dataset:
    """Tokenize into rows of pairs: prompt_input_ids, first_input_ids, second_input_ids and preference_labels.

    Every row is checked before the dataset is built: a bad field raises a ValueError naming `what`, the objective,
    the row and the column.
    """
    k = len(objectives)
    columns = ("prompt_input_ids", "first_input_ids", "second_input_ids", "preference_labels")
    rows: dict[str, list] = {column: [] for column in columns}
    if isinstance(dataset, Mapping):
        parts = [dataset[name] for name in objectives]
        for index in range(max(len(part) for part in parts)):
            prompts, firsts, seconds, labels = [], [], [], []
            for objective, (name, part) in enumerate(zip(objectives, parts, strict=True)):
                row = index % len(part)
                where = f"{what}[{name!r}] row {row}"
                prompt, first, second = tokenizer.pair_ids(part[row], PREFERENCE_COLUMNS, where)
                prompts.append(prompt)
                firsts.append(first)
                seconds.append(second)
                labels.append([1 if other == objective else 0 for other in range(k)])
            for key, value in zip(rows, (prompts, firsts, seconds, labels), strict=True):
                rows[key].append(value)
        return Dataset.from_dict(rows)
    for index, example in enumerate(dataset):
        where = f"{what} row {index}"
        prompt, first, second = tokenizer.pair_ids(example, MULTI_LABEL_COLUMNS, where)
        label = []
        for objective in objectives:
            preferred = example[label_columns[objective]]
            if isinstance(preferred, bool) or preferred not in (0, 1):
                raise ValueError(
                    f"{where}: label column {label_columns[objective]!r} must hold 0 or 1, got {preferred!r}"
                )
            label.append(1 if preferred == 0 else -1)
        rows["prompt_input_ids"].append([prompt])
        rows["first_input_ids"].append([first])
        rows["second_input_ids"].append([second])
        rows["preference_labels"].append([label])
    return Dataset.from_dict(rows)


@dataclass
class PARMDataCollator:
    """Flattens the pairs of a batch into 2P left-padded sequences (every first response, then every second).

    Left padding puts every completion at the end, so the trainer only computes logits for the last
    (longest completion + 1) positions. Position ids follow the mask. Precomputed reference rewards, where the rows
    hold them, come out in the same order as `reference_rewards` (2P, k).
    """

    pad_token_id: int

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        prompts, completions, pair_rows, labels = [], [], [], []
        for side in ("first_input_ids", "second_input_ids"):
            for row_index, row in enumerate(rows):
                for prompt, completion in zip(row["prompt_input_ids"], row[side], strict=True):
                    prompts.append(prompt)
                    completions.append(completion)
                    if side == "first_input_ids":
                        pair_rows.append(row_index)
        for row in rows:
            labels.extend(row["preference_labels"])
        reference_rewards = [
            rewards for side in REFERENCE_REWARD_COLUMNS if side in rows[0] for row in rows for rewards in row[side]
        ]
        length = max(len(prompt) + len(completion) for prompt, completion in zip(prompts, completions, strict=True))
        input_ids = torch.full((len(prompts), length), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), length), dtype=torch.long)
        completion_mask = torch.zeros((len(prompts), length), dtype=torch.long)
        for index, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            sequence = prompt + completion
            input_ids[index, length - len(sequence) :] = torch.tensor(sequence)
            attention_mask[index, length - len(sequence) :] = 1
            completion_mask[index, length - len(completion) :] = 1
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids_from_mask(attention_mask),
            "completion_mask": completion_mask,
            "preference_labels": torch.tensor(labels, dtype=torch.long),
            "pair_rows": torch.tensor(pair_rows, dtype=torch.long),
            "num_rows": torch.tensor(len(rows)),
            "completion_length": torch.tensor(max(len(completion) for completion in completions)),
        }
        if reference_rewards:
            batch["reference_rewards"] = torch.tensor(reference_rewards, dtype=torch.float32)
        return batch
