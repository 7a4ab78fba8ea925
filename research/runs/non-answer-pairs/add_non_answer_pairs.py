"""Adds to a run folder's preference pairs, per objective and prompt, one pair that prefers the prompt's chosen answer
to the empty answer, wherever the objective's own scorer scores the empty answer lower (`with_non_answer_pairs`, what
`--non_answer_pairs` does when the pairs are made); then prints the reward-form settings the run read from its pairs
before, to be given explicitly (the runs were made with commit 9f371de, whose length reading counted every pair).

The hypothesis: guided decoding at an objective's vertex ends some answers at once (an empty answer), though the
objective's scorer ranks an empty answer lowest, because no training pair ever showed the PARM an empty answer:
its log-ratio on the end-of-turn token at the first step is learned from nothing. The pairs' EOS-only rejected
answer teaches it.

    python research/runs/non-answer-pairs/add_non_answer_pairs.py RUN_FOLDER
"""

import json
import shutil
import sys
from pathlib import Path

from datasets import load_from_disk

from peft_pblora.data.non_answer_pairs import with_non_answer_pairs
from peft_pblora.pipeline.settings import RunSettings


def main(run_folder: Path) -> None:
    settings = json.loads((run_folder / "settings.json").read_text())
    settings.update(output_dir=str(run_folder))
    scorers = {scorer.name: scorer for scorer in RunSettings(**settings).make_scorers()}
    data_dir = run_folder / "preference_data"
    data = load_from_disk(str(data_dir))
    extended = with_non_answer_pairs(data, list(scorers.values()))
    for name, pairs in data.items():
        print(f"{name}: {len(pairs)} pairs + {len(extended[name]) - len(pairs)} against the empty answer")
    staging = run_folder / "preference_data.staging"
    extended.save_to_disk(str(staging))
    for item in ("candidates", "pairing.json"):  # the candidates and the pairing record stay as they were
        source = data_dir / item
        if source.exists():
            (shutil.copytree if source.is_dir() else shutil.copy2)(source, staging / item)
    shutil.rmtree(data_dir)
    staging.rename(data_dir)
    forms = json.loads((run_folder / "metrics.json").read_text())["reward_forms"]["objectives"]
    mean = [name for name, form in forms.items() if form["reward"] == "mean"]
    scales = [form["beta_r"] for form in forms.values()]
    print(json.dumps({"length_normalized_rewards": mean or ["none"], "beta_r": scales}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
