"""Where each objective weighs 0 (the other's vertex) and unguided: the mean answer length in words and each
objective's mean score, per run and arm (`runs.tsv`: a run's two folders per line, each with `sweep.json.gz`).

    cd research/runs/unfinished-word-choices && python answer_lengths.py --runs runs.tsv --labels ended unfinished
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path


def mean_words(texts: list[str]) -> float:
    return sum(len(text.split()) for text in texts) / len(texts)


def rows(folder: Path) -> list[str]:
    sweep = json.loads(gzip.open(folder / "sweep.json.gz").read())
    names = sweep["objectives"]
    cells = [f"unguided: {mean_words(sweep['base']['texts']):.1f} words, "
             + ", ".join(f"{name} {sweep['base']['scores'][name]:.2f}" for name in names)]  # fmt: skip
    for index, name in enumerate(names):
        point = next(point for point in sweep["points"] if point["alpha"][index] == 0.0)
        cells.append(
            f"{name} at 0: {mean_words(point['texts']):.1f} words, "
            + ", ".join(f"{other} {point['scores'][other]:.2f}" for other in names)
        )
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs.tsv"))
    parser.add_argument("--labels", nargs=2, default=["ended", "unfinished"])
    args = parser.parse_args()
    print(f"| run | {args.labels[0]} | {args.labels[1]} |\n|---|---|---|")
    for line in args.runs.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        folders = [args.runs.parent / part for part in line.split("\t")]
        cells = [rows(folder) if (folder / "sweep.json.gz").exists() else ["(no run)"] for folder in folders]
        for number in range(max(len(cell) for cell in cells)):
            name = folders[-1].name if number == 0 else ""
            print(f"| {name} | " + " | ".join(cell[number] if number < len(cell) else "" for cell in cells) + " |")


if __name__ == "__main__":
    main()
