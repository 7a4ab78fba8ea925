"""Run by test_multi_process_training under torchrun: a 2-process PARM training on a tiny model.

Each rank saves its adapter weights and the alphas it drew to OUTPUT_DIR/rank<N>.pt.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from peft_pblora import PARMConfig, PARMTrainer  # noqa: E402
from tests.conftest import disagreeing_datasets, tiny_llama, tiny_tokenizer, trainer_pblora_config  # noqa: E402


def two_process_trainer(output_dir: str, max_steps: int = 3) -> PARMTrainer:
    """A PARM trainer on a tiny model for a 2-process gloo run: 8 rows, batch 2 per rank."""
    args = PARMConfig(
        output_dir=output_dir,
        per_device_train_batch_size=2,
        max_steps=max_steps,
        learning_rate=1e-2,
        beta_r=0.5,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        seed=5,
        ddp_backend="gloo",
    )
    return PARMTrainer(
        model=tiny_llama(seed=1),
        args=args,
        train_dataset=disagreeing_datasets(rows=8),
        processing_class=tiny_tokenizer(),
        peft_config=trainer_pblora_config(init_weights=False),
    )


def main(output_dir: str) -> None:
    trainer = two_process_trainer(output_dir)
    drawn = []
    draw = trainer._draw_preference
    trainer._draw_preference = lambda rows: drawn.append(draw(rows)) or drawn[-1]
    trainer.train()
    weights = {name: p.detach().clone() for name, p in trainer.model.named_parameters() if "pblora_" in name}
    rank = trainer.args.process_index
    torch.save(
        {"weights": weights, "alphas": torch.stack(drawn), "world_size": trainer.args.world_size},
        Path(output_dir) / f"rank{rank}.pt",
    )
    trainer.end()  # both ranks leave together, then the process group is destroyed


if __name__ == "__main__":
    main(sys.argv[1])
