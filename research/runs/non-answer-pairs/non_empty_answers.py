"""Whether an objective's empty answers are what stops it steering: each sweep point's mean score over its non-empty
answers only, and the Spearman correlation of that mean with the objective's weight, for the benchmark's three
failures at 48 held-out prompts (their sweeps are kept in research/runs/benchmark-48).

    python research/runs/non-answer-pairs/non_empty_answers.py
"""

import json
from pathlib import Path

from scipy.stats import spearmanr

RUNS = Path(__file__).resolve().parent.parent
FAILURES = ("conciseness__relevance_s0", "conciseness__relevance_s2", "conciseness__list_format_s1")


def main() -> None:
    for run in FAILURES:
        sweep = json.loads((RUNS / "benchmark-48" / run / "sweep.json").read_text())
        objectives = sweep["objectives"]
        print(f"{run}: alpha, mean score over the non-empty answers per objective, empty answers")
        means = {name: [] for name in objectives}
        for point in sweep["points"]:
            answered = [index for index, text in enumerate(point["texts"]) if text.strip()]
            for name in objectives:
                scores = point["per_prompt"][name]
                means[name].append(sum(scores[index] for index in answered) / len(answered))
            row = ", ".join(f"{means[name][-1]:.3f}" for name in objectives)
            print(f"  {point['alpha']}: {row}, {len(point['texts']) - len(answered)} of {len(point['texts'])}")
        for position, name in enumerate(objectives):
            weights = [point["alpha"][position] for point in sweep["points"]]
            print(f"  {name}: Spearman over the non-empty answers {spearmanr(weights, means[name])[0]:.2f}")


if __name__ == "__main__":
    main()
