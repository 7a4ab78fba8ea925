"""PARMTrainer: the loss against a hand computation, learning, reproducibility, checkpointing, resume, save/load."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from peft import PeftModel

from peft_pblora import PARMTrainer, pblora_layers, set_preference
from peft_pblora.trainer import parm_trainer as parm_trainer_module
from peft_pblora.trainer.preference_draws import MicroBatchPreferenceDraws, objective_tilted_preferences

from ..conftest import (
    disagreeing_datasets,
    make_trainer,
    parm_args,
    tiny_chat_tokenizer,
    tiny_llama,
    tiny_tokenizer,
    trainer_pblora_config,
)

OBJECTIVES = ["first_word", "second_word"]


def hand_reward(
    model, prompt_ids: list[int], response_ids: list[int], alpha: torch.Tensor, length_normalized: bool = False
) -> torch.Tensor:
    """Sum (or mean) of log pi(response token | prefix), EOS included, from one unpadded forward of the sequence."""
    set_preference(model, alpha)
    ids = torch.tensor([prompt_ids + response_ids])
    log_probs = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
    targets = ids[0, 1:]
    per_token = log_probs[torch.arange(len(targets)), targets][len(prompt_ids) - 1 :]
    return per_token.mean() if length_normalized else per_token.sum()


def hand_margin(model, prompt: str, first: str, second: str, alpha: torch.Tensor) -> torch.Tensor:
    """hand_reward of the first response minus the second's, the texts tokenized as the trainer renders plain text."""
    tokenizer = tiny_tokenizer()
    eos = [tokenizer.eos_token_id]
    prompt_ids = tokenizer(prompt)["input_ids"]
    first_ids, second_ids = (tokenizer(text, add_special_tokens=False)["input_ids"] + eos for text in (first, second))
    return hand_reward(model, prompt_ids, first_ids, alpha) - hand_reward(model, prompt_ids, second_ids, alpha)


def uneven_datasets() -> dict[str, Dataset]:
    """Pairs whose responses differ in length, so summed and length-normalised rewards disagree."""
    prompts = ["w11 w12 w13", "w21 w22"]
    short, long = ["w5 w5", "w7"], ["w6 w6 w6 w6", "w8 w8 w8"]
    return {
        "first_word": Dataset.from_dict({"prompt": prompts, "chosen": short, "rejected": long}),
        "second_word": Dataset.from_dict({"prompt": prompts, "chosen": long, "rejected": short}),
    }


def expected_uneven_loss(model, batch, alpha_of, weight_of) -> torch.Tensor:
    """The scalarised loss of uneven_datasets' two rows (beta_r 0.5 and 0.2) by hand: per objective the mean over its
    pairs of weight_of(pair, objective, row) * -log sigmoid(beta_r * margin at alpha_of(pair))."""
    data, beta_r = uneven_datasets(), torch.tensor([0.5, 0.2])
    labels, pair_rows = batch["preference_labels"], batch["pair_rows"]
    expected = torch.tensor(0.0)
    with torch.no_grad():
        for objective, name in enumerate(OBJECTIVES):
            losses = []
            for row in range(2):
                (pair,) = [p for p in range(len(pair_rows)) if pair_rows[p] == row and labels[p, objective] != 0]
                example = data[name][row]
                margin = hand_margin(model, example["prompt"], example["chosen"], example["rejected"], alpha_of(pair))
                losses.append(weight_of(pair, objective, row) * -F.logsigmoid(beta_r[objective] * margin))
            expected = expected + torch.stack(losses).mean()
    return expected


