"""Each objective-run swept greedy and sampled from the same adapter at the same strengths on the same 48 test prompts
(`chosen.txt`): Spearman, effect, verdict and means from weight 0 to 1 of each (read by the library's
`summarise_sweep`), the mean score of the unguided answers of each, and the share of the answers at the objective's
vertex that are empty or repetitive; with the counts.

    cd research/runs/sampled-sweep && python compare_decodings.py > compare.md

`runs.tsv` names, per run, its greedy folder and its sampled folder (each with `sweep.json.gz`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from peft_pblora.evaluation.sweep_metrics import degenerate_share, summarise_sweep

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verdicts-on-fresh-prompts"))
from fresh_halves import cell, read_sweep  # noqa: E402


def vertex_quality(sweep: dict, index: int) -> float:
    """The share of the answers at objective `index`'s vertex that are empty or repetitive."""
    vertex = next(point for point in sweep["points"] if point["alpha"][index] == 1.0)
    return degenerate_share(vertex["quality"])


def main() -> None:
    here = Path(__file__).resolve().parent
    print(
        "| run | objective | strength | greedy | sampled | unguided mean, greedy / sampled "
        "| degenerate at its vertex, greedy / sampled |"
    )
    print("|---|---|---|---|---|---|---|")
    steers = {"greedy": 0, "sampled": 0}
    effects = {label: 0.0 for label in steers}
    degenerate_sums = {label: 0.0 for label in steers}
    total = 0
    for line in (here / "runs.tsv").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        folders = [here / part for part in line.split("\t")]
        sweeps = {label: read_sweep(folder / "sweep.json.gz") for label, folder in zip(steers, folders, strict=True)}
        metrics = {label: summarise_sweep(sweep) for label, sweep in sweeps.items()}
        for index, objective in enumerate(sweeps["greedy"]["objectives"]):
            total += 1
            for label in steers:
                steers[label] += metrics[label]["steering_verdict"][objective] == "steers"
                effects[label] += metrics[label]["steering_effect"][objective]["effect"]
                degenerate_sums[label] += vertex_quality(sweeps[label], index)
            strength = (sweeps["greedy"].get("objective_strengths") or [1.0] * 2)[index]
            cells = [cell(sweeps[label], metrics[label], index) for label in steers]
            unguided = " / ".join(f"{sweeps[label]['base']['scores'][objective]:.3f}" for label in steers)
            degenerate = " / ".join(f"{vertex_quality(sweeps[label], index):.2f}" for label in steers)
            row = " | ".join([folders[0].name, objective, f"{strength:g}", *cells, unguided, degenerate])
            print(f"| {row} |")
    print()
    print(f"Steer, of {total} objective-runs: greedy {steers['greedy']}, sampled {steers['sampled']}.")
    print(
        "Mean steering effect: "
        + ", ".join(f"{label} {effects[label] / total:+.3f}" for label in steers)
        + "; mean share of the answers at a vertex that are empty or repetitive: "
        + ", ".join(f"{label} {degenerate_sums[label] / total:.2f}" for label in steers)
        + "."
    )


if __name__ == "__main__":
    main()
