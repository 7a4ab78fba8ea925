"""Each response's reward under the reference (the PBLoRA adapter disabled), computed once before training: the
reference never changes, so a log-ratio reward need not run the frozen model again on every step."""

from __future__ import annotations

from collections.abc import Callable

import torch
from datasets import Dataset
from peft import PeftModel

from .data_collator import REFERENCE_REWARD_COLUMNS


def with_reference_rewards(
    dataset: Dataset,
    model: PeftModel,
    batch_inputs: Callable[[list[dict]], dict[str, torch.Tensor]],
    rewards: Callable[[PeftModel, dict[str, torch.Tensor]], torch.Tensor],
    batch_size: int,
) -> Dataset:
    """`dataset` with the columns `REFERENCE_REWARD_COLUMNS`: per row, each pair's first and second response's
    (k,) reward with the adapter disabled. `batch_inputs` collates rows onto the model's device and `rewards` scores
    them, (2P, k) as in training. A dataset that already has the columns passes through."""
    if REFERENCE_REWARD_COLUMNS[0] in dataset.column_names:
        return dataset
    was_training = model.training
    model.eval()
    columns: dict[str, list] = {column: [] for column in REFERENCE_REWARD_COLUMNS}
    with torch.no_grad(), model.disable_adapter():
        for start in range(0, len(dataset), batch_size):
            rows = [dataset[index] for index in range(start, min(start + batch_size, len(dataset)))]
            inputs = batch_inputs(rows)
            scores = rewards(model, inputs).float().cpu()
            pair_rows = inputs["pair_rows"].cpu()
            first, second = scores[: len(pair_rows)], scores[len(pair_rows) :]
            for row_index in range(len(rows)):
                columns["reference_first_rewards"].append(first[pair_rows == row_index].tolist())
                columns["reference_second_rewards"].append(second[pair_rows == row_index].tolist())
    model.train(was_training)
    for column, values in columns.items():
        dataset = dataset.add_column(column, values)
    return dataset