@pytest.mark.parametrize(
    ("length_normalized", "reference_free", "reference_relative", "precompute", "loss_type"),
    [
        ([], True, [], True, "sigmoid"),
        (OBJECTIVES, True, [], True, "sigmoid"),
        (["second_word"], True, [], True, "sigmoid"),
        ([], False, [], True, "sigmoid"),
        ([], False, [], False, "sigmoid"),
        (["first_word"], False, [], True, "sigmoid"),
        ([], True, ["second_word"], True, "sigmoid"),
        (["first_word"], True, ["first_word"], True, "sigmoid"),
        (["first_word"], True, ["first_word"], False, "sigmoid"),
        ([], True, [], True, "ipo"),
        (["first_word"], False, [], True, "ipo"),
    ],
)
def test_loss_of_one_batch_equals_the_hand_computation(
    tmp_path, length_normalized, reference_free, reference_relative, precompute, loss_type
):
    trainer = make_trainer(
        tmp_path,
        datasets=uneven_datasets(),
        beta_r=[0.5, 0.2],
        length_normalized_rewards=length_normalized,
        reference_free=reference_free,
        reference_relative_rewards=reference_relative,
        precompute_ref_log_probs=precompute,
        loss_type=loss_type,
    )
    tokenizer = tiny_tokenizer()
    rows = [trainer.train_dataset[index] for index in range(2)]
    uses_reference = not reference_free or bool(reference_relative)
    assert ("reference_first_rewards" in rows[0]) == (uses_reference and precompute)
    batch = trainer.data_collator(rows)
    alpha = torch.tensor([0.3, 0.7])
    trainer._draw_preference = lambda rows: alpha
    model = trainer.model.eval()
    loss = trainer.compute_loss(model, batch)

    data = uneven_datasets()
    beta_r = torch.tensor([0.5, 0.2])
    expected = torch.tensor(0.0)
    with torch.no_grad():
        for objective, name in enumerate(OBJECTIVES):
            losses = []
            normalized = name in length_normalized
            for index in range(2):
                example = data[name][index]
                prompt = tokenizer(example["prompt"])["input_ids"]
                eos = [tokenizer.eos_token_id]
                chosen = tokenizer(example["chosen"], add_special_tokens=False)["input_ids"] + eos
                rejected = tokenizer(example["rejected"], add_special_tokens=False)["input_ids"] + eos
                margin = hand_reward(model, prompt, chosen, alpha, normalized) - hand_reward(
                    model, prompt, rejected, alpha, normalized
                )
                if not reference_free or name in reference_relative:  # the reference: the adapter disabled
                    with model.disable_adapter():
                        margin -= hand_reward(model, prompt, chosen, alpha, normalized) - hand_reward(
                            model, prompt, rejected, alpha, normalized
                        )
                if loss_type == "ipo":  # IPO's squared distance of the margin to 1 / (2 beta_r)
                    losses.append((margin - 1 / (2 * beta_r[objective])) ** 2)
                else:
                    losses.append(-F.logsigmoid(beta_r[objective] * margin))
            expected = expected + alpha[objective] * torch.stack(losses).mean()
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-4, atol=1e-5)


