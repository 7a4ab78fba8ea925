"""Distilling a base model into a smaller student on fixed texts, so a cut-down copy becomes a language model again.

Weak-to-strong guidance needs a PARM that is a language model of the base's vocabulary. Where no smaller sibling
model is at hand, the base's first layers are the natural start (`models.first_layers`), but their next-token
distribution is noise until they learn to predict like the base: `TextDistillationTrainer` trains them to match the
base's next-token distributions (forward KL, per token) on texts such as the base's own sampled answers. TRL's
`DistillationTrainer` distils on-policy (it samples from the student); this one is off-policy, on given texts, so a
student that starts as noise costs no generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import DataCollatorWithPadding, PreTrainedModel, Trainer, TrainingArguments

from ..data.chat import chat_texts


def forward_kl_per_token(
    teacher_logits: torch.Tensor, student_logits: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Mean over real (unpadded) positions of KL(teacher || student) between the next-token distributions."""
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"teacher and student logits differ in shape ({tuple(teacher_logits.shape)} vs "
            f"{tuple(student_logits.shape)}): they need the same vocabulary"
        )
    teacher_log_probs = F.log_softmax(teacher_logits.float(), dim=-1)
    student_log_probs = F.log_softmax(student_logits.float(), dim=-1)
    kl = (teacher_log_probs.exp() * (teacher_log_probs - student_log_probs)).sum(-1)
    mask = attention_mask.to(kl.dtype)
    return (kl * mask).sum() / mask.sum().clamp_min(1.0)


class TextDistillationTrainer(Trainer):
    """Trains `model` (the student) to match a frozen `teacher_model`'s next-token distributions on fixed texts.

    `train_dataset` holds tokenised texts (`input_ids`, see `tokenize_texts`); the loss is the per-token forward KL
    (`forward_kl_per_token`), the usual choice when the student should cover everything the teacher predicts.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        teacher_model: PreTrainedModel,
        args: TrainingArguments,
        train_dataset: Dataset,
        processing_class: Any,
        **kwargs: Any,
    ) -> None:
        if teacher_model.config.vocab_size != model.config.vocab_size:
            raise ValueError(
                f"the teacher's vocabulary ({teacher_model.config.vocab_size} tokens) differs from the student's "
                f"({model.config.vocab_size}): distillation compares their next-token distributions token by token"
            )
        if "input_ids" not in train_dataset.column_names:
            raise ValueError(f"train_dataset needs an 'input_ids' column, got {train_dataset.column_names}")
        args.remove_unused_columns = False
        super().__init__(
            model=model,
            args=args,
            train_dataset=train_dataset,
            processing_class=processing_class,
            data_collator=DataCollatorWithPadding(processing_class),
            **kwargs,
        )
        self.teacher_model = teacher_model.to(self.args.device).eval().requires_grad_(False)

    def compute_loss(
        self, model: PreTrainedModel, inputs: dict[str, torch.Tensor], return_outputs: bool = False, **kwargs: Any
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        batch = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        with torch.no_grad():
            teacher_logits = self.teacher_model(**batch).logits
        outputs = model(**batch)
        loss = forward_kl_per_token(teacher_logits, outputs.logits, inputs["attention_mask"])
        return (loss, outputs) if return_outputs else loss


def tokenize_texts(tokenizer: Any, texts: Sequence[str], max_length: int) -> Dataset:
    """Texts as a Dataset of `input_ids` cut to `max_length` tokens, ready for `TextDistillationTrainer`."""
    if not texts:
        raise ValueError("no texts to distil on")
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=False)
    return Dataset.from_dict({"input_ids": encoded["input_ids"]})


def distil_on_texts(
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    tokenizer: Any,
    texts: Sequence[str],
    output_dir: str,
    *,
    epochs: float = 1.0,
    batch_size: int = 8,
    learning_rate: float = 2e-4,
    max_length: int = 256,
    seed: int = 0,
) -> tuple[PreTrainedModel, list[float]]:
    """Fully fine-tunes `student` towards `teacher` on `texts`; returns it in eval mode and its logged losses."""
    args = TrainingArguments(
        output_dir=output_dir, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, lr_scheduler_type="cosine", warmup_steps=0.1, logging_steps=1,
        save_strategy="no", report_to=[], seed=seed, use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
    )  # fmt: skip
    trainer = TextDistillationTrainer(
        model=student, teacher_model=teacher, args=args,
        train_dataset=tokenize_texts(tokenizer, texts, max_length), processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return student.eval(), losses


def candidate_answer_texts(tokenizer: Any, candidates: Dataset) -> list[str]:
    """Each sampled answer of a candidates dataset (`prompt`, `responses`) after its prompt's chat turn, ending
    with EOS: the texts a PARM scores, so the ones a student made for guidance should predict like the base."""
    missing = [column for column in ("prompt", "responses") if column not in candidates.column_names]
    if missing:
        raise ValueError(f"the candidates dataset lacks the column(s) {missing}; it has {candidates.column_names}")
    texts = []
    for prompt, responses in zip(candidates["prompt"], candidates["responses"], strict=True):
        prefix = chat_texts(tokenizer, [prompt])[0]
        texts += [prefix + response + tokenizer.eos_token for response in responses]
    return texts
