"""Run by test_parm_trainer under torchrun: `PARMTrainer.end` with a gloo all_gather still in flight on rank 0.

Rank 1 joins the all_gather 2 s late, so rank 0's worker is still holding the gathered tensors (and will need the GIL
to free them) while rank 0 frees the trainer. Were the process group freed from the DDP reducer, with the GIL held,
rank 0 would deadlock; each rank prints "freed" once the trainer and its process group are gone.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from tests.trainer.ddp_parm_train import two_process_trainer  # noqa: E402


def main(output_dir: str) -> None:
    trainer = two_process_trainer(output_dir, max_steps=1)
    trainer.train()
    rank = trainer.args.process_index
    wait_for_everyone = trainer.accelerator.wait_for_everyone

    def wait_then_leave_an_all_gather_in_flight() -> None:
        wait_for_everyone()
        if rank == 1:
            time.sleep(2)
        gathered = [torch.zeros(2) for _ in range(2)]
        torch.distributed.all_gather(gathered, torch.ones(2), async_op=True)  # Python lets go of its tensors now

    trainer.accelerator.wait_for_everyone = wait_then_leave_an_all_gather_in_flight
    trainer.end()
    del trainer
    gc.collect()
    print(f"rank {rank} freed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