def test_multi_label_pairs_cost_one_forward_for_all_objectives(tmp_path):
    data = Dataset.from_dict(
        {
            "prompt": ["w10 w11", "w12 w13 w14"],
            "response_0": ["w5 w5", "w6"],
            "response_1": ["w6 w6", "w5 w7"],
            "better": [0, 1],
            "safer": [1, 1],
        }
    )
    trainer = make_trainer(tmp_path, datasets=data, label_columns={"helpful": "better", "harmless": "safer"})
    assert trainer.objectives == ["helpful", "harmless"]
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    assert batch["input_ids"].shape[0] == 4, "two pairs: one forward over 2 x 2 responses for both objectives"
    torch.testing.assert_close(batch["preference_labels"], torch.tensor([[1, -1], [-1, -1]]))

    alpha = torch.tensor([0.6, 0.4])
    trainer._draw_preference = lambda rows: alpha
    model = trainer.model.eval()
    calls = []
    handle = model.get_base_model().register_forward_hook(lambda *args: calls.append(1))
    loss = trainer.compute_loss(model, batch)
    handle.remove()
    assert len(calls) == 1
    with torch.no_grad():
        margins = torch.stack(
            [hand_margin(model, row["prompt"], row["response_0"], row["response_1"], alpha) for row in data]
        )
        helpful = -F.logsigmoid(0.5 * torch.tensor([1.0, -1.0]) * margins).mean()
        harmless = -F.logsigmoid(0.5 * torch.tensor([-1.0, -1.0]) * margins).mean()
    torch.testing.assert_close(loss.detach(), 0.6 * helpful + 0.4 * harmless, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sampling", ["batch", "importance"])
def test_a_weight_column_counts_each_pair_as_that_many_pairs(tmp_path, sampling):
    data = uneven_datasets()
    pair_weights = {"first_word": [2.0, 0.5], "second_word": [1.0, 1.0]}  # second_word has no weight column
    data["first_word"] = data["first_word"].add_column("weight", pair_weights["first_word"])
    trainer = make_trainer(tmp_path, datasets=data, beta_r=[0.5, 0.2], preference_sampling=sampling)
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    pair_rows = batch["pair_rows"]
    alpha = torch.tensor([0.3, 0.7])
    alphas = alpha.expand(len(pair_rows), -1)
    draw_weights = torch.tensor([[0.5, 0.7], [0.3, 0.2], [0.25, 0.9], [0.6, 0.45]])[: len(pair_rows)]
    if sampling == "importance":
        trainer._draw_pair_preferences = lambda labels: (alphas, draw_weights)
    else:
        trainer._draw_preference = lambda rows: alpha
    model = trainer.model.eval()
    loss = trainer.compute_loss(model, batch)

    def weight_of(pair, objective, row):
        draw_weight = draw_weights[pair, objective] if sampling == "importance" else alpha[objective]
        return pair_weights[OBJECTIVES[objective]][row] * draw_weight

    expected = expected_uneven_loss(model, batch, lambda pair: alpha, weight_of)
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-4, atol=1e-5)


def test_a_weight_column_of_multi_label_pairs_weights_every_objective_of_the_pair(tmp_path):
    weights = [3.0, 0.5]
    data = Dataset.from_dict(
        {"prompt": ["w10 w11", "w12 w13 w14"], "response_0": ["w5 w5", "w6"], "response_1": ["w6 w6", "w5 w7"],
         "better": [0, 1], "safer": [1, 1], "weight": weights}
    )  # fmt: skip
    trainer = make_trainer(tmp_path, datasets=data, label_columns={"helpful": "better", "harmless": "safer"})
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    torch.testing.assert_close(batch["pair_weights"], torch.tensor(weights))
    alpha = torch.tensor([0.6, 0.4])
    trainer._draw_preference = lambda rows: alpha
    model = trainer.model.eval()
    loss, statistics = trainer.compute_loss(model, batch, return_outputs=True)

    with torch.no_grad():
        margins = torch.stack(
            [hand_margin(model, row["prompt"], row["response_0"], row["response_1"], alpha) for row in data]
        )
        helpful = -F.logsigmoid(0.5 * torch.tensor([1.0, -1.0]) * margins)
        harmless = -F.logsigmoid(0.5 * torch.tensor([-1.0, -1.0]) * margins)
    pair_weights = torch.tensor(weights)
    expected = 0.6 * (pair_weights * helpful).mean() + 0.4 * (pair_weights * harmless).mean()
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-4, atol=1e-5)
    # the logged per-objective losses stay the plain means, what the pairs themselves say
    torch.testing.assert_close(statistics.losses, torch.stack([helpful.mean(), harmless.mean()]), rtol=1e-4, atol=1e-5)


def test_tchebycheff_takes_the_largest_weighted_loss(tmp_path):
    trainer = make_trainer(tmp_path, scalarization="tchebycheff")
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    alpha = torch.tensor([0.3, 0.7])
    trainer._draw_preference = lambda rows: alpha
    model = trainer.model.eval()
    loss, statistics = trainer.compute_loss(model, batch, return_outputs=True)
    torch.testing.assert_close(loss, (alpha * statistics.losses).max())


