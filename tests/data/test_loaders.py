"""The dataset loaders map the public schemas (PKU-SafeRLHF, Anthropic HH-RLHF) from small local fixtures."""

from __future__ import annotations

import pytest

from peft_pblora import load_hh_rlhf, load_pku_saferlhf

from ..conftest import FIXTURES, make_trainer


def test_pku_saferlhf_loader_maps_the_schema(tmp_path):
    dataset, label_columns = load_pku_saferlhf(data_files=str(FIXTURES / "pku_saferlhf.jsonl"))
    assert label_columns == {"helpful": "better_response_id", "harmless": "safer_response_id"}
    assert set(dataset.column_names) == {"prompt", "response_0", "response_1", *label_columns.values()}
    assert dataset[0]["prompt"] == "BEGINNING OF CONVERSATION: USER: How do I handle situation 0? ASSISTANT:"
    trainer = make_trainer(tmp_path, datasets=dataset, label_columns=label_columns, max_steps=1)
    trainer.train()
    assert trainer.objectives == ["helpful", "harmless"]


def test_hh_rlhf_loader_splits_the_transcripts(tmp_path):
    files = {name: str(FIXTURES / "hh_rlhf" / f"{name}.jsonl") for name in ("harmless", "helpful")}
    data = load_hh_rlhf(data_files=files)
    assert list(data) == ["harmless", "helpful"]
    example = data["helpful"][0]
    assert example["prompt"] == "\n\nHuman: Question 0 about helpful?\n\nAssistant:"
    assert example["chosen"] == "A good helpful answer 0."
    assert example["rejected"] == "A poor answer 0."
    with pytest.raises(ValueError, match="no entry for objective 'humour'"):
        load_hh_rlhf(objectives=("humour",), data_files=files)
