"""PARMDataCollator: the pairs of a batch as left-padded sequences (the data itself: see `preference_data`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..data.chat import position_ids_from_mask
from .preference_data import (  # noqa: F401  (kept importable from here, where they used to live)
    MULTI_LABEL_COLUMNS,
    PAIR_WEIGHTS_COLUMN,
    PREFERENCE_COLUMNS,
    PreferenceTokenizer,
    build_grouped_dataset,
    check_text_field,
    resolve_objectives,
)

REFERENCE_REWARD_COLUMNS = ("reference_first_rewards", "reference_second_rewards")  # (pairs, k) per row and side


@dataclass
class PARMDataCollator:
    """Flattens the pairs of a batch into 2P left-padded sequences (every first response, then every second).

    Left padding puts every completion at the end, so the trainer only computes logits for the last
    (longest completion + 1) positions. Position ids follow the mask. Precomputed reference rewards, where the rows
    hold them, come out in the same order as `reference_rewards` (2P, k); each pair's loss weight, where the rows
    hold them, as `pair_weights` (P,).
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
        weights = [weight for row in rows for weight in row.get(PAIR_WEIGHTS_COLUMN, ())]
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
        if weights:
            batch[PAIR_WEIGHTS_COLUMN] = torch.tensor(weights, dtype=torch.float32)
        if reference_rewards:
            batch["reference_rewards"] = torch.tensor(reference_rewards, dtype=torch.float32)
        return batch
