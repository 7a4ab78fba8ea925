"""Distilling the base into its first layers: the per-token KL by hand, the student learning, and bad input."""

from __future__ import annotations

import copy
import json
import random
import runpy
import sys

import pytest
import torch
from datasets import Dataset
from torch.distributions import Categorical, kl_divergence
from transformers import LlamaForCausalLM, TrainingArguments

from peft_pblora.pipeline.model_loading import first_layers
from peft_pblora.trainer.distillation import (
    TextDistillationTrainer,
    candidate_answer_texts,
    distil_on_texts,
    forward_kl_per_token,
    tokenize_texts,
)

from ..conftest import REPO, VOCAB_SIZE, tiny_chat_tokenizer, tiny_llama, tiny_tokenizer


def random_texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(f"w{rng.randrange(3, VOCAB_SIZE)}" for _ in range(rng.randrange(4, 12))) for _ in range(count)]


def kl_on(teacher: LlamaForCausalLM, student: LlamaForCausalLM, tokenizer, texts: list[str]) -> float:
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        teacher_logits, student_logits = teacher(**batch).logits, student(**batch).logits
    return forward_kl_per_token(teacher_logits, student_logits, batch["attention_mask"]).item()


def test_forward_kl_is_the_mean_over_unpadded_positions_of_each_positions_kl():
    generator = torch.Generator().manual_seed(0)
    teacher, student = torch.randn(2, 5, 11, generator=generator), torch.randn(2, 5, 11, generator=generator)
    mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    by_hand = [
        kl_divergence(Categorical(logits=teacher[row, position]), Categorical(logits=student[row, position]))
        for row in range(2)
        for position in range(5)
        if mask[row, position]
    ]
    assert forward_kl_per_token(teacher, student, mask).item() == pytest.approx(torch.stack(by_hand).mean().item())
    assert forward_kl_per_token(teacher, teacher.clone(), mask).item() == pytest.approx(0.0, abs=1e-6)


def test_distilling_brings_the_first_layer_closer_to_the_teacher_and_leaves_the_teacher_alone(tmp_path):
    tokenizer, teacher = tiny_tokenizer(), tiny_llama(seed=3)
    with torch.no_grad():  # a random model predicts almost uniformly: sharpen it so its layers matter
        teacher.lm_head.weight.mul_(30.0)
    teacher_before = copy.deepcopy(teacher.state_dict())
    student = first_layers(teacher, 1)
    texts = random_texts(16)
    before = kl_on(teacher, student, tokenizer, texts)
    student, losses = distil_on_texts(
        student, teacher, tokenizer, texts, str(tmp_path), epochs=6, batch_size=4, learning_rate=2e-3
    )
    after = kl_on(teacher, student, tokenizer, texts)
    assert after < 0.5 * before
    assert len(losses) == 6 * 4 and losses[-1] < losses[0]
    assert all(torch.equal(teacher_before[name], value) for name, value in teacher.state_dict().items())
    assert not student.training


def test_bad_distillation_input_is_refused_before_training(tmp_path):
    tokenizer, student = tiny_tokenizer(), tiny_llama()
    other_vocabulary = copy.deepcopy(student.config)
    other_vocabulary.vocab_size = VOCAB_SIZE + 5
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True)
    texts = tokenize_texts(tokenizer, random_texts(2), max_length=8)
    with pytest.raises(ValueError, match="teacher's vocabulary \\(102 tokens\\) differs from the student's \\(97\\)"):
        TextDistillationTrainer(student, LlamaForCausalLM(other_vocabulary), args, texts, tokenizer)
    with pytest.raises(ValueError, match="needs an 'input_ids' column"):
        TextDistillationTrainer(student, tiny_llama(), args, Dataset.from_dict({"text": ["w5"]}), tokenizer)
    with pytest.raises(ValueError, match="no texts to distil on"):
        tokenize_texts(tokenizer, [], max_length=8)
    with pytest.raises(ValueError, match="differ in shape"):
        forward_kl_per_token(torch.zeros(1, 2, 5), torch.zeros(1, 2, 6), torch.ones(1, 2))


def test_candidate_answers_follow_their_prompts_chat_turn():
    tokenizer = tiny_chat_tokenizer()
    candidates = Dataset.from_dict({"prompt": ["w5 w6", "w7"], "responses": [["w8", "w9 w10"], ["w11"]]})
    assert candidate_answer_texts(tokenizer, candidates) == ["w5 w6 w4 w8</s>", "w5 w6 w4 w9 w10</s>", "w7 w4 w11</s>"]
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['responses'\]"):
        candidate_answer_texts(tokenizer, Dataset.from_dict({"prompt": ["w5"]}))


def test_the_distillation_script_saves_a_student_that_loads_for_guidance(tmp_path, monkeypatch):
    base_dir, out = tmp_path / "base", tmp_path / "student"
    teacher = tiny_llama(seed=3)
    teacher.save_pretrained(base_dir)
    tiny_chat_tokenizer().save_pretrained(base_dir)
    prompts = random_texts(6, seed=1)
    Dataset.from_dict({"prompt": prompts, "responses": [random_texts(3, seed=i) for i in range(6)]}).save_to_disk(
        tmp_path / "candidates"
    )
    arguments = ["--base_model", str(base_dir), "--layers", "1", "--candidates", str(tmp_path / "candidates")]
    arguments += ["--held_out_prompts", "2", "--epochs", "2", "--batch_size", "4", "--output_dir", str(out)]
    monkeypatch.setattr(sys, "argv", ["distil_first_layers.py", *arguments])
    runpy.run_path(str(REPO / "scripts" / "distil_first_layers.py"), run_name="__main__")
    summary = json.loads((out / "distillation.json").read_text())
    assert summary["held_out_kl_after"] >= 0 and len(summary["losses"]) == 2 * 3
    student = LlamaForCausalLM.from_pretrained(out)
    assert student.config.num_hidden_layers == 1 and student.config.vocab_size == teacher.config.vocab_size
