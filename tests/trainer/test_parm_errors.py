"""PARMTrainer and PARMConfig refuse bad input before training, and parse and order what they are given."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset

from peft_pblora import PARMConfig, PARMTrainer

from ..conftest import disagreeing_datasets, make_trainer, parm_args, tiny_llama, tiny_tokenizer, trainer_pblora_config


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        ({"a": Dataset.from_dict({"prompt": ["w5"], "chosen": ["w6"]})}, r"train_dataset\['a'\] is missing column"),
        ({"a": Dataset.from_dict({"prompt": [], "chosen": [], "rejected": []})}, "is empty"),
        ({}, "has no objectives"),
        (Dataset.from_dict({"prompt": ["w5"], "chosen": ["w6"], "rejected": ["w7"]}), "pass label_columns"),
    ],
)
def test_bad_datasets_are_refused(tmp_path, datasets, message):
    with pytest.raises(ValueError, match=message):
        make_trainer(tmp_path, datasets=datasets)


def test_a_multi_label_dataset_missing_a_label_column(tmp_path):
    data = Dataset.from_dict({"prompt": ["w5"], "response_0": ["w6"], "response_1": ["w7"], "better": [0]})
    with pytest.raises(ValueError, match=r"missing column\(s\) \['safer'\]"):
        make_trainer(tmp_path, datasets=data, label_columns={"helpful": "better", "harmless": "safer"})


def test_objectives_must_match_num_preferences(tmp_path):
    with pytest.raises(ValueError, match="num_preferences=3 but the data has 2 objectives"):
        make_trainer(tmp_path, peft_config=trainer_pblora_config(num_preferences=3))
    with pytest.raises(ValueError, match="objective_names"):
        make_trainer(tmp_path, peft_config=trainer_pblora_config(objective_names=["x", "y"]))
    with pytest.raises(ValueError, match="do not match the dataset"):
        make_trainer(tmp_path, objective_names=["first_word", "third"])


def test_eval_dataset_objectives_must_match(tmp_path):
    eval_data = {"first_word": disagreeing_datasets()["first_word"]}
    with pytest.raises(ValueError, match="eval_dataset has objectives"):
        PARMTrainer(
            model=tiny_llama(),
            args=parm_args(tmp_path),
            train_dataset=disagreeing_datasets(),
            eval_dataset=eval_data,
            processing_class=tiny_tokenizer(),
            peft_config=trainer_pblora_config(),
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(beta_r=0.0), "beta_r must be positive"),
        (dict(beta_r=[0.1, -0.1]), "beta_r must be positive"),
        (dict(dirichlet_concentration=0), "dirichlet_concentration"),
        (dict(preference_sampling="token"), "preference_sampling"),
        (dict(scalarization="chebyshev"), "scalarization"),
        (dict(loss_type="hinge"), "loss_type"),
        (dict(preference_sampling="importance", scalarization="tchebycheff"), "only for a linear scalarization"),
    ],
)
def test_bad_config_values_are_refused(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        PARMConfig(output_dir=str(tmp_path), use_cpu=True, **overrides)


def test_a_beta_r_list_of_the_wrong_length_is_refused(tmp_path):
    with pytest.raises(ValueError, match="beta_r has 3 values but there are 2 objectives"):
        make_trainer(tmp_path, beta_r=[0.1, 0.2, 0.3])


def test_length_normalized_rewards_naming_no_objective_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"length_normalized_rewards names \['brevity'\]"):
        make_trainer(tmp_path, length_normalized_rewards=["brevity"])
    with pytest.raises(ValueError, match=r"reference_relative_rewards names \['tone'\]"):
        make_trainer(tmp_path, reference_relative_rewards=["tone"])


def test_parm_config_parses_from_the_command_line_like_trl_configs(tmp_path):
    from transformers import HfArgumentParser

    (args,) = HfArgumentParser(PARMConfig).parse_args_into_dataclasses(
        ["--output_dir", str(tmp_path), "--beta_r", "0.5", "0.1", "--length_normalized_rewards", "second_word"]
    )
    assert args.beta_r == [0.5, 0.1] and args.length_normalized_rewards == ["second_word"]
    assert PARMConfig(output_dir=str(tmp_path), beta_r=0.2).beta_r == [0.2]


def test_order_of_objectives_follows_objective_names(tmp_path):
    trainer = make_trainer(
        tmp_path, objective_names=["second_word", "first_word"], peft_config=trainer_pblora_config(init_weights=False)
    )
    assert trainer.objectives == ["second_word", "first_word"]
    assert trainer.model.peft_config["default"].objective_names == ["second_word", "first_word"]
    assert trainer.train_dataset[0]["preference_labels"] == [[1, 0], [0, 1]]


def test_per_pair_preferences_of_the_wrong_shape_are_refused(tmp_path):
    trainer = make_trainer(tmp_path, preference_sampling="importance")
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    pairs = len(batch["pair_rows"])
    with pytest.raises(ValueError, match=f"must both have one row per pair \\({pairs}\\)"):
        trainer.batch_statistics(trainer.model, batch, torch.full((pairs + 1, 2), 0.5), torch.ones(pairs + 1, 2))
    with pytest.raises(ValueError, match="one row per pair"):
        trainer.batch_statistics(trainer.model, batch, torch.full((pairs, 2), 0.5), torch.ones(pairs, 3))
