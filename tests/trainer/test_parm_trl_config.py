"""PARMConfig on TRL's configuration base: TrlParser round trips, dict and preference-list fields, defaults."""

from __future__ import annotations

import warnings

import pytest
import torch
import yaml
from trl import ModelConfig, ScriptArguments, TrlParser

from peft_pblora import PARMConfig

LABELS = {"helpful": "better_response_id", "harmless": "safer_response_id"}


def parse(argv: list[str]) -> tuple[ScriptArguments, PARMConfig, ModelConfig]:
    parser = TrlParser((ScriptArguments, PARMConfig, ModelConfig))
    return parser.parse_args_and_config(argv)


def test_parm_config_is_a_trl_config_and_raises_no_warning():
    from trl.trainer.base_config import _BaseConfig

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        args = PARMConfig(output_dir="unused")
    assert isinstance(args, _BaseConfig)
    # TRL's defaults kept, and this project's own where TRL's would change a run silently
    assert (args.activation_checkpointing, args.logging_steps, args.remove_unused_columns) == (True, 10, False)
    assert args.bf16 == torch.cuda.is_available()  # TRL's base would turn bf16 on for CPU runs too
    assert (args.disable_dropout, args.dataset_num_proc, args.max_length, args.model_init_kwargs) == (
        True,
        None,
        1024,
        None,
    )
    assert args.precompute_ref_log_probs is True and args.learning_rate == 5e-5


def test_the_deprecated_checkpointing_name_still_works_with_its_warning():
    with pytest.warns(FutureWarning, match="gradient_checkpointing"):
        args = PARMConfig(output_dir="unused", gradient_checkpointing=False)
    assert args.activation_checkpointing is False


def test_flags_give_dict_fields_as_json_and_preferences_as_numbers(tmp_path):
    _, args, _ = parse(
        [
            "--dataset_name", "pairs", "--output_dir", str(tmp_path),
            "--label_columns", '{"helpful": "better_response_id", "harmless": "safer_response_id"}',
            "--model_init_kwargs", '{"dtype": "bfloat16", "revision": "main"}',
            "--eval_preferences", "1", "0", "0.5", "0.5",
            "--beta_r", "0.5", "0.01",
            "--length_normalized_rewards", "helpful",
        ]
    )  # fmt: skip
    assert args.label_columns == LABELS
    assert args.model_init_kwargs == {"dtype": "bfloat16", "revision": "main"}
    assert args.eval_preferences == [[1.0, 0.0], [0.5, 0.5]]  # k = 2 from label_columns
    assert args.beta_r == [0.5, 0.01] and args.length_normalized_rewards == ["helpful"]


@pytest.mark.parametrize(
    "words",
    [["[[1, 0], [0.5, 0.5]]"], ["1,0", "0.5,0.5"], ["[[1.0,0.0],[0.5,0.5]]"]],
)
def test_eval_preferences_take_json_or_comma_joined_vectors(tmp_path, words):
    _, args, _ = parse(["--dataset_name", "d", "--output_dir", str(tmp_path), "--eval_preferences", *words])
    assert args.eval_preferences == [[1.0, 0.0], [0.5, 0.5]]


def test_flat_eval_preferences_wait_for_the_trainer_to_know_k(tmp_path):
    _, args, _ = parse(
        ["--dataset_name", "d", "--output_dir", str(tmp_path), "--eval_preferences", "1", "0", "0", "1"]
    )
    assert args.eval_preferences == [1.0, 0.0, 0.0, 1.0]
    assert args.eval_preferences_for(2) == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="not a whole number of preferences of 3 objectives"):
        args.eval_preferences_for(3)
    with pytest.raises(ValueError, match="must sum to 1"):
        args.eval_preferences_for(4)


def test_yaml_config_and_flags_together_flags_win(tmp_path):
    config = {
        "dataset_name": "pairs",
        "output_dir": str(tmp_path / "from_yaml"),
        "label_columns": LABELS,
        "eval_preferences": [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]],
        "model_init_kwargs": {"dtype": "float32"},
        "beta_r": [0.01],
        "max_length": 256,
        "learning_rate": 5.0e-4,
        "model_name_or_path": "base",
        "lora_r": 8,
    }
    path = tmp_path / "parm.yaml"
    path.write_text(yaml.safe_dump(config))
    script, args, model = parse(
        ["--config", str(path), "--max_length", "128", "--eval_preferences", "0.25,0.75", "--dataset_num_proc", "2"]
    )
    assert script.dataset_name == "pairs" and model.model_name_or_path == "base" and model.lora_r == 8
    assert args.output_dir == str(tmp_path / "from_yaml") and args.learning_rate == 5e-4
    assert args.label_columns == LABELS and args.model_init_kwargs == {"dtype": "float32"}
    assert (args.max_length, args.dataset_num_proc) == (128, 2)  # the flags replace the file's values
    assert args.eval_preferences == [[0.25, 0.75]]
    script, args, model = parse(["--config", str(path)])
    assert args.eval_preferences == [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]] and args.max_length == 256


def test_a_yaml_string_for_a_dict_field_is_json_too(tmp_path):
    path = tmp_path / "parm.yaml"
    path.write_text(
        yaml.safe_dump({"output_dir": str(tmp_path), "dataset_name": "d", "label_columns": '{"a": "a_id"}'})
    )
    _, args, _ = parse(["--config", str(path)])
    assert args.label_columns == {"a": "a_id"}


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (dict(label_columns="helpful=better"), ValueError, "label_columns must be a JSON object"),
        (dict(label_columns='["helpful"]'), ValueError, "label_columns must be a JSON object"),
        (dict(model_init_kwargs="dtype=bfloat16"), ValueError, "model_init_kwargs must be a dict or a JSON object"),
        (dict(eval_preferences="[[1, 0], [0.5"), ValueError, "eval_preferences must be JSON"),
        (dict(eval_preferences=["1", "zero"]), ValueError, "'zero' is not a number"),
        (dict(eval_preferences=[1, 0, 1], objective_names=["a", "b"]), ValueError, "not a whole number"),
        (dict(eval_preferences=[[1, 0, 0]], objective_names=["a", "b"]), ValueError, "3 weights but there are 2"),
        (dict(dataset_num_proc=0), ValueError, "dataset_num_proc must be >= 1"),
        (dict(precompute_ref_batch_size=0), ValueError, "precompute_ref_batch_size must be >= 1"),
    ],
)
def test_malformed_command_line_values_are_refused_naming_the_field(tmp_path, overrides, error, message):
    with pytest.raises(error, match=message):
        PARMConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", **overrides)


def test_help_renders():
    parser = TrlParser((ScriptArguments, PARMConfig, ModelConfig))
    text = parser.format_help()  # argparse formats every help string: a stray '%' would raise here
    assert "--label_columns" in text and "--eval_preferences" in text and "%%" not in text
