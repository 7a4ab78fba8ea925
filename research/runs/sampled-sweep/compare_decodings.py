"""Each objective-run swept greedy and sampled from the same adapter at the same strengths on the same 48 test prompts
(`chosen.txt`): Spearman, effect, verdict and means from weight 0 to 1 of each (read by the library's
`summarise_sweep`), the mean score of the unguided answers of each, and the share of the answers at the objective's
vertex that are empty or repetitive; with the counts.

    cd research/runs/sampled-sweep && python compare_decodings.py > compare.md

`runs.tsv` names, per run, its greedy folder and its sampled folder (each with `sweep.json.gz`).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from peft_pblora.evaluation.sweep_metrics import degenerate_share, summarise_sweep

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verdicts-on-fresh-prompts"))
from fresh_halves import cell, read_sweep  # noqa: E402


def vertex_quality(sweep: dict, index: int) -> float:
    """The share of the answers at objective `index`'s vertex that are empty or repetitive."""
    vertex = next(point for point in sweep["points"] if point["alpha"][index] == 1.0)
    return degenerate_share(vertex["quality"])


LABELS = ("greedy", "sampled")
HEADER = (
    "| run | objective | strength | greedy | sampled | unguided mean, greedy / sampled "
    "| degenerate at its vertex, greedy / sampled |\n|---|---|---|---|---|---|---|"
)


def blocks(path: Path) -> dict[str, list[list[Path]]]:
    """`runs.tsv`'s runs by block (a line `# name` starts one): each run's greedy and sampled folders."""
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
    print(HEADER)
    for folders in runs:
        sweeps = {label: read_sweep(folder / "sweep.json.gz") for label, folder in zip(LABELS, folders, strict=True)}
        metrics = {label: summarise_sweep(sweep) for label, sweep in sweeps.items()}
        for index, objective in enumerate(sweeps["greedy"]["objectives"]):
            verdicts = {label: metrics[label]["steering_verdict"][objective] == "steers" for label in LABELS}
            tally["total"] += 1
            tally["started"] += verdicts["sampled"] and not verdicts["greedy"]
            tally["stopped"] += verdicts["greedy"] and not verdicts["sampled"]
            for label in LABELS:
                tally[label] += verdicts[label]
                tally[f"{label} effect"] += metrics[label]["steering_effect"][objective]["effect"]
                tally[f"{label} degenerate"] += vertex_quality(sweeps[label], index)
            strength = (sweeps["greedy"].get("objective_strengths") or [1.0] * 2)[index]
            cells = [cell(sweeps[label], metrics[label], index) for label in LABELS]
            unguided = " / ".join(f"{sweeps[label]['base']['scores'][objective]:.3f}" for label in LABELS)
            degenerate = " / ".join(f"{vertex_quality(sweeps[label], index):.2f}" for label in LABELS)
            row = " | ".join([folders[0].name, objective, f"{strength:g}", *cells, unguided, degenerate])
            print(f"| {row} |")


def counts(tally: dict) -> str:
    total = tally["total"]
    return (
        f"Steer, of {total} objective-runs: greedy {tally['greedy']}, sampled {tally['sampled']} "
        f"({tally['started']} start steering sampled, {tally['stopped']} stop). Mean steering effect: greedy "
        f"{tally['greedy effect'] / total:+.3f}, sampled {tally['sampled effect'] / total:+.3f}; mean share of the "
        f"answers at a vertex that are empty or repetitive: greedy {tally['greedy degenerate'] / total:.2f}, sampled "
        f"{tally['sampled degenerate'] / total:.2f}."
    )


def main() -> None:
    overall = Counter()
    for name, runs in blocks(Path(__file__).resolve().parent / "runs.tsv").items():
        tally = Counter()
        print(f"## {name}\n")
        block_table(runs, tally)
        print(f"\n{counts(tally)}\n")
        overall.update(tally)
    print(f"All: {counts(overall)}")


if __name__ == "__main__":
    main()
