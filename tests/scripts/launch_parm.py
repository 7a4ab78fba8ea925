"""Run by test_parm_script_launch under `accelerate launch`: the launch script's parser and training, then every
rank saves the adapter weights it holds to OUTPUT_DIR/rank<N>.pt, with the world it ran in."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from peft import get_peft_model_state_dict

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from peft_pblora.scripts.parm import make_parser, train  # noqa: E402


def full(tensor: torch.Tensor) -> torch.Tensor:
    """The whole tensor on every rank, also where FSDP2 holds a shard (a DTensor)."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor


def main() -> None:
    trainer = train(*make_parser().parse_args_and_config())
    weights = {
        name: full(value).detach().cpu().clone() for name, value in get_peft_model_state_dict(trainer.model).items()
    }
    record = {
        "weights": weights,
        "world_size": trainer.args.world_size,
        "distributed_type": str(trainer.accelerator.distributed_type),
        "backend": trainer.accelerator.state.backend,
    }
    torch.save(record, Path(trainer.args.output_dir) / f"rank{trainer.args.process_index}.pt")
    trainer.end()


if __name__ == "__main__":
    main()
