"""Section 80's two arms side by side: per pair and objective, the strength the probe chose, Spearman, steering effect
and verdict, the share of the answers at its vertex that are empty or repetitive, and the base's mean negative
log-likelihood per token there above the unguided answers' (marked as word salad from the library's line, 2.25 nats
since research log section 81; the runs of seeds 0 and 1 were made at 3); with the counts per arm. Reads each run's
`metrics.json` in `<arm>/<pair>_s<seed>/` (seeds 0 and 1, and 2 from section 82).

    cd research/runs/objectives-after-word-choices && python arms.py > arms.md
"""

from __future__ import annotations

import json
from pathlib import Path

from peft_pblora.evaluation.base_likelihood import is_off_language

HERE = Path(__file__).resolve().parent
ARMS = {"without": "without word-choice pairs", "with": "with word-choice pairs"}
PAIRS = ["future__conciseness", "health__list_format", "inclusive_voice__second_person", "commas__short_sentences"]
SEEDS = (0, 1, 2)


def cells(metrics: dict, index: int, name: str) -> str:
    """One objective-run: strength, Spearman, effect, verdict, degenerate share and base-NLL gap at its vertex."""
    effect = metrics["steering_effect"][name]
    gap = metrics["base_nll_at_vertex"][name] - metrics["base_nll_unguided"]
    salad = " **word salad**" if is_off_language(gap) else ""
    return (
        f"x{metrics['objective_strengths'][index]:g}; {metrics['spearman_score_vs_weight'][name]:.2f}; "
        f"{effect['effect']:+.3f} +/- {effect['standard_error']:.3f}; {metrics['steering_verdict'][name]}; "
        f"{metrics['degenerate_share_at_vertex'][name]:.2f}; {gap:+.2f}{salad}"
    )


def main() -> None:
    print("| run | objective | " + " | ".join(ARMS.values()) + " |")
    print("|---|---|---|---|")
    counts = dict.fromkeys(ARMS, 0)
    totals = dict.fromkeys(ARMS, 0)
    for seed in SEEDS:
        for pair in PAIRS:
            table_rows(pair, seed, counts, totals)
    print()
    print("Each cell: strength; Spearman; effect +/- se; verdict; empty or repetitive at its vertex; base NLL per")
    print("token at its vertex above the unguided answers' (nats).")
    print()
    for arm, label in ARMS.items():
        print(f"- {label}: {counts[arm]} of {totals[arm]} objective-runs steer")


def table_rows(pair: str, seed: int, counts: dict[str, int], totals: dict[str, int]) -> None:
    """The table's rows for one run of `pair` at `seed` (none where neither arm ran it), adding to the counts."""
    runs = {arm: HERE / arm / f"{pair}_s{seed}" / "metrics.json" for arm in ARMS}
    loaded = {arm: json.loads(path.read_text()) for arm, path in runs.items() if path.is_file()}
    names = next(iter(loaded.values()))["objectives"] if loaded else []
    for index, name in enumerate(names):
        row = []
        for arm in ARMS:
            if arm not in loaded:
                row.append("not run")
                continue
            row.append(cells(loaded[arm], index, name))
            totals[arm] += 1
            counts[arm] += loaded[arm]["steering_verdict"][name] == "steers"
        print(f"| {pair.replace('__', ' vs ')} s{seed} | {name} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
