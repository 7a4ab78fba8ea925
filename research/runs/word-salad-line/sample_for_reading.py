"""Draws the answers the blind readers label: 8 per objective vertex (numpy seed 0) and 4 unguided per run, shuffled,
with 40 of them given to two readers. Writes reading/batch_K.jsonl (id, text) for each reader and key.jsonl (id, run,
vertex or "unguided", prompt index), which the readers never see.

    python sample_for_reading.py --readers 4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from runs import load_sweep, run_folders, run_name, vertices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--per_vertex", type=int, default=8)
    parser.add_argument("--unguided_per_run", type=int, default=4)
    parser.add_argument("--overlap", type=int, default=40)
    args = parser.parse_args()
    generator = np.random.default_rng(0)
    rows = []
    for section, folder in run_folders():
        sweep = load_sweep(folder)
        run = run_name(section, folder)
        for name, point in vertices(sweep):
            for index in generator.choice(len(point["texts"]), args.per_vertex, replace=False):
                rows.append({"run": run, "vertex": name, "prompt": int(index), "text": point["texts"][index]})
        unguided = sweep["base"]["texts"]
        for index in generator.choice(len(unguided), args.unguided_per_run, replace=False):
            rows.append({"run": run, "vertex": "unguided", "prompt": int(index), "text": unguided[index]})
    order = generator.permutation(len(rows))
    for number, index in enumerate(order):
        rows[index]["id"] = f"a{number:04d}"
    shuffled = [rows[index] for index in order]
    batches = [shuffled[reader :: args.readers] for reader in range(args.readers)]
    doubled = set(order[: args.overlap].tolist())  # each also goes to the next reader
    for reader in range(args.readers):
        seconds = [shuffled[i] for i in range(reader, len(shuffled), args.readers) if int(order[i]) in doubled]
        batches[(reader + 1) % args.readers] = batches[(reader + 1) % args.readers] + seconds
    write_reading(batches, rows)


def draw_for_two_readers(
    sweeps: list[tuple[str, dict]],
    id_letter: str,
    folder: Path,
    key: Path,
    per_vertex: int = 8,
    unguided_per_run: int = 4,
    read_twice: int = 16,
) -> None:
    """Sections 82 and 83's draw: from each (run name, sweep), `per_vertex` answers at each objective's vertex and
    `unguided_per_run` unguided ones (numpy seed 0), shuffled, ids `id_letter` + number, split between two readers,
    the first `read_twice` // 2 of each reader's also given to the other; written by `write_reading`."""
    generator = np.random.default_rng(0)
    rows = []
    for run, sweep in sweeps:
        for index, name in enumerate(sweep["objectives"]):
            point = next(point for point in sweep["points"] if point["alpha"][index] == 1.0)
            for prompt in generator.choice(len(point["texts"]), per_vertex, replace=False):
                rows.append({"run": run, "vertex": name, "prompt": int(prompt), "text": point["texts"][prompt]})
        unguided = sweep["base"]["texts"]
        for prompt in generator.choice(len(unguided), unguided_per_run, replace=False):
            rows.append({"run": run, "vertex": "unguided", "prompt": int(prompt), "text": unguided[prompt]})
    order = generator.permutation(len(rows))
    for number, index in enumerate(order):
        rows[index]["id"] = f"{id_letter}{number:04d}"
    shuffled = [rows[index] for index in order]
    batches = [shuffled[reader::2] for reader in range(2)]
    for reader in range(2):  # the first read_twice // 2 answers of each batch also go to the other reader
        batches[1 - reader] += shuffled[reader::2][: read_twice // 2]
    write_reading(batches, rows, folder, key)


def read_labels(paths: list[Path]) -> tuple[dict[str, str], int, int]:
    """Each answer's label (the first reader's where two read it), and the agreements and answers read twice."""
    first: dict[str, str] = {}
    agree = twice = 0
    for path in paths:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row["id"] in first:
                twice += 1
                agree += first[row["id"]] == row["label"]
            else:
                first[row["id"]] = row["label"]
    return first, agree, twice


def write_reading(
    batches: list[list[dict]], rows: list[dict], folder: Path = Path("reading"), key: Path = Path("key.jsonl")
) -> None:
    """Each reader's batch as `folder`/batch_K.jsonl (id and text, by id) and the key (every row but its text) as
    `key`."""
    folder.mkdir(exist_ok=True)
    for reader, batch in enumerate(batches):
        batch = sorted(batch, key=lambda row: row["id"])
        lines = [json.dumps({"id": row["id"], "text": row["text"]}) for row in batch]
        (folder / f"batch_{reader}.jsonl").write_text("\n".join(lines) + "\n")
    key.write_text("\n".join(json.dumps({k: v for k, v in row.items() if k != "text"}) for row in rows) + "\n")
    print(len(rows), "answers;", [len(batch) for batch in batches], "per reader")


if __name__ == "__main__":
    main()
