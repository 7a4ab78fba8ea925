"""PARMConfig.train_only_objectives: training on only some objectives' own directions of a per-objective core."""

from __future__ import annotations

import pytest
import torch

from peft_pblora import PARMTrainer, pblora_layers, set_preference
from peft_pblora.tuners.pblora.own_directions import OwnDirectionsOnly

from ..conftest import disagreeing_datasets, parm_args, tiny_llama, tiny_tokenizer, trainer_pblora_config

PER_OBJECTIVE = dict(r1=0, r2=4, core="per_objective", init_weights=False)


def adapter_state(model) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.named_parameters() if "pblora" in name}


def logits_at(model, alpha: list[float]) -> torch.Tensor:
    set_preference(model, alpha)
    with torch.no_grad():
        return model(input_ids=torch.tensor([[3, 9, 14, 27, 5]])).logits


def trained_parm(tmp_path, **config):
    trainer = PARMTrainer(
        model=tiny_llama(seed=1), args=parm_args(tmp_path / "first"), train_dataset=disagreeing_datasets(),
        processing_class=tiny_tokenizer(), peft_config=trainer_pblora_config(**{**PER_OBJECTIVE, **config}),
    )  # fmt: skip
    trainer.train()
    return trainer.model


@pytest.mark.parametrize("r1", [0, 2])
def test_the_other_objectives_directions_stay_exactly_as_they_started(tmp_path, r1):
    model = trained_parm(tmp_path, r1=r1)
    before, first_vertex = adapter_state(model), logits_at(model, [1.0, 0.0])
    second_vertex = logits_at(model, [0.0, 1.0])
    trainer = PARMTrainer(
        model=model, args=parm_args(tmp_path / "on", weight_decay=0.5, train_only_objectives=["second_word"]),
        train_dataset=disagreeing_datasets(seed=1), processing_class=tiny_tokenizer(),
    )  # fmt: skip
    trainer.train()
    after = adapter_state(model)
    assert any(not torch.equal(before[name], after[name]) for name in before)
    # the adapter at first_word's vertex uses first_word's directions only: its output must not move at all
    assert torch.equal(logits_at(model, [1.0, 0.0]), first_vertex)
    assert not torch.allclose(logits_at(model, [0.0, 1.0]), second_vertex)
    for layer in pblora_layers(model):  # by hand: the shared r1 and first_word's 2 rows of A, columns of B, G's row 0
        A, B = layer.pblora_A["default"].weight, layer.pblora_B["default"].weight
        core = layer.pblora_core["default"]
        frozen = r1 + 2
        name = next(key for key, value in model.named_parameters() if value is A)
        assert torch.equal(A[:frozen], before[name][:frozen]) and not torch.equal(A[frozen:], before[name][frozen:])
        name = next(key for key, value in model.named_parameters() if value is B)
        assert torch.equal(B[:, :frozen], before[name][:, :frozen])
        name = next(key for key, value in model.named_parameters() if value is core.G)
        assert torch.equal(core.G[0], before[name][0])
        name = next(key for key, value in model.named_parameters() if value is core.W1)
        assert torch.equal(core.W1, before[name])


def test_the_frozen_entries_get_no_gradient(tmp_path):
    """Clipping and the optimiser must see the trained entries' gradient only."""
    model = trained_parm(tmp_path, r1=2)
    frozen = OwnDirectionsOnly(model, ["second_word"])
    set_preference(model, [0.5, 0.5])
    model(input_ids=torch.tensor([[3, 9, 14, 27, 5]])).logits.square().mean().backward()
    for parameter, mask in frozen.masks:
        assert parameter.grad[~mask].eq(0).all()
        assert not mask.any() or parameter.grad[mask].ne(0).any()  # W1, shared, has no trained entry


def test_train_only_objectives_names_the_problem_before_training(tmp_path):
    def trainer_on(model, names):
        return PARMTrainer(
            model=model, args=parm_args(tmp_path, train_only_objectives=names), train_dataset=disagreeing_datasets(),
            processing_class=tiny_tokenizer(),
        )  # fmt: skip

    with pytest.raises(ValueError, match=r"own directions of \['tone'\]: the adapter's objectives are"):
        trainer_on(trained_parm(tmp_path), ["tone"])
    with pytest.raises(ValueError, match="needs core='per_objective'.*BilinearPreferenceCore"):
        trainer_on(trained_parm(tmp_path, core="bilinear"), ["first_word"])
    with_trainable_base = trained_parm(tmp_path)
    next(with_trainable_base.base_model.model.model.embed_tokens.parameters()).requires_grad_(True)
    with pytest.raises(ValueError, match=r"would still train \['base_model.model.model.embed_tokens.weight'\]"):
        trainer_on(with_trainable_base, ["first_word"])
    with pytest.raises(TypeError, match="train_only_objectives must hold strings"):
        parm_args(tmp_path, train_only_objectives=[1])