def test_preference_draws_are_reproducible_from_the_seed(tmp_path):
    def draws(seed, sampling="batch"):
        trainer = make_trainer(tmp_path, seed=seed, preference_sampling=sampling)
        result = []
        for step in range(3):
            trainer.state.global_step = step
            result.append(trainer._draw_preference(rows=4))
            result.append(trainer._draw_preference(rows=4))  # a second micro-batch of the same step
        return torch.stack(result)

    first, again, other = draws(3), draws(3), draws(4)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.allclose(first, other)
    assert not torch.allclose(first[0], first[1]), "each micro-batch gets its own alpha"
    torch.testing.assert_close(first.sum(-1), torch.ones(6))
    per_example = draws(3, "example")
    assert per_example.shape == (6, 4, 2)


def test_each_micro_batch_draws_from_the_seed_step_and_micro_batch_index():
    """The seed is (seed, optimizer step, micro-batch within the step), plus the process index per example or pair:
    a resumed run draws what the uninterrupted one drew, whatever ran before."""
    draws = MicroBatchPreferenceDraws(seed=7, concentration=0.3, num_objectives=3)
    draws.one_per_batch(step=0)
    second_of_step_5 = [draws.one_per_batch(step=5), draws.one_per_batch(step=5)][1]
    expected = np.random.default_rng([7, 5, 1]).dirichlet([0.3] * 3)
    torch.testing.assert_close(second_of_step_5, torch.tensor(expected, dtype=torch.float32), rtol=0, atol=0)
    per_example = draws.one_per_example(step=6, rows=4, process_index=2)
    expected = np.random.default_rng([7, 6, 0, 2]).dirichlet([0.3] * 3, size=4)
    torch.testing.assert_close(per_example, torch.tensor(expected, dtype=torch.float32), rtol=0, atol=0)
    labels = torch.tensor([[1, 0, 0], [0, -1, 1]])
    alphas, weights = draws.tilted_per_pair(step=6, labels=labels, process_index=2)
    expected = objective_tilted_preferences(labels, 0.3, np.random.default_rng([7, 6, 1, 2]))
    torch.testing.assert_close((alphas, weights), expected, rtol=0, atol=0)


def test_objective_tilted_draws_keep_the_expected_parm_loss():
    """E over tilted draws of weight_i * f(alpha) equals E over Dirichlet(c) draws of alpha_i * f(alpha)."""
    draws, concentration = 200_000, 0.5
    patterns = torch.tensor([[1, 0, 0], [0, -1, 0], [1, -1, 0]])
    alphas, weights = objective_tilted_preferences(
        patterns.repeat_interleave(draws, 0), concentration, np.random.default_rng(0)
    )
    torch.testing.assert_close(alphas.sum(1), torch.ones(3 * draws))
    torch.testing.assert_close(weights[:draws, 0], torch.full((draws,), 1 / 3), msg="one objective: weight 1/k")
    own_mean = (concentration + 1) / (3 * concentration + 1)
    assert abs(alphas[:draws, 0].mean().item() - own_mean) < 0.005, "drawn from Dirichlet(c + e_own)"

    def loss_at(alpha):  # any loss that depends on alpha
        return alpha[:, 0] ** 2 + torch.sin(3 * alpha[:, 1])

    reference = torch.tensor(np.random.default_rng(1).dirichlet([concentration] * 3, size=draws), dtype=torch.float32)
    expected = reference * loss_at(reference)[:, None]  # alpha_i * loss(alpha) under the paper's draw
    for index, pattern in enumerate(patterns):
        rows = slice(index * draws, (index + 1) * draws)
        estimate = (weights[rows] * loss_at(alphas[rows])[:, None]).mean(0)
        for objective in torch.nonzero(pattern).flatten().tolist():
            target = expected[:, objective].mean().item()
            assert abs(estimate[objective].item() - target) < 0.01 * max(abs(target), 0.1), (pattern, objective)


