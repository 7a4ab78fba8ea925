"""The second blind reading: for each objective whose strength the 2.25-nat line weakened, 8 answers drawn (numpy
seed 1) at its vertex in the recorded sweep and 8 at its vertex swept again, shuffled together and split between two
readers with nothing saying which is which. Writes reading_again/batch_K.jsonl and key_again.jsonl.

    python sample_resweeps_for_reading.py
    python sample_resweeps_for_reading.py --round 2   # the runs that finished after round 1 was drawn: seed 2,
                                                      # reading_again_2/ and key_again_2.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from compare_resweeps import RESWEEPS, finished_resweeps
from runs import load_sweep, vertices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round", type=int, default=1)
    args = parser.parse_args()
    suffix = "" if args.round == 1 else f"_{args.round}"
    already = set()
    for earlier in range(1, args.round):
        key = Path("key_again.jsonl" if earlier == 1 else f"key_again_{earlier}.jsonl")
        already |= {json.loads(line)["run"] for line in key.read_text().splitlines()}
    generator = np.random.default_rng(args.round)
    finished = finished_resweeps()
    rows = []
    for line in (RESWEEPS / "queue.txt").read_text().splitlines():
        section, source, name, *strengths = line.split()
        if name not in finished or name in already:
            continue
        before_metrics = json.loads((Path(source) / "metrics.json").read_text())
        before_strengths = dict(zip(before_metrics["objectives"], before_metrics["objective_strengths"], strict=True))
        after = dict(item.split("=") for item in strengths)
        for label, folder in (("before", Path(source)), ("after", RESWEEPS / name / Path(source).name)):
            for objective, point in vertices(load_sweep(folder)):
                if float(after[objective]) == before_strengths[objective]:
                    continue
                for index in generator.choice(len(point["texts"]), 8, replace=False):
                    rows.append({"run": name, "vertex": objective, "when": label, "text": point["texts"][index]})
    order = generator.permutation(len(rows))
    for number, index in enumerate(order):
        rows[index]["id"] = f"{'b' if args.round == 1 else 'c'}{number:04d}"
    shuffled = [rows[index] for index in order]
    folder = Path(f"reading_again{suffix}")
    folder.mkdir(exist_ok=True)
    for reader in range(2):
        batch = sorted(shuffled[reader::2], key=lambda row: row["id"])
        lines = [json.dumps({"id": row["id"], "text": row["text"]}) for row in batch]
        (folder / f"batch_{reader}.jsonl").write_text("\n".join(lines) + "\n")
    keys = [{key: value for key, value in row.items() if key != "text"} for row in rows]
    Path(f"key_again{suffix}.jsonl").write_text("\n".join(json.dumps(row) for row in keys) + "\n")
    print(len(rows), "answers")


if __name__ == "__main__":
    main()
