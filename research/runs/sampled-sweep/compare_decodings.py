"""Each objective-run swept greedy and sampled from the same adapter at the same strengths on the same 48 test prompts
(`chosen.txt`): Spearman, effect, verdict and means from weight 0 to 1 of each (read by the library's
`summarise_sweep`), the mean score of the unguided answers of each, and the share of the answers at the objective's
vertex that are empty or repetitive; with the counts.

    cd research/runs/sampled-sweep && python compare_decodings.py > compare.md

`runs.tsv` names, per run, its greedy folder and its sampled folder (each with `sweep.json.gz`). Any two sweeps of the
same runs compare the same way, named by `--labels` and listed in `--runs` (sections 66 and 67):

    python compare_decodings.py --runs ../sampled-probe/runs.tsv --labels "greedy probe" "sampled probe"
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from peft_pblora.evaluation.answer_quality import degenerate_share
from peft_pblora.evaluation.sweep_metrics import summarise_sweep

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verdicts-on-fresh-prompts"))
from fresh_halves import cell, read_sweep  # noqa: E402


def vertex_quality(sweep: dict, index: int) -> float:
    """The share of the answers at objective `index`'s vertex that are empty or repetitive."""
    vertex = next(point for point in sweep["points"] if point["alpha"][index] == 1.0)
    return degenerate_share(vertex["quality"])


LABELS = ["greedy", "sampled"]


def header() -> str:
    pair = " / ".join(LABELS)
    return (
        f"| run | objective | strength, {pair} | {LABELS[0]} | {LABELS[1]} | unguided mean, {pair} "
        f"| degenerate at its vertex, {pair} |\n|---|---|---|---|---|---|---|"
    )


def blocks(path: Path) -> dict[str, list[list[Path]]]:
    """`runs.tsv`'s runs by block (a line `# name` starts one): each run's two folders (greedy and sampled)."""
    found: dict[str, list[list[Path]]] = {}
    name = "runs"
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            name = line.lstrip("# ").strip()
        elif line.strip():
            found.setdefault(name, []).append([path.parent / part for part in line.split("\t")])
    return found


def block_table(runs: list[list[Path]], tally: dict) -> None:
    """Prints one block's rows and adds its objective-runs to `tally`."""
    print(header())
    for folders in runs:
        sweeps = {label: read_sweep(folder / "sweep.json.gz") for label, folder in zip(LABELS, folders, strict=True)}
        metrics = {label: summarise_sweep(sweep) for label, sweep in sweeps.items()}
        for index, objective in enumerate(sweeps[LABELS[0]]["objectives"]):
            verdicts = {label: metrics[label]["steering_verdict"][objective] == "steers" for label in LABELS}
            tally["total"] += 1
            tally["started"] += verdicts[LABELS[1]] and not verdicts[LABELS[0]]
            tally["stopped"] += verdicts[LABELS[0]] and not verdicts[LABELS[1]]
            for label in LABELS:
                tally[label] += verdicts[label]
                tally[f"{label} effect"] += metrics[label]["steering_effect"][objective]["effect"]
                tally[f"{label} degenerate"] += vertex_quality(sweeps[label], index)
            strengths = [(sweeps[label].get("objective_strengths") or [1.0] * 2)[index] for label in LABELS]
            strength = " / ".join(f"{value:g}" for value in strengths)
            cells = [cell(sweeps[label], metrics[label], index) for label in LABELS]
            unguided = " / ".join(f"{sweeps[label]['base']['scores'][objective]:.3f}" for label in LABELS)
            degenerate = " / ".join(f"{vertex_quality(sweeps[label], index):.2f}" for label in LABELS)
            row = " | ".join([folders[0].name, objective, strength, *cells, unguided, degenerate])
            print(f"| {row} |")


def counts(tally: dict) -> str:
    total, (first, second) = tally["total"], LABELS
    return (
        f"Steer, of {total} objective-runs: {first} {tally[first]}, {second} {tally[second]} "
        f"({tally['started']} start steering {second}, {tally['stopped']} stop). Mean steering effect: {first} "
        f"{tally[f'{first} effect'] / total:+.3f}, {second} {tally[f'{second} effect'] / total:+.3f}; mean share of "
        f"the answers at a vertex that are empty or repetitive: {first} {tally[f'{first} degenerate'] / total:.2f}, "
        f"{second} {tally[f'{second} degenerate'] / total:.2f}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path(__file__).resolve().parent / "runs.tsv")
    parser.add_argument("--labels", nargs=2, default=LABELS, help="what the first and the second folder hold")
    args = parser.parse_args()
    LABELS[:] = args.labels
    overall = Counter()
    for name, runs in blocks(args.runs).items():
        tally = Counter()
        print(f"## {name}\n")
        block_table(runs, tally)
        print(f"\n{counts(tally)}\n")
        overall.update(tally)
    print(f"All: {counts(overall)}")


if __name__ == "__main__":
    main()