def test_importance_sampling_scores_each_pair_at_its_own_alpha(tmp_path):
    trainer = make_trainer(tmp_path, datasets=uneven_datasets(), beta_r=[0.5, 0.2], preference_sampling="importance")
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    pairs = len(batch["pair_rows"])
    alphas = torch.stack([torch.tensor([0.9, 0.1]), torch.tensor([0.2, 0.8]), torch.tensor([0.6, 0.4]),
                          torch.tensor([0.35, 0.65])])[:pairs]  # fmt: skip
    weights = torch.tensor([[0.5, 0.7], [0.3, 0.2], [0.25, 0.9], [0.6, 0.45]])[:pairs]
    trainer._draw_pair_preferences = lambda labels: (alphas, weights)
    model = trainer.model.eval()
    loss = trainer.compute_loss(model, batch)

    expected = expected_uneven_loss(model, batch, lambda pair: alphas[pair], lambda pair, i, row: weights[pair, i])
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-4, atol=1e-5)


def trained_on_word_pairs(tmp_path, epochs: int, **overrides) -> PARMTrainer:
    """A trainer after `epochs` on 16 disagreeing pairs at a high learning rate: first_word prefers "w5 w5 w5",
    second_word "w6 w6 w6"."""
    trainer = make_trainer(
        tmp_path,
        datasets=disagreeing_datasets(rows=16),
        num_train_epochs=epochs,
        per_device_train_batch_size=4,
        learning_rate=2e-2,
        beta_r=1.0,
        peft_config=trainer_pblora_config(init_weights=True, lora_alpha=4),
        **overrides,
    )
    trainer.train()
    return trainer


def five_over_six_margins(model, alphas: list[torch.Tensor]) -> list[float]:
    """The reward of "w5 w5 w5" minus that of "w6 w6 w6" after an unseen prompt, at each alpha."""
    tokenizer = tiny_tokenizer()
    prompt = tokenizer("w40 w41 w42 w43")["input_ids"]
    eos = [tokenizer.eos_token_id]
    five = tokenizer("w5 w5 w5", add_special_tokens=False)["input_ids"] + eos
    six = tokenizer("w6 w6 w6", add_special_tokens=False)["input_ids"] + eos
    with torch.no_grad():
        return [
            (hand_reward(model, prompt, five, alpha) - hand_reward(model, prompt, six, alpha)).item()
            for alpha in alphas
        ]


@pytest.mark.parametrize(("reference_free", "sampling"), [(True, "batch"), (False, "batch"), (True, "importance")])
def test_training_separates_the_objectives_by_alpha(tmp_path, reference_free, sampling):
    trainer = trained_on_word_pairs(tmp_path, 6, reference_free=reference_free, preference_sampling=sampling)
    alphas = [torch.stack([weight, 1 - weight]) for weight in torch.linspace(1, 0, 5)]
    margins = five_over_six_margins(trainer.model.eval(), alphas)
    assert margins[0] > 0, f"at alpha=(1,0) objective 1's chosen answer must rank first: {margins}"
    assert margins[-1] < 0, f"at alpha=(0,1) objective 2's chosen answer must rank first: {margins}"
    assert all(a > b for a, b in zip(margins, margins[1:], strict=False)), f"margin must fall monotonically: {margins}"
    history = [entry for entry in trainer.state.log_history if "objective/first_word/accuracy" in entry]
    assert history and {"objective/first_word/loss", "objective/second_word/margin"} <= history[-1].keys()


def test_ipo_holds_the_learned_margin_near_its_target_where_the_sigmoid_widens_it(tmp_path):
    vertices = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
    ipo, sigmoid = (
        five_over_six_margins(
            trained_on_word_pairs(tmp_path / loss, 8, loss_type=loss, preference_sampling="importance").model.eval(),
            vertices,
        )
        for loss in ("ipo", "sigmoid")
    )
    target = 1 / (2 * 1.0)
    assert ipo[0] > 0 > ipo[1], f"IPO must still rank each objective's chosen answer first at its vertex: {ipo}"
    assert abs(ipo[0] - target) < abs(sigmoid[0] - target), (ipo, sigmoid)
    assert sigmoid[0] > 1.5 * ipo[0], f"the sigmoid keeps widening the margin past IPO's target: {sigmoid} vs {ipo}"


def adapter_weights(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters() if "pblora_" in name}


