"""Peak memory and step time of PARM training against one single-objective ARM, before and after chunked log-probs.

A PARM's training row holds one preference pair per objective (2k sequences), an ARM's one pair, so at the same
batch size a PARM's step should carry k times the activations. Each variant trains a few PARMTrainer steps on a
randomly initialised Llama built from a config, on random word pairs, in a fresh process (the CPU's peak resident
memory only grows); the printed figure is the growth over the model's own footprint: resident memory on a CPU,
`torch.cuda.max_memory_allocated` on a GPU. Each variant runs twice: "before" scores the responses from the
full-vocabulary logits (PEFT_PBLORA_FULL_LOGITS=1, the earlier computation), "after" projects only the completion
positions, a chunk of tokens at a time (the default). The step time is the median wall time of the steps after the
first.

    python benchmarks/bench_training_memory.py --preset cpu
    python benchmarks/bench_training_memory.py --preset gpu     # CUDA, bf16, TinyLlama-1.1B shape
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch

PRESETS = {
    # SmolLM2-135M's vocabulary (the logits dominate a small model's activations), a few narrow layers
    "cpu": dict(hidden=256, intermediate=688, layers=4, heads=4, kv_heads=4, vocab=49152, words=48, batch=4),
    # SmolLM2-135M's shape (the end-to-end run's model), randomly initialised: slow on a CPU (minutes per variant)
    "smollm2": dict(
        hidden=576, intermediate=1536, layers=30, heads=9, kv_heads=3, vocab=49152, words=64, batch=4, tie=True
    ),
    "gpu": dict(hidden=2048, intermediate=5632, layers=22, heads=32, kv_heads=4, vocab=32000, words=160, batch=4),
}
VARIANTS = {
    "PARM, k = 3, batch 4": dict(objectives=3, batch_factor=1.0, accumulation=1),
    "one ARM, batch 4": dict(objectives=1, batch_factor=1.0, accumulation=1),
    "PARM, k = 3, batch 2 x 2 accumulated": dict(objectives=3, batch_factor=0.5, accumulation=2),
}
# PEFT_PBLORA_FULL_LOGITS per path: the full-vocabulary logits (before), or chunked completion log-probs (after)
PATHS = {"before": "1", "after": "0"}


def word_tokenizer(vocab_size: int):
    """A word-level tokenizer built locally ('w3' ... 'w{vocab_size - 1}'): no download."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<s>": 2, **{f"w{index}": index for index in range(3, vocab_size)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<pad>"
    )


def peak_growth_and_step(
    preset: str, objectives: int, batch_factor: float, accumulation: int, steps: int, checkpointing: bool = False
) -> tuple[float, float]:
    """Train `steps` optimizer steps in this process: the peak memory they add over the loaded model (GiB), and the
    median seconds of the steps after the first."""
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM, TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            if cuda:
                torch.cuda.synchronize()
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if cuda:
                torch.cuda.synchronize()
            self.seconds.append(time.perf_counter() - self.start)

    from peft_pblora import PARMConfig, PARMTrainer, PBLoraConfig

    shape = PRESETS[preset]
    cuda = preset == "gpu"
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=shape["vocab"], hidden_size=shape["hidden"], intermediate_size=shape["intermediate"],
        num_hidden_layers=shape["layers"], num_attention_heads=shape["heads"], num_key_value_heads=shape["kv_heads"],
        tie_word_embeddings=shape.get("tie", False),
    )  # fmt: skip
    model = LlamaForCausalLM(config).to(dtype=torch.bfloat16 if cuda else torch.float32)
    rows = steps * shape["batch"] * accumulation
    generator = torch.Generator().manual_seed(1)

    def text() -> str:
        return " ".join(f"w{int(t)}" for t in torch.randint(3, shape["vocab"], (shape["words"],), generator=generator))

    datasets = {
        f"objective_{index}": Dataset.from_dict(
            {column: [text() for _ in range(rows)] for column in ("prompt", "chosen", "rejected")}
        )
        for index in range(objectives)
    }
    with tempfile.TemporaryDirectory() as output_dir:
        args = PARMConfig(
            output_dir=output_dir, per_device_train_batch_size=int(shape["batch"] * batch_factor),
            gradient_accumulation_steps=accumulation, max_steps=steps, learning_rate=1e-4, beta_r=0.1,
            activation_checkpointing=checkpointing, report_to="none", save_strategy="no", use_cpu=not cuda,
            bf16=cuda, dataloader_num_workers=0, disable_tqdm=True,
        )  # fmt: skip
        peft_config = PBLoraConfig(
            r1=0, r2=4 * objectives, num_preferences=objectives, lora_alpha=8.0,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM",
        )  # fmt: skip
        timer = StepTimer()
        trainer = PARMTrainer(
            model=model.to("cuda" if cuda else "cpu"), args=args, train_dataset=datasets,
            processing_class=word_tokenizer(shape["vocab"]), peft_config=peft_config, callbacks=[timer],
        )  # fmt: skip
        if cuda:
            torch.cuda.synchronize()
            loaded = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        else:
            loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        trainer.train()
        peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return (peak - loaded) / 2**30, statistics.median(timer.seconds[1:] or timer.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps per variant")
    parser.add_argument("--repeats", type=int, default=1, help="runs of every (variant, path); the medians count")
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="measure one variant here (used internally)")
    parser.add_argument("--no-accumulation", action="store_true", help="skip the accumulated variant")
    parser.add_argument("--activation-checkpointing", action="store_true", help="recompute the decoder layers")
    args = parser.parse_args()
    if args.variant:
        growth, step = peak_growth_and_step(
            args.preset, steps=args.steps, checkpointing=args.activation_checkpointing, **VARIANTS[args.variant]
        )
        print(json.dumps({"variant": args.variant, "peak_growth_gib": growth, "step_seconds": step}))
        return
    names = [name for name in VARIANTS if not (args.no_accumulation and "accumulated" in name)]
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.repeats):
        for name in names:
            for path, full_logits in PATHS.items():  # before and after alternate, so drifting load hits both
                command = [sys.executable, __file__, "--preset", args.preset, "--steps", str(args.steps)]
                command += ["--activation-checkpointing"] if args.activation_checkpointing else []
                environment = {**os.environ, "PEFT_PBLORA_FULL_LOGITS": full_logits}
                output = subprocess.run(
                    [*command, "--variant", name], check=True, capture_output=True, text=True, env=environment
                ).stdout
                result = json.loads(output.strip().splitlines()[-1])
                runs.setdefault((name, path), []).append((result["peak_growth_gib"], result["step_seconds"]))
    results = {
        key: (statistics.median(peak for peak, _ in values), statistics.median(step for _, step in values))
        for key, values in runs.items()
    }
    arm_before, arm_after = results[("one ARM, batch 4", "before")][0], results[("one ARM, batch 4", "after")][0]
    print(
        f"{'variant':38s} {'peak before (x ARM)':>21s} {'peak after (x ARM)':>20s} {'after/before':>12s} "
        f"{'step before':>11s} {'step after':>10s} {'after/before':>12s}"
    )
    for name in names:
        (peak_before, step_before), (peak_after, step_after) = results[(name, "before")], results[(name, "after")]
        print(
            f"{name:38s} {peak_before:6.2f} GiB ({peak_before / arm_before:4.2f}x) "
            f"{peak_after:6.2f} GiB ({peak_after / arm_after:4.2f}x) {peak_after / peak_before:11.2f}x "
            f"{step_before:9.2f} s {step_after:8.2f} s {step_after / step_before:11.2f}x"
        )


if __name__ == "__main__":
    main()
