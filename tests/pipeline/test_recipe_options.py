"""The run's recipe options that concern the context and the form of guidance: chat-format training and guidance by
the reward model's log-ratio to its starting model."""

from __future__ import annotations

import pytest

from peft_pblora.pipeline import Run, RunSettings, training


class TrainingStarted(Exception):
    """Raised by the stand-in trainer: the test has seen what the run would train on."""


def datasets_given_to_the_trainer(settings: RunSettings, monkeypatch) -> dict:
    seen = {}

    def recording_trainer(**kwargs):
        seen.update(kwargs["train_dataset"])
        raise TrainingStarted

    monkeypatch.setattr(training, "PARMTrainer", recording_trainer)
    with pytest.raises(TrainingStarted):
        Run(settings).train()
    return seen


@pytest.mark.parametrize("chat_format", [False, True])
def test_train_in_chat_format_gives_the_trainer_user_turns(tiny_run, monkeypatch, chat_format):
    settings = RunSettings(**tiny_run, train_in_chat_format=chat_format)
    pairs = datasets_given_to_the_trainer(settings, monkeypatch)
    assert set(pairs) == {"count_w5", "conciseness"}
    for dataset in pairs.values():
        prompt = dataset[0]["prompt"]
        if chat_format:
            assert prompt == [{"role": "user", "content": prompt[0]["content"]}] and prompt[0]["content"]
        else:
            assert isinstance(prompt, str)
    if chat_format:  # the same prompts as the plain run's, only wrapped
        plain = datasets_given_to_the_trainer(RunSettings(**tiny_run), monkeypatch)
        for name, dataset in pairs.items():
            assert [row[0]["content"] for row in dataset["prompt"]] == plain[name]["prompt"]


def test_guidance_by_log_ratio_follows_the_reward_form(tiny_run):
    assert RunSettings(**tiny_run).guide_by_log_ratio is False  # the conciseness reward is not reference-relative
    assert RunSettings(**tiny_run, reference_free=False).guide_by_log_ratio is True
    every = RunSettings(**tiny_run, reference_relative_rewards=["count_w5", "conciseness"])
    assert every.guide_by_log_ratio is True
    assert RunSettings(**tiny_run, reference_free=False, guide_by_log_ratio=False).guide_by_log_ratio is False


def test_the_guidance_reference_is_the_reward_models_starting_model(tiny_run):
    assert Run(RunSettings(**tiny_run)).guidance_reference() is None
    assert Run(RunSettings(**tiny_run, reference_free=False)).guidance_reference() == "base"
    smaller = Run(RunSettings(**tiny_run, reference_free=False, parm_layers=1)).guidance_reference()
    assert smaller.config.num_hidden_layers == 1 and not smaller.training


@pytest.mark.parametrize("reference_free", [True, False])
def test_the_sweep_guides_by_the_fused_path_with_the_separate_paths_answers(tiny_run, monkeypatch, reference_free):
    strong = {**tiny_run, "learning_rate": 5e-2, "lora_alpha": 64.0}  # an adapter that changes greedy answers
    run = Run(RunSettings(**strong, reference_free=reference_free))
    assert run.guidance_path == "fused"
    rows = [(alpha, prompt) for alpha in ([1.0, 0.0], [0.0, 1.0]) for prompt in run.test_prompts]
    fused = run._answers(rows)
    monkeypatch.setattr(Run, "guidance_path", property(lambda self: "separate"))
    assert run._answers(rows) == fused
    base, tokenizer = run.base()
    unguided = run._generate(base, tokenizer, [(None, prompt) for _, prompt in rows], None)
    assert fused != unguided, "the adapter must change the answers, or the comparison proves nothing"


def test_the_guidance_path_follows_where_the_reward_model_lives(tiny_run):
    assert Run(RunSettings(**tiny_run, method="svd_lora")).guidance_path == "fused"
    assert Run(RunSettings(**tiny_run, parm_layers=1)).guidance_path == "separate"
    assert Run(RunSettings(**tiny_run, method="genarm")).guidance_path == "separate"
    assert Run(RunSettings(**tiny_run, method="rewarded_soups")).guidance_path is None
