"""Pairs that differ by one word, for the research log's sections 69 and 70: the library's
`data.word_choice_pairs` (written from this script's prototype once section 70 passed its rule) added to a run
folder's cached pairs, in place:

    PYTHONPATH=<the steering benchmark's objective folders> \
python research/runs/word-choice-pairs/add_word_choice_pairs.py RUN_FOLDER [--weight W]

`--weight W` gives each added pair the loss weight W, every other pair 1 (the trainer's `weight` column): 1 for
section 69, 10 for section 70. The length- and score-matched objectives get none. The training stage's fingerprint
holds the pairs, so the next benchmark run on the folder trains again on them. A run made with `--word_choice_pairs`
makes the same pairs itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from datasets import load_from_disk

from peft_pblora.data.word_choice_pairs import with_word_choice_pairs
from peft_pblora.pipeline import Run, RunSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--weight", type=float, default=1.0, help="each added pair's loss weight (others: 1)")
    arguments = parser.parse_args()
    folder = arguments.folder
    settings = RunSettings(**{**json.loads((folder / "settings.json").read_text()), "output_dir": str(folder)})
    model, tokenizer = Run(settings).base()
    data = load_from_disk(str(folder / "preference_data"))
    pairing = json.loads((folder / "preference_data" / "pairing.json").read_text())
    matched = set(settings.length_matched or []) | set(pairing.get("score_matched") or [])
    extended = with_word_choice_pairs(
        data, settings.make_scorers(), model, tokenizer, settings.train_in_chat_format, arguments.weight, matched
    )
    added = {name: len(extended[name]) - len(data[name]) for name in data}
    target = folder / "preference_data.with_word_choices"
    extended.save_to_disk(str(target))  # not over the folder its pairs are read from
    for name in extended:  # swap each objective's folder in, keeping the candidates and the pairing record
        old = folder / "preference_data" / name
        for path in old.iterdir():
            path.unlink()
        for path in (target / name).iterdir():
            path.rename(old / path.name)
    shutil.rmtree(target)
    pairing["word_choice_pairs_added"] = added
    pairing["word_choice_pair_weight"] = arguments.weight
    (folder / "preference_data" / "pairing.json").write_text(json.dumps(pairing, indent=2))
    print(json.dumps({"folder": str(folder), "word_choice_pairs_added": added}))


if __name__ == "__main__":
    main()
