"""Sixteen more answers per prompt, sampled once from SmolLM2-135M-Instruct into a copy of the shipped candidates, as
`--more_samples_if_few_pairs 16` samples them into a run's own (`add_more_samples`, its first-sentence variants
included), so that every run of research log section 61 pairs the same extras whatever its seed, as every run pairs
the same shipped answers. Copy the result into a run folder's `preference_data/candidates` before the run starts.

    python research/runs/pairs-under-half-the-prompts/sixteen_more_samples.py OUT_DIR
"""

from __future__ import annotations

import argparse
import shutil

from datasets import load_from_disk

from peft_pblora.data.candidates import add_more_samples
from peft_pblora.pipeline.model_loading import load_smollm2
from peft_pblora.pipeline.prompts import shipped_candidates_dir

SAMPLES_PER_PROMPT = 16
SAMPLE_TOKENS = 96  # the end-to-end run's --sample_tokens
SAMPLE_BATCH_SIZE = 16
SEED = 1  # the run at seed 0 samples its extras at seed + 1 (no sampling system prompt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    args = parser.parse_args()
    shutil.copytree(shipped_candidates_dir(), args.output_dir)
    prompts = list(load_from_disk(args.output_dir)["prompt"])
    model, tokenizer = load_smollm2()
    add_more_samples(
        model,
        tokenizer,
        prompts,
        [],
        args.output_dir,
        SAMPLES_PER_PROMPT,
        max_new_tokens=SAMPLE_TOKENS,
        batch_size=SAMPLE_BATCH_SIZE,
        seed=SEED,
        show_progress=True,
        sentence_variants=True,
    )


if __name__ == "__main__":
    main()
