"""Draws the answers the blind readers label for section 82: 8 per objective vertex (numpy seed 0) and 4 unguided
per run, from one arm's seed-2 runs kept in ../objectives-after-word-choices and its two seed-1 runs there that
section 81 did not read, shuffled, with 16 of them given to both readers (an arm at a time: one arm's runs end before
the other's). Writes reading_<arm>/batch_K.jsonl (id, text) per reader and key_<arm>.jsonl (id, run, vertex or
"unguided", prompt index), which the readers never see.

    python draw_answers_to_read.py --arm with; python draw_answers_to_read.py --arm without
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "word-salad-line"))
from sample_for_reading import write_reading  # noqa: E402  (section 81's writer: the same files, the same shape)

RECORDS = Path(__file__).resolve().parent.parent / "objectives-after-word-choices"
READERS = 2
PER_VERTEX = 8
UNGUIDED_PER_RUN = 4
READ_TWICE = 16
ID_LETTER = {"with": "d", "without": "e"}  # ids that do not name the arm to the readers


UNREAD_IN_SECTION_81 = ("health__list_format_s1", "inclusive_voice__second_person_s1")


def runs(arm: str) -> list[Path]:
    """The arm's seed-2 run records, then its seed-1 runs of section 80 that ended after section 81's draw."""
    unread = [RECORDS / arm / name / "sweep.json.gz" for name in UNREAD_IN_SECTION_81]
    return sorted((RECORDS / arm).glob("*_s2/sweep.json.gz")) + unread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arm", choices=["with", "without"], required=True)
    arm = parser.parse_args().arm
    generator = np.random.default_rng(0)
    rows = []
    for path in runs(arm):
        sweep = json.load(gzip.open(path))
        run = f"{path.parent.parent.name}/{path.parent.name}"
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
    write_reading(batches, rows, Path(f"reading_{arm}"), Path(f"key_{arm}.jsonl"))


if __name__ == "__main__":
    main()
