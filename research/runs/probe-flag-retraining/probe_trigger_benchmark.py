"""The steering benchmark with the longer training also triggered by the probe: an objective the first training's
probe does not pass (`probe_inconclusive`, `probe_cannot_tell`, `does_not_steer`, `steers_backwards`) is trained
longer as a `not_learned` one is, with the recipe's own rule for keeping it (its probe must pass it).

Takes steering_benchmark.py's arguments; use it with `--recipe log-ratio-forms-from-pairs-train-own-directions`.

    python research/runs/probe-flag-retraining/probe_trigger_benchmark.py --preset cpu --test_prompts 48 --seeds 1 \
        --recipe log-ratio-forms-from-pairs-train-own-directions --pairs contractions,plain_words --output_dir DIR
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from peft_pblora.pipeline import retraining, stages
from peft_pblora.pipeline.diagnosis import flagged_objectives

TRIGGERING_FLAGS = ("not_learned", "probe_inconclusive", "probe_cannot_tell", "does_not_steer", "steers_backwards")


def not_learned_or_not_passed_by_probe(diagnosis) -> list[str]:
    """The objectives flagged `not_learned` or with a probe flag that is not a degenerate vertex."""
    return flagged_objectives(diagnosis, TRIGGERING_FLAGS)


retraining.not_learned_objectives = stages.not_learned_objectives = not_learned_or_not_passed_by_probe
scripts = Path(__file__).resolve().parents[3] / "scripts"
sys.path.insert(0, str(scripts))
runpy.run_path(str(scripts / "steering_benchmark.py"), run_name="__main__")
