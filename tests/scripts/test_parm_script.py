"""The launch script `peft_pblora.scripts.parm`: TrlParser round trip, a short training run, and its refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from datasets import Dataset, DatasetDict
from peft import PeftConfig, PeftModel

from peft_pblora.scripts.parm import main, make_parser

from ..conftest import REPO, tiny_llama
from .parm_inputs import small_run_settings, write_config, write_model, write_objective_files


def test_yaml_config_and_flags_parse_into_the_four_argument_groups(tmp_path):
    config = write_config(
        tmp_path / "parm.yaml",
        {
            "model_name_or_path": "some/model", "output_dir": str(tmp_path / "out"), "use_cpu": True,
            "bf16": False, "objective_datasets": {"helpful": "data/helpful.jsonl", "harmless": {"path": "x/y"}},
            "eval_preferences": [[1.0, 0.0], [0.0, 1.0]], "beta_r": [0.5, 0.01], "r1": 2, "learning_rate": 1e-3,
            "lora_target_modules": ["q_proj", "v_proj"], "dtype": "bfloat16",
        },
    )  # fmt: skip
    flags = ["--config", str(config), "--learning_rate", "5e-4", "--r2", "8", "--lora_alpha", "16"]
    script, training, model, pblora = make_parser().parse_args_and_config(flags)
    assert script.objective_datasets == {"helpful": "data/helpful.jsonl", "harmless": {"path": "x/y"}}
    assert training.eval_preferences == [[1.0, 0.0], [0.0, 1.0]] and training.beta_r == [0.5, 0.01]
    assert training.learning_rate == 5e-4  # the flag wins over the file
    assert (pblora.r1, pblora.r2, pblora.core) == (2, 8, "bilinear")
    assert (model.model_name_or_path, model.dtype, model.lora_alpha) == ("some/model", "bfloat16", 16)
    assert model.lora_target_modules == ["q_proj", "v_proj"]

    # the command line's forms: JSON for dict fields, numbers for preferences
    flags = ["--config", str(config), "--objective_datasets", '{"a": "a.jsonl", "b": "b.jsonl", "c": "c.jsonl"}']
    flags += ["--eval_preferences", "1,0,0", "0,0.5,0.5"]
    script, training, _, _ = make_parser().parse_args_and_config(flags)
    assert list(script.objective_datasets) == ["a", "b", "c"]  # the alpha order
    assert training.eval_preferences == [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]
    flags = ["--output_dir", "o", "--dataset_name", "d", "--label_columns", '{"x": "x_id", "y": "y_id"}']
    flags += ["--eval_preferences", "1", "0", "0.5", "0.5", "--use_cpu", "--bf16", "false"]
    script, training, model, _ = make_parser().parse_args_and_config(flags)
    assert script.dataset_name == "d" and script.objective_datasets is None
    assert training.label_columns == {"x": "x_id", "y": "y_id"}
    assert training.eval_preferences == [[1.0, 0.0], [0.5, 0.5]]
    assert model.lora_alpha == 8 and model.dtype == "float32"  # PBLoRA's scale numerator; TRL's dtype


def test_the_module_trains_saves_an_adapter_peft_loads_and_evaluates(tmp_path):
    model_dir = write_model(tmp_path / "model")
    sources = write_objective_files(tmp_path / "data", rows=8, test_rows=2)
    files = {split: f"{sources['second_word']}/{split}.jsonl" for split in ("train", "test")}
    sources["second_word"] = {"path": "json", "data_files": files}  # load_dataset's arguments
    settings = small_run_settings(model_dir, tmp_path / "parm", objective_datasets=sources, do_eval=True)
    config = write_config(tmp_path / "parm.yaml", settings)
    command = [sys.executable, "-m", "peft_pblora.scripts.parm", "--config", str(config), "--max_steps", "2"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = PeftConfig.from_pretrained(tmp_path / "parm")
    assert saved.objective_names == ["first_word", "second_word"] and (saved.r1, saved.r2) == (2, 2)
    assert json.loads((tmp_path / "parm" / "trainer_state.json").read_text())["global_step"] == 2
    metrics = json.loads((tmp_path / "parm" / "eval_results.json").read_text())
    assert "eval_first_word_accuracy@alpha=(1,0)" in metrics
    base = tiny_llama(seed=1)
    ids = torch.tensor([[10, 11, 12, 5]])
    with torch.no_grad():
        before = base(ids).logits
        parm = PeftModel.from_pretrained(base, tmp_path / "parm").eval()
        after = parm(ids, preference=[1.0, 0.0]).logits
    assert not torch.allclose(before, after)  # trained: B started at zero, so an untrained adapter changes nothing


@pytest.fixture
def data(tmp_path):
    """A model folder, per-objective folders, a multi-label dataset saved to disk, and a settings factory."""
    model_dir = write_model(tmp_path / "model")
    sources = write_objective_files(tmp_path / "pairs", rows=4)
    multi = Dataset.from_dict(
        {"prompt": ["w10 w11"] * 2, "response_0": ["w5", "w6"], "response_1": ["w6", "w5"], "a_id": [0, 1]}
    )
    DatasetDict(train=multi).save_to_disk(tmp_path / "multi")
    (tmp_path / "no_rejected.jsonl").write_text(json.dumps({"prompt": "w10", "chosen": "w5"}) + "\n")

    def arguments(**overrides) -> list[str]:
        settings = small_run_settings(model_dir, tmp_path / "out", **overrides)
        return ["--config", str(write_config(tmp_path / "parm.yaml", settings))]

    return sources, arguments, tmp_path


@pytest.mark.parametrize(
    "case, message",
    [
        ("nothing", "give either objective_datasets .* got neither"),
        ("both", "not both"),
        ("missing_file", r"objective_datasets\['second_word'\]: './nowhere/pairs.jsonl' does not exist"),
        ("missing_column", r"objective_datasets\['second_word'\] split 'train' is missing column\(s\) \['rejected'\]"),
        ("missing_split", r"objective_datasets\['first_word'\] has no split 'test'; it has \['train'\]"),
        ("unknown_objective", r"length_normalized_rewards names unknown objective\(s\) \['brevity'\]"),
        ("label_columns_with_pairs", "label_columns name the label columns of one multi-label dataset"),
        ("no_label_columns", "is one multi-label dataset: set label_columns"),
        ("missing_label_column", r"is missing column\(s\) \['b_id'\]"),
        ("lora_rank", "lora_r=8 is LoRA's rank; PBLoRA's ranks are r1"),
        ("dora", r"\['use_dora'\] are LoRA options"),
    ],
)
def test_bad_input_is_a_value_error_naming_it_before_the_model_loads(data, case, message):
    sources, arguments, tmp_path = data
    pairs = {"objective_datasets": sources}
    label_columns = ["--label_columns", '{"a": "a_id", "b": "b_id"}']
    no_rejected = str(tmp_path / "no_rejected.jsonl")
    overrides, flags = {
        "nothing": ({}, []),
        "both": (pairs, ["--dataset_name", str(tmp_path / "multi")]),
        "missing_file": ({"objective_datasets": {**sources, "second_word": "./nowhere/pairs.jsonl"}}, []),
        "missing_column": ({"objective_datasets": {**sources, "second_word": no_rejected}}, []),
        "missing_split": (pairs, ["--do_eval"]),
        "unknown_objective": (pairs, ["--length_normalized_rewards", "brevity"]),
        "label_columns_with_pairs": (pairs, ["--label_columns", '{"first_word": "a_id"}']),
        "no_label_columns": ({"dataset_name": str(tmp_path / "pairs" / "first_word")}, []),
        "missing_label_column": ({"dataset_name": str(tmp_path / "multi")}, label_columns),
        "lora_rank": (pairs, ["--lora_r", "8"]),
        "dora": (pairs, ["--use_dora"]),
    }[case]  # fmt: skip
    with pytest.raises(ValueError, match=message):
        main(arguments(**overrides) + flags)
    assert not (tmp_path / "out").exists()  # refused before anything was trained or saved


def test_objective_datasets_that_are_not_a_mapping_of_sources_are_refused():
    parser = make_parser()
    for value, message in [("helpful=data", "JSON object"), ('{"a": 3}', "dataset id or path"),
                           ('{"a": {"split": "x"}}', "must give 'path'")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            parser.parse_args_and_config(["--output_dir", "o", "--objective_datasets", value])


def test_a_multi_label_dataset_reads_the_label_columns_saved_beside_it(data):
    _, arguments, tmp_path = data
    multi = DatasetDict.load_from_disk(tmp_path / "multi")
    multi["train"] = multi["train"].add_column("b_id", [1, 1])
    multi.save_to_disk(tmp_path / "multi2")
    (tmp_path / "multi2" / "label_columns.json").write_text(json.dumps({"b": "b_id", "a": "a_id"}))
    main(arguments(dataset_name=str(tmp_path / "multi2"), max_steps=1))
    assert PeftConfig.from_pretrained(tmp_path / "out").objective_names == ["b", "a"]
