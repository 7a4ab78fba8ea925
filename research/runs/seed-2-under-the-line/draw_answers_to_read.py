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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "word-salad-line"))
from sample_for_reading import draw_for_two_readers  # noqa: E402  (section 81's writer: the same files and shape)

RECORDS = Path(__file__).resolve().parent.parent / "objectives-after-word-choices"
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
    sweeps = [(f"{path.parent.parent.name}/{path.parent.name}", json.load(gzip.open(path))) for path in runs(arm)]
    draw_for_two_readers(
        sweeps,
        ID_LETTER[arm],
        Path(f"reading_{arm}"),
        Path(f"key_{arm}.jsonl"),
        PER_VERTEX,
        UNGUIDED_PER_RUN,
        READ_TWICE,
    )


if __name__ == "__main__":
    main()
