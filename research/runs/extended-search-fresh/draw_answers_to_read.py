"""Draws the answers the blind readers label for section 83: 8 per objective vertex (numpy seed 0) and 4 unguided per
run, from one arm's seed-3 runs (this folder's with/ and without/, and for the arm with the word-choice pairs section
82's two seed-3 runs), shuffled, with 16 of them given to both readers. Writes reading_<arm>/batch_K.jsonl (id, text)
per reader and key_<arm>.jsonl (id, run, vertex or "unguided", prompt index), which the readers never see.

    python draw_answers_to_read.py --arm without; python draw_answers_to_read.py --arm with
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "word-salad-line"))
from sample_for_reading import write_reading  # noqa: E402  (section 81's writer: the same files, the same shape)

SECTION_82_SEED_3 = HERE.parent / "seed-2-under-the-line" / "seed-3"  # with the word-choice pairs
READERS = 2
PER_VERTEX = 8
UNGUIDED_PER_RUN = 4
READ_TWICE = 16
ID_LETTER = {"with": "f", "without": "g"}  # ids that do not name the arm to the readers


def run_folders(arm: str) -> list[Path]:
    """The arm's seed-3 run records: this section's, then (with the pairs) section 82's two."""
    folders = sorted((HERE / arm).glob("*_s3"))
    return folders + (sorted(SECTION_82_SEED_3.glob("*_s3")) if arm == "with" else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arm", choices=["with", "without"], required=True)
    arm = parser.parse_args().arm
    generator = np.random.default_rng(0)
    rows = []
    for folder in run_folders(arm):
        sweep = json.load(gzip.open(folder / "sweep.json.gz"))
        run = f"{arm}/{folder.name}"
        for index, name in enumerate(sweep["objectives"]):
            point = next(point for point in sweep["points"] if point["alpha"][index] == 1.0)
            for prompt in generator.choice(len(point["texts"]), PER_VERTEX, replace=False):
                rows.append({"run": run, "vertex": name, "prompt": int(prompt), "text": point["texts"][prompt]})
        unguided = sweep["base"]["texts"]
        for prompt in generator.choice(len(unguided), UNGUIDED_PER_RUN, replace=False):
            rows.append({"run": run, "vertex": "unguided", "prompt": int(prompt), "text": unguided[prompt]})
    order = generator.permutation(len(rows))
    for number, index in enumerate(order):
        rows[index]["id"] = f"{ID_LETTER[arm]}{number:04d}"
    shuffled = [rows[index] for index in order]
    batches = [shuffled[reader::READERS] for reader in range(READERS)]
    for reader in range(READERS):  # the first READ_TWICE answers of each batch also go to the other reader
        batches[(reader + 1) % READERS] += shuffled[reader::READERS][: READ_TWICE // READERS]
    write_reading(batches, rows, HERE / f"reading_{arm}", HERE / f"key_{arm}.jsonl")


if __name__ == "__main__":
    main()
