"""The steering benchmark with the extra answers (`more_samples_if_few_pairs`, 16 per prompt) sampled for every
objective whose pairs cover fewer than half the train prompts, instead of an eighth (research log section 61). The
`few_pairs` flag keeps its eighth. Half was the library's own rule (`MORE_SAMPLES_PAIR_SHARE`) from section 61 to
section 64, which sent it back to an eighth; the line below gives the half rule again. Takes the benchmark script's
arguments:

    PYTHONPATH=research/runs/objectives-after-the-exit-fix:research/runs/unseen-objectives \
    python research/runs/pairs-under-half-the-prompts/benchmark_with_more_samples_under_half.py --preset cpu \
        --test_prompts 48 --seeds 1 --recipe log-ratio-forms-from-pairs-train-again \
        --pairs "later_objectives:Senses,list_format" --output_dir runs/senses-more-samples
"""

import runpy
import sys
from pathlib import Path

import peft_pblora.data.more_samples as more_samples

more_samples.MORE_SAMPLES_PAIR_SHARE = 0.5  # make-data reads it when it pairs, and records it in pairing.json
SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"
sys.path.insert(0, str(SCRIPTS))
runpy.run_path(str(SCRIPTS / "steering_benchmark.py"), run_name="__main__")
