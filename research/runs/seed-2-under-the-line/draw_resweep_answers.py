"""Draws the second blind reading of section 82: at each vertex the search left above the word-salad line at its
weakest strength, the 8 prompts the first reading drew there (key_with.jsonl here; section 81's key for seed 0),
answered at that strength (the run's sweep) and at half of it (the report's trial, swept again on the same adapter),
shuffled with new ids. Writes reading_again/batch_0.jsonl and key_again.jsonl (id, run, vertex, strength, prompt).

    python draw_resweep_answers.py
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
from draw_answers_to_read import RECORDS

HERE = Path(__file__).resolve().parent
RESWEEPS = HERE / "resweeps"  # collected from the re-swept copies (resweep.sh)
# (run as the first reading's key names it, that key, the objective, the recorded folder, the re-swept folder)
HALVED = [
    (
        "with/inclusive_voice__second_person_s2",
        HERE / "key_with.jsonl",
        "second_person",
        RECORDS / "with/inclusive_voice__second_person_s2",
        RESWEEPS / "is_with_s2_half",
    ),
    (
        "s80/is_with/inclusive_voice__second_person_s0",
        HERE.parent / "word-salad-line/key.jsonl",
        "inclusive_voice",
        RECORDS / "with/inclusive_voice__second_person_s0",
        RESWEEPS / "is_with_s0_half",
    ),
]


def sweep_of(folder: Path) -> dict:
    packed = folder / "sweep.json.gz"
    return json.load(gzip.open(packed)) if packed.exists() else json.loads((folder / "sweep.json").read_text())


def vertex_texts(sweep: dict, objective: str) -> tuple[float, list[str]]:
    """The strength and the answers at `objective`'s own vertex."""
    index = sweep["objectives"].index(objective)
    point = next(point for point in sweep["points"] if point["alpha"][index] == 1.0)
    return sweep["objective_strengths"][index], point["texts"]


def main() -> None:
    rows = []
    for run, key, objective, recorded, reswept in HALVED:
        keyed = [json.loads(line) for line in key.read_text().splitlines()]
        prompts = [row["prompt"] for row in keyed if row["run"] == run and row["vertex"] == objective]
        for folder in (recorded, reswept):
            strength, texts = vertex_texts(sweep_of(folder), objective)
            for prompt in prompts:
                rows.append(
                    {"run": run, "vertex": objective, "strength": strength, "prompt": prompt, "text": texts[prompt]}
                )
    order = np.random.default_rng(2).permutation(len(rows))
    shuffled = [rows[index] for index in order]
    for number, row in enumerate(shuffled):
        row["id"] = f"c{number:04d}"
    folder = HERE / "reading_again"
    folder.mkdir(exist_ok=True)
    lines = [json.dumps({"id": row["id"], "text": row["text"]}) for row in shuffled]
    (folder / "batch_0.jsonl").write_text("\n".join(lines) + "\n")
    (HERE / "key_again.jsonl").write_text(
        "\n".join(json.dumps({k: v for k, v in row.items() if k != "text"}) for row in shuffled) + "\n"
    )
    print(len(rows), "answers")


if __name__ == "__main__":
    main()
