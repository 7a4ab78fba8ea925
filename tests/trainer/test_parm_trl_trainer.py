"""PARMTrainer as a TRL trainer: evaluate() on raw data and named eval sets, the model card, model loading options."""

from __future__ import annotations

import ast
import re

import pytest
import torch
from datasets import Dataset
from torch import nn
from trl.trainer.base_trainer import _BaseTrainer

from peft_pblora import PARMTrainer

from ..conftest import disagreeing_datasets, make_trainer, parm_args, tiny_llama, tiny_tokenizer, trainer_pblora_config


def test_parm_trainer_is_a_trl_trainer(tmp_path):
    trainer = make_trainer(tmp_path)
    assert isinstance(trainer, _BaseTrainer)
    assert trainer._name == "PARM" and trainer._paper["id"] == "2505.06274"


def test_evaluate_takes_raw_data_and_gives_what_the_constructor_s_eval_set_gives(tmp_path):
    held_out = disagreeing_datasets(rows=4, seed=5)
    given = make_trainer(tmp_path / "given")
    with_eval = PARMTrainer(
        model=tiny_llama(seed=1),
        args=parm_args(tmp_path / "with_eval"),
        train_dataset=disagreeing_datasets(),
        eval_dataset=held_out,
        processing_class=tiny_tokenizer(),
        peft_config=trainer_pblora_config(init_weights=False),
    )
    expected = with_eval.evaluate()
    assert given.evaluate(held_out) == pytest.approx(expected)  # untokenized: was a KeyError
    assert given.evaluate(with_eval.eval_dataset) == pytest.approx(expected)  # tokenized rows pass through
    assert "eval_first_word_accuracy@alpha=(1,0)" in expected


def test_evaluate_reads_a_dict_keyed_by_objectives_as_one_set_and_any_other_as_named_sets(tmp_path):
    dev, test = disagreeing_datasets(rows=4, seed=5), disagreeing_datasets(rows=2, seed=6)
    trainer = PARMTrainer(
        model=tiny_llama(seed=1),
        args=parm_args(tmp_path, eval_strategy="steps", eval_steps=2, max_steps=2),
        train_dataset=disagreeing_datasets(),
        eval_dataset={"dev": dev, "test": test},
        processing_class=tiny_tokenizer(),
        peft_config=trainer_pblora_config(init_weights=False),
    )
    metrics = trainer.evaluate()
    assert metrics["eval_dev_loss"] == pytest.approx(trainer.evaluate(dev)["eval_loss"])
    assert metrics["eval_test_loss"] == pytest.approx(trainer.evaluate(test)["eval_loss"])
    assert trainer.evaluate("dev")["eval_loss"] == pytest.approx(metrics["eval_dev_loss"])
    assert not any(key.startswith("eval_first_word_") for key in metrics)
    trainer.train()  # transformers evaluates each named set during training
    logged = [key for entry in trainer.state.log_history for key in entry]
    assert "eval_dev_loss" in logged and "eval_test_loss" in logged
    with pytest.raises(ValueError, match="no named eval set 'train'"):
        trainer.evaluate("train")


def test_a_dict_with_only_some_objectives_is_refused_naming_the_rule(tmp_path):
    trainer = make_trainer(tmp_path)
    with pytest.raises(ValueError, match=r"a dict keyed by objectives is one eval set"):
        trainer.evaluate({"first_word": disagreeing_datasets()["first_word"]})


def test_evaluate_of_raw_data_adds_the_reference_rewards_once(tmp_path):
    trainer = make_trainer(tmp_path, reference_relative_rewards=["second_word"])
    held_out = disagreeing_datasets(rows=4, seed=5)
    calls = []
    rewards = trainer._rewards
    trainer._rewards = lambda model, inputs: calls.append(1) or rewards(model, inputs)
    metrics = trainer.evaluate(held_out)
    assert len(calls) == 1 + len(trainer.eval_preferences), "4 rows: the reference once, then one batch per alpha"
    assert "eval_second_word_margin@alpha=(0,1)" in metrics


def python_block(card: str) -> str:
    return re.search(r"```python\n(.*?)```", card, re.DOTALL).group(1)


def test_save_model_writes_the_trl_model_card_with_the_parm_set_up(tmp_path):
    trainer = make_trainer(
        tmp_path,
        objective_names=["second_word", "first_word"],  # alpha order differs from the dict's
        beta_r=[0.2, 0.05],
        length_normalized_rewards=["first_word"],
        reference_relative_rewards=["second_word"],
        max_steps=1,
    )
    trainer.train()
    trainer.save_model(str(tmp_path / "adapter"))
    card = (tmp_path / "adapter" / "README.md").read_text()
    assert "library_name: peft" in card and "- parm" in card and "- trl" in card
    assert "huggingface.co/papers/2505.06274" in card and "@inproceedings{lin2025parm," in card
    assert "@software{vonwerra2020trl," in card
    table = card[card.index("## Objectives (alpha order)") :]
    assert table.index("| 0 | second_word | 0.2 | summed log-probability minus the reference's |") < table.index(
        "| 1 | first_word | 0.05 | mean token log-probability |"
    )
    assert "r1 = 2, r2 = 2, core = `bilinear`, target modules = ['q_proj', 'v_proj']" in card
    assert "Dirichlet(0.5)" in card and "max_length = 1024" in card
    snippet = python_block(card)
    ast.parse(snippet)  # the guidance snippet is valid Python
    assert "PARMGuidance(" in snippet and "alpha = [0.5, 0.5]  # weights of second_word, first_word" in snippet
    assert 'reference="base"' not in snippet  # one reward is reference-free


