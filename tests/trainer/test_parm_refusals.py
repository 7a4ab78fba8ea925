"""Issue 19 (no silent wrong result), trainer and data part: each reproducer and weak error as a regression test."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset

from peft_pblora import PARMConfig

from ..conftest import disagreeing_datasets, make_trainer, tiny_tokenizer, trainer_pblora_config


def config(tmp_path, **overrides) -> PARMConfig:
    return PARMConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", **overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(beta_r=float("inf")), "beta_r must be positive and finite"),
        (dict(beta_r=[0.1, float("inf")]), "beta_r must be positive and finite"),
        (dict(beta_r=float("nan")), "beta_r must be positive and finite"),
        (dict(dirichlet_concentration=float("inf")), "dirichlet_concentration must be finite"),
        (dict(dirichlet_concentration=float("nan")), "dirichlet_concentration must be finite"),
    ],
)
def test_reproducer_4_infinite_beta_r_and_concentration_are_refused(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        config(tmp_path, **overrides)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (dict(max_length=0), ValueError, "max_length must be >= 1, got 0"),
        (dict(max_length=-5), ValueError, "max_length must be >= 1"),
        (dict(max_prompt_length=0), ValueError, "max_prompt_length must be >= 1, got 0"),
        (dict(max_prompt_length=-1), ValueError, "max_prompt_length must be >= 1"),
        (dict(max_length=2.5), TypeError, "max_length must be an integer"),
    ],
)
def test_reproducer_5_invalid_lengths_are_refused_at_config_time(tmp_path, overrides, error, message):
    with pytest.raises(error, match=message):
        config(tmp_path, **overrides)


def shared_first_token_datasets() -> dict[str, Dataset]:
    """Four-token prompts whose chosen and rejected answers differ only after their first token."""
    prompts = ["w10 w11 w12 w13", "w20 w21 w22 w23"]
    return {
        "a": Dataset.from_dict({"prompt": prompts, "chosen": ["w5 w6"] * 2, "rejected": ["w5 w7"] * 2}),
        "b": Dataset.from_dict({"prompt": prompts, "chosen": ["w5 w7"] * 2, "rejected": ["w5 w6"] * 2}),
    }


def test_reproducer_5_a_cut_that_makes_chosen_equal_rejected_is_refused_naming_the_row(tmp_path):
    with pytest.raises(
        ValueError, match=r"train_dataset\['a'\] row 0: columns 'chosen' and 'rejected' become identical"
    ):
        make_trainer(tmp_path, datasets=shared_first_token_datasets(), max_length=5, max_prompt_length=None)


@pytest.mark.parametrize("max_prompt_length", [None, 512])
def test_reproducer_5_a_prompt_that_leaves_no_room_for_the_responses_is_refused(tmp_path, max_prompt_length):
    with pytest.raises(ValueError, match=r"row 0: the prompt keeps 4 tokens .* max_length=4 leaves no room"):
        make_trainer(
            tmp_path, datasets=shared_first_token_datasets(), max_length=4, max_prompt_length=max_prompt_length
        )


def test_a_max_length_below_the_default_max_prompt_length_trains_prompts_that_fit(tmp_path):
    """As in TRL, max_length may be below max_prompt_length (512 by default): only rows without room are refused."""
    trainer = make_trainer(tmp_path, datasets=shared_first_token_datasets(), max_length=7, max_prompt_length=512)
    for row in trainer.train_dataset:
        for prompt, first, second in zip(
            row["prompt_input_ids"], row["first_input_ids"], row["second_input_ids"], strict=True
        ):
            assert len(prompt) == 4 and len(prompt + first) <= 7 and first != second


def test_reproducer_5_sequences_never_exceed_max_length(tmp_path):
    trainer = make_trainer(tmp_path, datasets=shared_first_token_datasets(), max_length=6, max_prompt_length=3)
    for row in trainer.train_dataset:
        for prompt, first, second in zip(
            row["prompt_input_ids"], row["first_input_ids"], row["second_input_ids"], strict=True
        ):
            assert len(prompt) == 3 and len(prompt + first) <= 6 and len(prompt + second) <= 6
            assert first != second


def train_and_save(tmp_path, **overrides):
    trainer = make_trainer(tmp_path, save_strategy="steps", save_steps=1, max_steps=1, **overrides)
    trainer.train()
    return tmp_path / "parm" / "checkpoint-1"


def test_reproducer_6_resuming_with_the_objectives_in_another_order_is_refused(tmp_path):
    checkpoint = train_and_save(tmp_path)
    saved = (checkpoint / "adapter_config.json").read_text()
    assert json.loads(saved)["objective_names"] == ["first_word", "second_word"]
    resumed = make_trainer(tmp_path, objective_names=["second_word", "first_word"], save_strategy="steps", max_steps=2)
    with pytest.raises(
        ValueError, match=r"objective_names \['first_word', 'second_word'\].*\['second_word', 'first_word'\]"
    ):
        resumed.train(resume_from_checkpoint=str(checkpoint))
    with pytest.raises(ValueError, match="objective_names"):
        resumed.train(resume_from_checkpoint=True)  # the last checkpoint of output_dir
    assert (checkpoint / "adapter_config.json").read_text() == saved
    assert not (tmp_path / "parm" / "checkpoint-2").exists()


def test_reproducer_6_resuming_with_other_names_or_ranks_is_refused(tmp_path):
    checkpoint = train_and_save(tmp_path)
    renamed = {"first": disagreeing_datasets()["first_word"], "second": disagreeing_datasets()["second_word"]}
    with pytest.raises(ValueError, match=r"\['first_word', 'second_word'\].*\['first', 'second'\]"):
        make_trainer(tmp_path, datasets=renamed).train(resume_from_checkpoint=str(checkpoint))
    other_rank = make_trainer(tmp_path, peft_config=trainer_pblora_config(r2=4))
    with pytest.raises(ValueError, match="r2=2 in the checkpoint, 4 here"):
        other_rank.train(resume_from_checkpoint=str(checkpoint))


def test_resuming_with_the_same_objectives_still_works(tmp_path):
    checkpoint = train_and_save(tmp_path)
    trainer = make_trainer(tmp_path, save_strategy="no", max_steps=2)
    assert trainer.train(resume_from_checkpoint=str(checkpoint)).global_step == 2


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        (
            "chosen",
            ["w5", None, "w5"],
            r"train_dataset\['first_word'\] row 1: column 'chosen' must hold text .* NoneType",
        ),
        ("prompt", ["w9 w9", None, "w9"], r"row 1: column 'prompt' must hold text"),
        ("rejected", [7, 8, 9], r"row 0: column 'rejected' must hold text or a list of chat messages, got int"),
        ("prompt", ["w9 w9", "", "w9"], r"row 1: column 'prompt' tokenizes to no tokens"),
    ],
)
def test_a_bad_text_field_is_refused_naming_the_column_and_row(tmp_path, column, values, message):
    datasets = disagreeing_datasets(rows=3)
    datasets["first_word"] = datasets["first_word"].remove_columns(column).add_column(column, values)
    with pytest.raises(ValueError, match=message):
        make_trainer(tmp_path, datasets=datasets)


def test_a_none_in_a_multi_label_dataset_names_the_row(tmp_path):
    data = Dataset.from_list(
        [
            {"prompt": "w5 w6", "response_0": "w7", "response_1": "w8", "better": 0},
            {"prompt": "w5 w6", "response_0": None, "response_1": "w8", "better": 1},
        ]
    )
    with pytest.raises(ValueError, match="train_dataset row 1: column 'response_0' must hold text"):
        make_trainer(
            tmp_path,
            datasets=data,
            label_columns={"helpful": "better"},
            peft_config=trainer_pblora_config(num_preferences=1),
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(beta_r="0.1"), "beta_r must be a number or a list of numbers, got str"),
        (dict(beta_r=[0.1, "0.2"]), "beta_r must hold numbers"),
        (dict(beta_r=True), "beta_r must be a number"),
        (dict(dirichlet_concentration="0.5"), "dirichlet_concentration must be a number"),
        (dict(objective_names="ab"), "objective_names must be a list of strings"),
        (dict(label_columns=["helpful"]), "label_columns must map objective names to column names"),
        (dict(eval_preferences=[[0.5, 0.5], 0.5]), "eval_preferences entries must be lists of numbers"),
    ],
)
def test_parm_config_fields_of_the_wrong_type_are_refused(tmp_path, overrides, message):
    with pytest.raises(TypeError, match=message):
        config(tmp_path, **overrides)


def test_eval_preferences_off_the_simplex_are_refused_at_config_time(tmp_path):
    with pytest.raises(ValueError, match=r"eval_preferences entry \[0.3, 0.3\] must sum to 1"):
        config(tmp_path, eval_preferences=[[0.3, 0.3]])


def test_the_tokenizer_of_the_data_refuses_bad_lengths_too():
    from peft_pblora.trainer.preference_data import PreferenceTokenizer

    with pytest.raises(ValueError, match="max_length must be >= 1, got 0"):
        PreferenceTokenizer(tiny_tokenizer(), None, 0)


@pytest.mark.parametrize(
    ("weights", "row"),
    [([1.0, -1.0], 1), ([1.0, float("nan")], 1), ([float("inf"), 1.0], 0), (["heavy", "light"], 0)],
)
def test_a_pair_weight_that_is_no_finite_number_at_least_zero_is_refused_naming_the_row(tmp_path, weights, row):
    data = disagreeing_datasets(rows=2)
    data["first_word"] = data["first_word"].add_column("weight", weights)
    with pytest.raises(
        ValueError, match=rf"train_dataset\['first_word'\] row {row}: column 'weight' must hold a finite"
    ):
        make_trainer(tmp_path, datasets=data)