def test_the_adapter_starts_from_the_seed_whatever_ran_before(tmp_path):
    def adapter_start(seed: int, draws_before: int) -> dict[str, torch.Tensor]:
        model = tiny_llama(seed=1)
        torch.rand(draws_before)  # another history of the global generator, as another pipeline path leaves
        trainer = PARMTrainer(
            model=model,
            args=parm_args(tmp_path, seed=seed),
            train_dataset=disagreeing_datasets(),
            processing_class=tiny_tokenizer(),
            peft_config=trainer_pblora_config(init_weights=False),
        )
        return adapter_weights(trainer.model)

    first, second, other_seed = adapter_start(3, 0), adapter_start(3, 1000), adapter_start(4, 0)
    for name in first:
        torch.testing.assert_close(second[name], first[name], rtol=0, atol=0, msg=name)
    assert any(not torch.equal(other_seed[name], first[name]) for name in first)


def test_activation_checkpointing_gives_the_same_training(tmp_path):
    results = []
    for checkpointing in (False, True):
        trainer = make_trainer(tmp_path, activation_checkpointing=checkpointing, max_steps=3)
        trainer.train()
        assert trainer.model.base_model.model.is_activation_checkpointing == checkpointing
        results.append(adapter_weights(trainer.model))
    for name in results[0]:
        torch.testing.assert_close(results[1][name], results[0][name], rtol=1e-4, atol=1e-6, msg=name)


def test_gradient_accumulation_runs_one_optimizer_step_per_accumulation(tmp_path):
    trainer = make_trainer(tmp_path, gradient_accumulation_steps=2, per_device_train_batch_size=1, max_steps=2)
    trainer.train()
    assert trainer.state.global_step == 2
    assert trainer._preference_draws._micro_batch == 2, "two micro-batches, two alphas, in the last optimizer step"


def test_half_the_batch_accumulated_twice_takes_the_same_step(tmp_path, monkeypatch):
    """The way to lower PARM's peak memory (every row holds k pairs): the gradient, hence the step, is unchanged."""
    monkeypatch.setattr(PARMTrainer, "_draw_preference", lambda self, rows: torch.tensor([0.7, 0.3]))
    steps = {}
    for name, batch, accumulation in (("whole", 2, 1), ("halves", 1, 2)):
        trainer = make_trainer(
            tmp_path / name,
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=accumulation,
            max_steps=1,
            preference_sampling="batch",
            optim="sgd",
            learning_rate=1.0,
        )  # plain SGD: a loss scaled twice over would take a step twice as long
        before = adapter_weights(trainer.model)
        trainer.train()
        steps[name] = {key: value - before[key] for key, value in adapter_weights(trainer.model).items()}
    assert any(step.abs().max() > 1e-4 for step in steps["whole"].values())
    for key, step in steps["whole"].items():
        torch.testing.assert_close(steps["halves"][key], step, rtol=1e-4, atol=1e-6, msg=key)


def test_resume_from_a_checkpoint_gives_the_uninterrupted_result(tmp_path):
    straight = make_trainer(tmp_path / "a", max_steps=4)
    straight.train()
    expected = adapter_weights(straight.model)

    first = make_trainer(tmp_path / "b", max_steps=4, save_strategy="steps", save_steps=2)
    first.train()
    resumed = make_trainer(tmp_path / "b", max_steps=4, save_strategy="steps", save_steps=2)
    resumed.train(resume_from_checkpoint=str(tmp_path / "b" / "parm" / "checkpoint-2"))
    for name, value in adapter_weights(resumed.model).items():
        torch.testing.assert_close(value, expected[name], rtol=1e-5, atol=1e-6, msg=name)


