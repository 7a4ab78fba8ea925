"""Speed of the PBLoRA tuner against plain LoRA of the same total rank and against the base model.

Measured in one run on the same randomly initialised Llama model:
- training step (forward + backward) with one preference row per example, PBLoRA r1 + r2 vs LoRA r = r1 + r2;
- unmerged inference forward, PBLoRA vs LoRA;
- PBLoRA merged for one preference vs the base model.
Variants are timed round-robin and the median per variant is reported, so drift on the machine hits all alike.

    python benchmarks/bench_pblora.py --preset cpu              # 2-core CPU, small model
    python benchmarks/bench_pblora.py --preset gpu              # CUDA, ~1.1B parameters in bf16
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

import peft_pblora  # noqa: F401  (registers PBLoRA)
from peft_pblora import PBLoraConfig

PRESETS = {
    # a few transformer layers that a 2-core CPU runs in tens of milliseconds
    "cpu": dict(hidden=512, intermediate=1376, layers=4, heads=8, kv_heads=8, batch=8, seq=128, dtype="float32"),
    # TinyLlama-1.1B shape: the size of a PARM in the paper's weak-to-strong experiment
    "gpu": dict(hidden=2048, intermediate=5632, layers=22, heads=32, kv_heads=4, batch=8, seq=512, dtype="bfloat16"),
}


@dataclass
class Measurement:
    name: str
    seconds: list[float]

    @property
    def median_ms(self) -> float:
        return 1000 * statistics.median(self.seconds)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_round_robin(
    tasks: dict[str, Callable[[], None]], rounds: int, warmup: int, device: torch.device
) -> dict[str, Measurement]:
    for _ in range(warmup):
        for task in tasks.values():
            task()
    results = {name: Measurement(name, []) for name in tasks}
    for _ in range(rounds):
        for name, task in tasks.items():
            synchronize(device)
            start = time.perf_counter()
            task()
            synchronize(device)
            results[name].seconds.append(time.perf_counter() - start)
    return results


def build_base(args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        max_position_embeddings=max(2048, args.seq),
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    return model.to(dtype)


def training_step(model: torch.nn.Module, ids: torch.Tensor, set_preference: Callable[[], None] | None) -> None:
    if set_preference is not None:
        set_preference()
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    model.zero_grad(set_to_none=True)


def peak_training_memory(step: Callable[[], None], device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    step()
    synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--hidden", type=int)
    parser.add_argument("--intermediate", type=int)
    parser.add_argument("--layers", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--kv-heads", type=int)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--seq", type=int)
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--r1", type=int, default=4)
    parser.add_argument("--r2", type=int, default=4)
    parser.add_argument("--num-preferences", type=int, default=2)
    parser.add_argument("--targets", default="q_proj,k_proj,v_proj")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", help="write the results to this JSON file too")
    args = parser.parse_args()
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    device = torch.device("cuda" if torch.cuda.is_available() and args.preset == "gpu" else "cpu")
    dtype = getattr(torch, args.dtype)
    targets = args.targets.split(",")
    rank = args.r1 + args.r2
    base = build_base(args, device, dtype)
    lora = get_peft_model(
        copy.deepcopy(base),
        LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=targets, task_type="CAUSAL_LM"),
    )
    pblora = get_peft_model(
        copy.deepcopy(base),
        PBLoraConfig(
            r1=args.r1,
            r2=args.r2,
            num_preferences=args.num_preferences,
            lora_alpha=2 * args.r2,
            lora_dropout=0.05,
            target_modules=targets,
            task_type="CAUSAL_LM",
        ),
    )
    merged = get_peft_model(
        copy.deepcopy(base),
        PBLoraConfig(
            r1=args.r1, r2=args.r2, num_preferences=args.num_preferences, target_modules=targets, init_weights=False
        ),
    )
    merged.merge_adapter(preference=torch.full((args.num_preferences,), 1.0 / args.num_preferences))

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 32000, (args.batch, args.seq), generator=generator).to(device)
    dirichlet = torch.distributions.Dirichlet(torch.full((args.num_preferences,), 0.5))

    def set_per_row_preferences() -> None:
        pblora.set_preference(dirichlet.sample((args.batch,)))

    def set_one_preference() -> None:
        pblora.set_preference(dirichlet.sample())

    lora.train()
    pblora.train()
    training = time_round_robin(
        {
            "LoRA training step": lambda: training_step(lora, ids, None),
            "PBLoRA training step (per-row alpha)": lambda: training_step(pblora, ids, set_per_row_preferences),
            "PBLoRA training step (one alpha per batch)": lambda: training_step(pblora, ids, set_one_preference),
        },
        args.rounds,
        args.warmup,
        device,
    )
    memory = {
        "LoRA training step": peak_training_memory(lambda: training_step(lora, ids, None), device),
        "PBLoRA training step (per-row alpha)": peak_training_memory(
            lambda: training_step(pblora, ids, set_per_row_preferences), device
        ),
    }
    for model in (base, lora, pblora, merged):
        model.eval()
    set_per_row_preferences()
    with torch.inference_mode():
        inference = time_round_robin(
            {
                "base forward": lambda: base(input_ids=ids),
                "LoRA forward (unmerged)": lambda: lora(input_ids=ids),
                "PBLoRA forward (unmerged, per-row alpha)": lambda: pblora(input_ids=ids),
                "PBLoRA forward (merged)": lambda: merged(input_ids=ids),
            },
            args.rounds,
            args.warmup,
            device,
        )
    results = {**training, **inference}
    ratios = {
        "training step PBLoRA / LoRA (target <= 1.10)": results["PBLoRA training step (per-row alpha)"].median_ms
        / results["LoRA training step"].median_ms,
        "training step, one alpha per batch, PBLoRA / LoRA": results[
            "PBLoRA training step (one alpha per batch)"
        ].median_ms
        / results["LoRA training step"].median_ms,
        "unmerged forward PBLoRA / LoRA (target <= 1.10)": results[
            "PBLoRA forward (unmerged, per-row alpha)"
        ].median_ms
        / results["LoRA forward (unmerged)"].median_ms,
        "merged PBLoRA / base forward (target <= 1.02)": results["PBLoRA forward (merged)"].median_ms
        / results["base forward"].median_ms,
    }

    device_name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    )
    parameters = sum(p.numel() for p in base.parameters())
    print(f"device: {device_name}; torch {torch.__version__}; dtype {args.dtype}")
    print(
        f"model: Llama {parameters / 1e6:.0f}M parameters, {args.layers} layers, hidden {args.hidden}; "
        f"batch {args.batch} x {args.seq} tokens; targets {targets}; PBLoRA r1={args.r1} r2={args.r2} "
        f"k={args.num_preferences} vs LoRA r={rank}; {args.rounds} rounds, median"
    )
    for name, measurement in results.items():
        peak = memory.get(name)
        peak_text = f"   peak {peak:.2f} GiB" if peak is not None else ""
        print(f"  {name:<44} {measurement.median_ms:10.2f} ms{peak_text}")
    for name, ratio in ratios.items():
        print(f"  {name:<52} {ratio:.3f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {
                    "device": device_name,
                    "settings": vars(args),
                    "median_ms": {name: m.median_ms for name, m in results.items()},
                    "peak_gib": memory,
                    "ratios": ratios,
                },
                handle,
                indent=2,
            )


if __name__ == "__main__":
    main()
