"""Per-layer overhead of the adapter path where dispatch, not arithmetic, dominates (tiny tensors).

On a GPU, the adapted layers of a ~1B model at realistic batch sizes are in this regime: each small kernel costs
its launch and its autograd bookkeeping. This script times forward + backward of one tiny adapted linear layer
(base frozen), median of several repeats, for: the base layer alone, LoRA r = 8, PBLoRA r1 = r2 = 4 with one alpha
per row, and PBLoRA with one alpha for the batch.

    python benchmarks/bench_adapter_dispatch.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from peft import LoraConfig
from peft.tuners.lora import Linear as LoraLinear
from torch import nn

from peft_pblora import PBLoraConfig, PBLoraLinear


def microseconds(step: Callable[[], None], calls: int, repeats: int) -> float:
    for _ in range(calls // 5):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            step()
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(8, 4, 16, requires_grad=True)
    base = nn.Linear(16, 16).requires_grad_(False)
    lora = LoraLinear(nn.Linear(16, 16), "default", r=8, lora_alpha=16, lora_dropout=0.05, config=LoraConfig(r=8))
    config = PBLoraConfig(r1=4, r2=4, lora_dropout=0.05, init_weights=False)
    per_row = PBLoraLinear(nn.Linear(16, 16), "default", config)
    per_row.set_preference("default", torch.distributions.Dirichlet(torch.full((2,), 0.5)).sample((8,)))
    shared = PBLoraLinear(nn.Linear(16, 16), "default", config)
    shared.set_preference("default", torch.tensor([0.3, 0.7]))
    layers = {"base layer": base, "LoRA r=8": lora, "PBLoRA per-row alpha": per_row, "PBLoRA one alpha": shared}
    for layer in layers.values():
        layer.train()
        for parameter in layer.get_base_layer().parameters() if hasattr(layer, "get_base_layer") else []:
            parameter.requires_grad_(False)
    results = {
        name: microseconds(lambda layer=layer: layer(x).sum().backward(), args.calls, args.repeats)
        for name, layer in layers.items()
    }
    print(f"forward + backward of one tiny adapted layer, 1 thread, median of {args.repeats} x {args.calls} calls")
    for name, value in results.items():
        extra = value - results["base layer"]
        print(f"  {name:<22} {value:7.1f} us   adapter cost {extra:6.1f} us")
    lora_cost = results["LoRA r=8"] - results["base layer"]
    for name in ("PBLoRA per-row alpha", "PBLoRA one alpha"):
        print(f"  {name} adapter cost / LoRA's: {(results[name] - results['base layer']) / lora_cost:.2f}x")


if __name__ == "__main__":
    main()