def test_saved_adapter_loads_with_peft_and_knows_its_objectives(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=1, beta_r=[0.5, 0.25])
    trainer.train()
    trainer.save_model(str(tmp_path / "adapter"))
    loaded = PeftModel.from_pretrained(tiny_llama(seed=1), str(tmp_path / "adapter"))
    assert loaded.peft_config["default"].objective_names == OBJECTIVES
    assert loaded.peft_config["default"].beta_r == [0.5, 0.25]
    card = (tmp_path / "adapter" / "README.md").read_text()  # the trainer's TRL card (test_parm_trl_card.py)
    assert "| 0 | first_word | 0.5 |" in card and "| 1 | second_word | 0.25 |" in card
    assert "import peft_pblora" in card and "PARMGuidance(" in card
    assert list(pblora_layers(loaded))
    ids = torch.tensor([[5, 6, 7]])
    trained = copy.deepcopy(trainer.model).eval()
    torch.testing.assert_close(loaded(ids, preference=[0.5, 0.5]).logits, trained(ids, preference=[0.5, 0.5]).logits)


def test_evaluation_reports_each_objective_at_the_vertices_and_centre(tmp_path):
    data = disagreeing_datasets()
    trainer = PARMTrainer(
        model=tiny_llama(seed=1),
        args=parm_args(tmp_path),
        train_dataset=data,
        eval_dataset=disagreeing_datasets(rows=4, seed=1),
        processing_class=tiny_tokenizer(),
        peft_config=trainer_pblora_config(init_weights=False),
    )
    metrics = trainer.evaluate()
    for alpha in ("(1,0)", "(0,1)", "(0.5,0.5)"):
        for name in OBJECTIVES:
            for stat in ("loss", "accuracy", "margin"):
                assert f"eval_{name}_{stat}@alpha={alpha}" in metrics
    assert all(torch.isfinite(torch.tensor(value)) for value in metrics.values())
    # the two objectives are exact opposites, so their accuracies at any alpha add up to one
    for alpha in ("(1,0)", "(0,1)", "(0.5,0.5)"):
        first = metrics[f"eval_first_word_accuracy@alpha={alpha}"]
        assert first + metrics[f"eval_second_word_accuracy@alpha={alpha}"] == pytest.approx(1.0)


def run_two_processes(script_name: str, output_dir: Path, timeout: int) -> subprocess.CompletedProcess:
    """Run a script of this folder under torchrun with 2 gloo processes and OUTPUT_DIR as its argument; assert it
    exits cleanly within `timeout` seconds."""
    with socket.socket() as probe:  # a port no other process holds, so that parallel or leftover runs cannot clash
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port)]
    command += [str(Path(__file__).parent / script_name), str(output_dir)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_multi_process_training_keeps_the_ranks_identical(tmp_path):
    run_two_processes("ddp_parm_train.py", tmp_path, timeout=600)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    assert all(rank["world_size"] == 2 for rank in ranks)
    torch.testing.assert_close(ranks[0]["alphas"], ranks[1]["alphas"], rtol=0, atol=0)
    for name, value in ranks[0]["weights"].items():
        torch.testing.assert_close(ranks[1]["weights"][name], value, rtol=0, atol=0, msg=name)
    assert any(not torch.equal(value, torch.zeros_like(value)) for value in ranks[0]["weights"].values())


@pytest.mark.parametrize("group_initialized", [True, False])
def test_end_waits_and_frees_the_reducers_before_destroying_the_group(tmp_path, monkeypatch, group_initialized):
    # a gloo rank could otherwise deadlock at exit (docs/training.md, "Multi-GPU and clusters"); without a process
    # group (one process, or end called twice) a barrier would raise, so there is no wait
    trainer = make_trainer(tmp_path, max_steps=1)
    calls = []
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: group_initialized)
    monkeypatch.setattr(trainer.accelerator, "wait_for_everyone", lambda: calls.append("wait_for_everyone"))
    monkeypatch.setattr(trainer.accelerator, "end_training", lambda: calls.append("end_training"))
    monkeypatch.setattr(
        parm_trainer_module, "free_data_parallel_reducers", lambda modules: calls.append(("free", list(modules)))
    )
    trainer.end()
    freed = ("free", [trainer.model_wrapped, *trainer.accelerator._models])  # every DDP wrapper the trainer made
    assert calls == (["wait_for_everyone", freed, "end_training"] if group_initialized else ["end_training"])


