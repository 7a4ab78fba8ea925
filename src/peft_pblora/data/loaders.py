"""Loaders for the public multi-objective preference datasets PARM was evaluated on, mapped to PARMTrainer's forms.

They call `datasets.load_dataset` with the real hub names; `data_files=` loads local JSON files of the same schema
instead (offline use, tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datasets import Dataset, load_dataset

PKU_SAFERLHF_10K = "PKU-Alignment/PKU-SafeRLHF-10K"
PKU_SAFERLHF = "PKU-Alignment/PKU-SafeRLHF"
PKU_LABEL_COLUMNS = {"helpful": "better_response_id", "harmless": "safer_response_id"}
PKU_PROMPT_TEMPLATE = "BEGINNING OF CONVERSATION: USER: {prompt} ASSISTANT:"
HH_RLHF = "Anthropic/hh-rlhf"
ASSISTANT_TURN = "\n\nAssistant:"


def load_pku_saferlhf(
    split: str = "train",
    dataset_name: str = PKU_SAFERLHF_10K,
    data_files: str | Sequence[str] | None = None,
    prompt_template: str | None = PKU_PROMPT_TEMPLATE,
) -> tuple[Dataset, dict[str, str]]:
    """PKU-SafeRLHF(-10K) as one multi-label dataset and its `label_columns` (helpful, harmless).

    Columns: prompt (in the official template unless `prompt_template=None`), response_0, response_1,
    better_response_id, safer_response_id. Pass the mapping as `PARMConfig(label_columns=...)`.
    """
    if data_files is not None:
        dataset = load_dataset("json", data_files=data_files, split="train")
    else:
        dataset = load_dataset(dataset_name, split=split)
    keep = ["prompt", "response_0", "response_1", *PKU_LABEL_COLUMNS.values()]
    missing = [column for column in keep if column not in dataset.column_names]
    if missing:
        raise ValueError(f"{dataset_name} is missing column(s) {missing}; it has {dataset.column_names}")
    dataset = dataset.select_columns(keep)
    if prompt_template is not None:
        dataset = dataset.map(lambda example: {"prompt": prompt_template.format(prompt=example["prompt"])})
    return dataset, dict(PKU_LABEL_COLUMNS)


def split_hh_transcript(transcript: str) -> tuple[str, str]:
    """Split an HH-RLHF transcript into (prompt up to and including the last 'Assistant:', final response)."""
    cut = transcript.rfind(ASSISTANT_TURN)
    if cut < 0:
        raise ValueError(f"HH-RLHF transcript without an '{ASSISTANT_TURN.strip()}' turn: {transcript[:80]!r}")
    cut += len(ASSISTANT_TURN)
    return transcript[:cut], transcript[cut:].strip()


def _hh_to_preference(example: dict) -> dict:
    prompt, chosen = split_hh_transcript(example["chosen"])
    _, rejected = split_hh_transcript(example["rejected"])
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def load_hh_rlhf(
    objectives: Sequence[str] = ("harmless", "helpful"),
    split: str = "train",
    dataset_name: str = HH_RLHF,
    data_files: Mapping[str, str | Sequence[str]] | None = None,
) -> dict[str, Dataset]:
    """Anthropic HH-RLHF as {objective: prompt/chosen/rejected dataset}, one per `<objective>-base` subset.

    `data_files` maps each objective to local JSON files with HH-RLHF's chosen/rejected transcript columns.
    """
    result = {}
    for objective in objectives:
        if data_files is not None:
            if objective not in data_files:
                raise ValueError(f"data_files has no entry for objective {objective!r}")
            raw = load_dataset("json", data_files=data_files[objective], split="train")
        else:
            raw = load_dataset(dataset_name, data_dir=f"{objective}-base", split=split)
        result[objective] = raw.map(_hh_to_preference, remove_columns=raw.column_names)
    return result
