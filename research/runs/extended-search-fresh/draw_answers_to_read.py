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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "word-salad-line"))
from sample_for_reading import draw_for_two_readers  # noqa: E402  (section 81's: the same files and shape)

SECTION_82_SEED_3 = HERE.parent / "seed-2-under-the-line" / "seed-3"  # with the word-choice pairs
PER_VERTEX = 8
UNGUIDED_PER_RUN = 4
READ_TWICE = 16
ID_LETTER = {"with": "f", "without": "g"}  # ids that do not name the arm to the readers


def run_folders(arm: str) -> list[Path]:
    """The arm's seed-3 run records: this section's, then (with the pairs) section 82's two."""
    folders = sorted((HERE / arm).glob("*_s3"))
    return folders + (sorted(SECTION_82_SEED_3.glob("*_s3")) if arm == "with" else [])


def sweeps_to_read(arm: str) -> list[tuple[str, dict]]:
    """The arm's runs as the key names them, each with its sweep."""
    return [(f"{arm}/{folder.name}", json.load(gzip.open(folder / "sweep.json.gz"))) for folder in run_folders(arm)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arm", choices=["with", "without"], required=True)
    arm = parser.parse_args().arm
    reading, key = HERE / f"reading_{arm}", HERE / f"key_{arm}.jsonl"
    draw_for_two_readers(sweeps_to_read(arm), ID_LETTER[arm], reading, key, PER_VERTEX, UNGUIDED_PER_RUN, READ_TWICE)


if __name__ == "__main__":
    main()