def test_end_frees_the_process_group_while_a_gloo_collective_is_still_in_flight(tmp_path):
    # rank 0 frees its trainer while its gloo worker still holds an all_gather's tensors; freed from the DDP reducer,
    # with the GIL held, the group deadlocked this script at every run (docs/training.md, "Multi-GPU and clusters")
    result = run_two_processes("ddp_exit_with_collective_in_flight.py", tmp_path, timeout=300)
    assert sorted(line for line in result.stdout.splitlines() if line.endswith("freed")) == [
        "rank 0 freed",
        "rank 1 freed",
    ]


TURN_TEMPLATE = (  # user turns 'w3 ...', assistant turns 'w4 ... </s>': a header and an end of turn, as real ones
    "{% for message in messages %}{% if message['role'] == 'user' %}w3 {{ message['content'] }} "
    "{% else %}w4 {{ message['content'] }} </s> {% endif %}{% endfor %}{% if add_generation_prompt %}w4 {% endif %}"
)


@pytest.mark.parametrize("chat_responses", [True, False])
def test_conversational_preference_data_goes_through_the_chat_template(tmp_path, chat_responses):
    """Chat responses keep the template's end-of-turn token (TRL's rendering, no EOS added); plain-text responses
    after a chat prompt (PARM's own form) end with EOS."""

    def conversational(chosen: str, rejected: str) -> Dataset:
        if chat_responses:
            chosen, rejected = [{"role": "assistant", "content": chosen}], [{"role": "assistant", "content": rejected}]
        return Dataset.from_dict(
            {"prompt": [[{"role": "user", "content": "w10 w11"}]], "chosen": [chosen], "rejected": [rejected]}
        )

    tokenizer = tiny_chat_tokenizer()
    tokenizer.chat_template = TURN_TEMPLATE
    trainer = PARMTrainer(
        model=tiny_llama(seed=1),
        args=parm_args(tmp_path, max_steps=1),
        train_dataset={"first_word": conversational("w5 w7", "w6"), "second_word": conversational("w6", "w5 w7")},
        processing_class=tokenizer,
        peft_config=trainer_pblora_config(),
    )
    row = trainer.train_dataset[0]
    assert row["prompt_input_ids"][0] == [3, 10, 11, 4]
    end_of_turn = tokenizer.convert_tokens_to_ids("</s>")
    assert end_of_turn == tokenizer.eos_token_id == 1  # here the end-of-turn token is EOS, once, either way
    assert row["first_input_ids"] == [[5, 7, 1], [6, 1]] and row["second_input_ids"] == [[6, 1], [5, 7, 1]]
    trainer.train()


def test_a_model_given_by_path_is_loaded(tmp_path):
    tiny_llama(seed=1).save_pretrained(tmp_path / "base")
    trainer = PARMTrainer(
        model=str(tmp_path / "base"),
        args=parm_args(tmp_path, max_steps=1),
        train_dataset=disagreeing_datasets(),
        processing_class=tiny_tokenizer(),
        peft_config=trainer_pblora_config(),
    )
    trainer.train()
    assert isinstance(trainer.model, PeftModel)


def test_precomputed_reference_rewards_train_the_same_adapter_as_per_step_ones(tmp_path):
    adapters, forwards_per_step = [], []
    for precompute in (True, False):
        trainer = make_trainer(
            tmp_path / str(precompute),
            reference_relative_rewards=["second_word"],
            precompute_ref_log_probs=precompute,
        )
        forwards = []
        score = trainer._rewards
        trainer._rewards = lambda model, inputs, forwards=forwards, score=score: (
            forwards.append(1) or score(model, inputs)
        )
        trainer.train()
        forwards_per_step.append(len(forwards) / trainer.state.global_step)
        adapters.append(
            {name: value.detach().clone() for name, value in trainer.model.named_parameters() if value.requires_grad}
        )
    assert forwards_per_step == [1, 2], "precomputed: no reference forward during training"
    assert adapters[0].keys() == adapters[1].keys()
    for name in adapters[0]:
        torch.testing.assert_close(adapters[0][name], adapters[1][name], rtol=1e-4, atol=1e-6)
