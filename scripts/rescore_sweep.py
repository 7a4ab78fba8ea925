"""Score a finished sweep's answers again with the current built-in scorers, per preference vector.

    python scripts/rescore_sweep.py runs/default/sweep.json [more sweep.json ...]

For each sweep: the mean of every objective as the sweep recorded it, as the current scorers score the same texts
(e.g. positivity per sentence after the switch from the whole-text compound), and the mean answer length in words,
per alpha and for the unguided base. Shows whether a trend across alpha survives a change of scorer.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from peft_pblora.data.pairing import word_count
from peft_pblora.pipeline.settings import SCORERS


def rescore(sweep: dict) -> list[dict]:
    rows = [(point["alpha"], point) for point in sweep["points"]] + [("base", sweep["base"])]
    scorers = [SCORERS[name]() for name in sweep["objectives"]]
    prompts = sweep["prompts"]
    table = []
    for label, point in rows:
        texts = point["texts"]
        row = {"alpha": label, "words": float(np.mean([word_count(text) for text in texts]))}
        for scorer in scorers:
            row[f"{scorer.name} (recorded)"] = point["scores"][scorer.name]
            row[f"{scorer.name} (now)"] = float(np.mean(scorer(prompts, texts)))
        table.append(row)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweeps", type=Path, nargs="+")
    for path in parser.parse_args().sweeps:
        table = rescore(json.loads(path.read_text()))
        columns = list(table[0])
        print(f"\n{path}\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
        for row in table:
            cells = [str(row["alpha"])] + [f"{row[column]:.3f}" for column in columns[1:]]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
