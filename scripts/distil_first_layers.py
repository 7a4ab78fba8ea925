"""Make a weak PARM starting model offline: the base's first layers, distilled on the shipped candidate answers.

    python scripts/distil_first_layers.py --layers 15 --epochs 1 --output_dir runs/smollm2-first15
    peft-pblora run --output_dir runs/w2s-first15 --parm_model runs/smollm2-first15

The first layers of a model are no language model until they learn to predict like the whole model
(docs/recipes.md, weak-to-strong); this trains them on the base's next-token distributions (forward KL) over the
base's own sampled answers, the last `--held_out_prompts` prompts' answers held out to measure the KL before and
after, and saves the student with the base's tokenizer, ready for `--parm_model`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from datasets import load_from_disk

from peft_pblora.pipeline.model_loading import first_layers, load_model_and_tokenizer
from peft_pblora.pipeline.prompts import shipped_candidates_dir
from peft_pblora.trainer.distillation import candidate_answer_texts, distil_on_texts, forward_kl_per_token


def held_out_kl(teacher, student, tokenizer, texts: list[str], batch_size: int = 8) -> float:
    """Mean per-token KL(teacher || student) over `texts`, batch by batch."""
    values = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True, truncation=True,
                          max_length=256, add_special_tokens=False)  # fmt: skip
        batch = batch.to(student.device)
        with torch.no_grad():
            values.append(forward_kl_per_token(teacher(**batch).logits, student(**batch).logits,
                                               batch["attention_mask"]).item())  # fmt: skip
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base_model", default="smollm2")
    parser.add_argument("--layers", type=int, default=15, help="how many of the base's first layers to keep")
    parser.add_argument("--candidates", type=Path, default=shipped_candidates_dir(), help="a candidates dataset")
    parser.add_argument("--held_out_prompts", type=int, default=8)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--learning_rate", type=float, default=2e-4)
    parser.add_argument("--output_dir", type=Path, required=True)
    arguments = parser.parse_args()
    teacher, tokenizer = load_model_and_tokenizer(arguments.base_model)
    candidates = load_from_disk(str(arguments.candidates))
    held_out = len(candidates) - arguments.held_out_prompts
    train_texts = candidate_answer_texts(tokenizer, candidates.select(range(held_out)))
    held_out_texts = candidate_answer_texts(tokenizer, candidates.select(range(held_out, len(candidates))))
    student = first_layers(teacher, arguments.layers)
    kl_before = held_out_kl(teacher, student, tokenizer, held_out_texts)
    print(f"{len(train_texts)} training texts; held-out KL(base || first {arguments.layers} layers): {kl_before:.3f}")
    start = time.perf_counter()
    student, losses = distil_on_texts(
        student, teacher, tokenizer, train_texts, str(arguments.output_dir / "trainer"), epochs=arguments.epochs,
        batch_size=arguments.batch_size, learning_rate=arguments.learning_rate,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    kl_after = held_out_kl(teacher, student, tokenizer, held_out_texts)
    print(f"distilled in {seconds:.0f} s; held-out KL after: {kl_after:.3f}")
    student.save_pretrained(arguments.output_dir)
    tokenizer.save_pretrained(arguments.output_dir)
    summary = {**{key: str(value) for key, value in vars(arguments).items()}, "held_out_kl_before": kl_before,
               "held_out_kl_after": kl_after, "train_seconds": seconds, "losses": losses}  # fmt: skip
    (arguments.output_dir / "distillation.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
