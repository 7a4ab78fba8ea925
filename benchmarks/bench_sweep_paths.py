"""The end-to-end run's sweep decoding, fused path against the separate one, on a trained run folder.

The sweep answers every test prompt at every grid alpha. Where the PARM is the base plus its adapter it now decodes
through `PARMGuidedModel` (one forward over [base rows; PARM rows]); before, through `PARMGuidance` beside the base's
own `generate` (two forwards a token). This times both on the same rows, alternating the paths each round, and
checks they write the same answers. The folder is only read (the run's settings, adapter and prompts).

    python benchmarks/bench_sweep_paths.py runs/default --prompts 4 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from unittest import mock

import torch

from peft_pblora.demo.loading import run_settings
from peft_pblora.evaluation import preference_grid
from peft_pblora.pipeline.stages import Run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a trained run folder (method parm, the PARM on the base)")
    parser.add_argument("--prompts", type=int, default=4, help="test prompts to answer (all alphas each)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each timing both paths")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = run_settings(args.run_dir)
    run = Run(settings)
    if run.guidance_path != "fused":
        raise SystemExit(f"{args.run_dir}: the sweep's path is {run.guidance_path!r}, not the fused one")
    alphas = [list(alpha) for alpha in preference_grid(len(settings.objective_names), settings.grid_step)]
    rows = [(alpha, prompt) for alpha in alphas for prompt in run.test_prompts[: args.prompts]]
    run.base()  # load before timing
    times: dict[str, list[float]] = {"fused": [], "separate": []}
    answers: dict[str, list] = {}
    for _ in range(args.rounds):
        for path in ("separate", "fused"):
            with mock.patch.object(Run, "guidance_path", new=mock.PropertyMock(return_value=path)):
                start = time.perf_counter()
                answers[path] = run._answers(rows)
                times[path].append(time.perf_counter() - start)
    same = answers["fused"] == answers["separate"]
    separate, fused = statistics.median(times["separate"]), statistics.median(times["fused"])
    tokens = len(rows) * settings.sweep_tokens
    result = {
        "run": str(args.run_dir),
        "rows": len(rows),
        "sweep_batch_size": settings.sweep_batch_size,
        "max_new_tokens": settings.sweep_tokens,
        "separate_s": round(separate, 1),
        "fused_s": round(fused, 1),
        "fused_over_separate": round(fused / separate, 3),
        "separate_rows_tokens_per_s": round(tokens / separate, 1),
        "fused_rows_tokens_per_s": round(tokens / fused, 1),
        "same_answers": same,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