def test_create_model_card_writes_into_output_dir_and_guides_by_the_log_ratio_when_every_reward_is_relative(
    tmp_path,
):
    trainer = make_trainer(tmp_path, reference_free=False)
    trainer.create_model_card(model_name="my-parm", dataset_name="org/pairs")
    card = (tmp_path / "parm" / "README.md").read_text()  # push_to_hub uploads args.output_dir
    assert "# Model Card for my-parm" in card and "datasets/org/pairs" in card
    assert 'reference="base"' in python_block(card)


def test_quantization_config_needs_a_model_to_load(tmp_path):
    with pytest.raises(ValueError, match="quantization_config applies when the model is loaded from a name or path"):
        PARMTrainer(
            model=tiny_llama(seed=1),
            args=parm_args(tmp_path),
            train_dataset=disagreeing_datasets(),
            processing_class=tiny_tokenizer(),
            peft_config=trainer_pblora_config(),
            quantization_config=object(),
        )


def test_a_model_by_path_is_loaded_with_model_init_kwargs_as_trl_does(tmp_path):
    tiny_llama(seed=1).to(torch.bfloat16).save_pretrained(tmp_path / "base")
    args = dict(train_dataset=disagreeing_datasets(), processing_class=tiny_tokenizer())
    default = PARMTrainer(str(tmp_path / "base"), parm_args(tmp_path), peft_config=trainer_pblora_config(), **args)
    assert default.model.get_base_model().dtype == torch.float32  # TRL's default dtype, whatever was saved
    chosen = PARMTrainer(
        str(tmp_path / "base"),
        parm_args(tmp_path, model_init_kwargs='{"dtype": "bfloat16"}'),  # the command line's JSON form
        peft_config=trainer_pblora_config(),
        **args,
    )
    assert chosen.model.get_base_model().dtype == torch.bfloat16
    with pytest.raises(ValueError, match="both as a trainer argument and in args.model_init_kwargs"):
        PARMTrainer(
            str(tmp_path / "base"),
            parm_args(tmp_path, model_init_kwargs={"quantization_config": None}),
            peft_config=trainer_pblora_config(),
            quantization_config=object(),
            **args,
        )


@pytest.mark.parametrize("disable_dropout", [True, False])
def test_disable_dropout_turns_pblora_dropout_off(tmp_path, disable_dropout):
    trainer = make_trainer(
        tmp_path, peft_config=trainer_pblora_config(lora_dropout=0.1), disable_dropout=disable_dropout
    )
    dropouts = [module.p for module in trainer.model.modules() if isinstance(module, nn.Dropout)]
    assert dropouts and set(dropouts) == ({0.0} if disable_dropout else {0.1})


def test_no_telemetry_is_sent(tmp_path, monkeypatch):
    import trl.trainer.base_trainer as base_trainer

    sent = []
    monkeypatch.setattr(base_trainer, "send_telemetry", lambda **kwargs: sent.append(kwargs))
    monkeypatch.delenv("CI", raising=False)
    make_trainer(tmp_path)
    assert sent == []


def test_a_multi_label_dataset_without_prompt_column_trains(tmp_path):
    """TRL's implicit prompt: the messages both responses share (for text, TRL takes the shared characters)."""

    def turns(*words: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": words[0]}, {"role": "assistant", "content": words[1]}]

    data = Dataset.from_dict(
        {
            "response_0": [turns("w10 w11", "w5 w5"), turns("w12", "w6")],
            "response_1": [turns("w10 w11", "w6 w6"), turns("w12", "w5 w7")],
            "better": [0, 1],
            "safer": [1, 1],
        }
    )
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = (
        "{% for message in messages %}{% if message['role'] == 'user' %}w3 {{ message['content'] }} "
        "{% else %}w4 {{ message['content'] }} </s> {% endif %}{% endfor %}"
        "{% if add_generation_prompt %}w4 {% endif %}"
    )
    trainer = PARMTrainer(
        model=tiny_llama(seed=1),
        args=parm_args(tmp_path, label_columns={"helpful": "better", "harmless": "safer"}),
        train_dataset=data,
        processing_class=tokenizer,
        peft_config=trainer_pblora_config(),
    )
    row = trainer.train_dataset[0]
    assert row["prompt_input_ids"] == [[3, 10, 11, 4]] and row["first_input_ids"] == [[5, 5, 1]]
    assert row["second_input_ids"] == [[6, 6, 1]] and row["preference_labels"] == [[1, -1]]
    trainer.train()
