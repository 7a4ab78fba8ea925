"""Each run whose strengths the 2.25-nat line changes, swept again at those strengths on the same adapters
(/work/runs/s81), against its recorded sweep at the strengths the 3-nat line chose: per objective its strength,
verdict, Spearman, effect and base NLL gap at its vertex, and each run's HV and MIP against the unguided model's.
Writes resweeps.md.

    python compare_resweeps.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

RESWEEPS = Path("/work/runs/s81")


def cells(metrics: dict, name: str) -> str:
    effect = metrics["steering_effect"][name]
    gap = metrics["base_nll_at_vertex"][name] - metrics["base_nll_unguided"]
    strengths = metrics.get("objective_strengths") or [1.0] * len(metrics["objectives"])
    strength = dict(zip(metrics["objectives"], strengths, strict=True))[name]
    return (
        f"x{strength:g}; {metrics['spearman_score_vs_weight'][name]:.2f}; {effect['effect']:+.3f} +/- "
        f"{effect['standard_error']:.3f}; {metrics['steering_verdict'][name]}; {gap:+.2f}"
    )


def finished_resweeps() -> set[str]:
    """The re-sweeps whose report ended cleanly: until then a copy still holds its recorded metrics and sweep."""
    log = (RESWEEPS / "progress.log").read_text().splitlines()
    return {line.split()[1] for line in log if line.startswith("end ") and " rc 0 " in line}


def main() -> None:
    rows = [
        "| run | objective | at 3 nats: strength; Spearman; effect; verdict; base NLL gap | at 2.25 nats |",
        "|---|---|---|---|",
    ]
    tally: Counter = Counter()
    fronts = []
    finished = finished_resweeps()
    for line in (RESWEEPS / "queue.txt").read_text().splitlines():
        section, source, name = line.split()[:3]
        again = RESWEEPS / name / Path(source).name / "metrics.json"
        if name not in finished:  # the copy still holds the recorded metrics
            continue
        before = json.loads((Path(source) / "metrics.json").read_text())
        after = json.loads(again.read_text())
        for objective in before["objectives"]:
            rows.append(f"| {name} | {objective} | {cells(before, objective)} | {cells(after, objective)} |")
            tally["before"] += before["steering_verdict"][objective] == "steers"
            tally["after"] += after["steering_verdict"][objective] == "steers"
            tally["objective-runs"] += 1
            for label, metrics in (("before", before), ("after", after)):
                gap = metrics["base_nll_at_vertex"][objective] - metrics["base_nll_unguided"]
                tally[f"vertices at 2.25 or more, {label}"] += gap >= 2.25
        hv = f"HV {before['hypervolume_sweep']:.3f} -> {after['hypervolume_sweep']:.3f}"
        mip = f"MIP {before['mip_sweep']:.3f} -> {after['mip_sweep']:.3f}"
        fronts.append(
            f"- {name}: {hv} (unguided {after['hypervolume_base']:.3f}); {mip} (unguided {after['mip_base']:.3f})"
        )
    summary = (
        f"{tally['objective-runs']} objective-runs: {tally['before']} steer at the 3-nat strengths, "
        f"{tally['after']} at the 2.25-nat ones; vertices 2.25 nats or more above the unguided answers: "
        f"{tally['vertices at 2.25 or more, before']} before, {tally['vertices at 2.25 or more, after']} after."
    )
    text = "\n".join([summary, "", *rows, "", *fronts]) + "\n"
    Path("resweeps.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
