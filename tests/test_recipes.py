"""The recipe scripts end to end on tiny local models and data, and the shipped recipe configs."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest
import torch
import yaml
from datasets import load_from_disk
from transformers import LlamaForSequenceClassification

from peft_pblora.scripts.parm import main as train_parm
from peft_pblora.scripts.parm import make_parser

from .conftest import tiny_llama, tiny_tokenizer

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def test_relabel_and_train_recipes_run_end_to_end_on_tiny_models(tmp_path, monkeypatch, capsys):
    pku_rows = [
        {"prompt": f"w{3 + i % 5} w{10 + i}", "response_0": f"w5 w{20 + i}", "response_1": f"w6 w{30 + i}",
         "better_response_id": i % 2, "safer_response_id": 1 - i % 2}
        for i in range(12)
    ]  # fmt: skip
    data_file = tmp_path / "pku.jsonl"
    data_file.write_text("\n".join(json.dumps(row) for row in pku_rows))
    reward_dir = tmp_path / "reward"
    torch.manual_seed(0)
    config = tiny_llama().config
    config.num_labels = 1
    LlamaForSequenceClassification(config).save_pretrained(reward_dir)
    tiny_tokenizer().save_pretrained(reward_dir)
    data_dir = tmp_path / "data"
    relabel_argv = ["--source", "pku_saferlhf", "--data_files", str(data_file), "--output_dir", str(data_dir)]
    relabel_argv += ["--scorer", f"helpful={reward_dir}", "--scorer", f"harmless={reward_dir}:-1"]
    relabel_argv += ["--splits", "train=8", "dev=2", "test=2", "--device", "cpu", "--dtype", "float32"]
    monkeypatch.setattr(sys, "argv", ["relabel_pairs.py", *relabel_argv])
    runpy.run_path(str(RECIPES / "relabel_pairs.py"), run_name="__main__")
    splits = load_from_disk(str(data_dir))
    assert {name: len(split) for name, split in splits.items()} == {"train": 8, "dev": 2, "test": 2}
    train = splits["train"]
    assert train["harmless_score_0"] == [-score for score in train["helpful_score_0"]]  # the same model, sign -1
    assert [1 - label for label in train["helpful_better_response_id"]] == train["harmless_better_response_id"]
    label_columns = json.loads((data_dir / "label_columns.json").read_text())
    assert label_columns == {"helpful": "helpful_better_response_id", "harmless": "harmless_better_response_id"}

    model_dir = tmp_path / "parm-start"
    tiny_llama(seed=1).save_pretrained(model_dir)
    tiny_tokenizer().save_pretrained(model_dir)
    recipe_yaml = tmp_path / "train.yaml"
    recipe_yaml.write_text(
        yaml.safe_dump(
            {
                "model_name_or_path": str(model_dir), "dataset_name": str(data_dir), "dataset_test_split": "dev",
                "do_eval": True, "output_dir": str(tmp_path / "parm"), "r1": 2, "r2": 2,
                "lora_target_modules": ["q_proj", "v_proj"], "dtype": "float32", "max_steps": 2,
                "per_device_train_batch_size": 2, "max_length": 32, "report_to": "none", "use_cpu": True,
                "bf16": False, "eval_preferences": [[1.0, 0.0], [0.0, 1.0]], "save_strategy": "no",
            }
        )
    )  # fmt: skip
    train_parm(["--config", str(recipe_yaml)])  # what run.sh runs, `python -m peft_pblora.scripts.parm --config`
    adapter = json.loads((tmp_path / "parm" / "adapter_config.json").read_text())
    assert adapter["objective_names"] == ["helpful", "harmless"] and adapter["peft_type"] == "PBLORA"
    printed = capsys.readouterr().out
    assert "eval_" in printed and "helpful" in printed


@pytest.mark.parametrize("recipe", ["pku_saferlhf", "hh_rlhf_three_objectives"])
def test_shipped_recipe_configs_parse_into_the_launch_script_settings(recipe):
    config = str(RECIPES / recipe / "train.yaml")
    flags = ["--config", config, "--bf16", "false", "--use_cpu", "true"]  # the configs ask for bf16 on a GPU
    script_arguments, parm_config, model_config, pblora_arguments = make_parser().parse_args_and_config(flags)
    assert script_arguments.dataset_name.startswith("data/") and script_arguments.dataset_test_split == "dev"
    assert parm_config.do_eval and model_config.dtype == "bfloat16"
    assert model_config.lora_target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert model_config.load_in_4bit == (recipe == "pku_saferlhf")
    assert parm_config.learning_rate == 5e-4 and parm_config.num_train_epochs == 2
    assert parm_config.per_device_train_batch_size * parm_config.gradient_accumulation_steps == 32
    assert len(parm_config.eval_preferences[0]) == (2 if recipe == "pku_saferlhf" else 3)
    assert pblora_arguments.r1 == pblora_arguments.r2 == 4 and model_config.lora_alpha == 8


def test_accelerate_configs_name_their_strategy():
    expected = {"ddp": "MULTI_GPU", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED", "fsdp": "FSDP"}
    for name, strategy in expected.items():
        config = yaml.safe_load((RECIPES / "accelerate" / f"{name}.yaml").read_text())
        assert config["distributed_type"] == strategy and config["mixed_precision"] == "bf16"
    fsdp = yaml.safe_load((RECIPES / "accelerate" / "fsdp.yaml").read_text())["fsdp_config"]
    assert fsdp["fsdp_version"] == 2 and fsdp["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # one adapter file
    assert fsdp["fsdp_activation_checkpointing"] is False  # its wrapper hides the adapter from PEFT 0.21's save
    assert yaml.safe_load((RECIPES / "accelerate" / "zero3.yaml").read_text())["deepspeed_config"]["zero_stage"] == 3
