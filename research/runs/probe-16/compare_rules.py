"""Section 23's runs with the probe at 16 prompts, under each rule for when to probe weaker strengths and which to
choose (`choices.py`), run by run: the strengths each rule chose and whether the sweep then steered each objective,
with the counts and each objective's mean steering effect per rule.

    python research/runs/probe-16/compare_rules.py

"8 prompts" is section 23 (research/runs/benchmark-48 and whole-samples-48: the "flags" rule at 8 prompts);
"answers" and "answers-probed" are the runs here, decoded again on the same adapters with 16 probe prompts. The
"flags" rule at 16 prompts chose strengths one of those three sweeps used in 23 of 24 runs; the sweep of the other
was not run. Both 16-prompt rules read the same probe answers (answers-probed/<run>/diagnosis.json).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent
sys.path.insert(0, str(RUNS.parents[1] / "scripts"))
sys.path.insert(0, str(HERE))

from benchmark_tables import benchmark_table, summary_from_run_folders  # noqa: E402
from choices import strengths_by_rule  # noqa: E402

SWEPT = {"8 prompts": ("benchmark-48", "whole-samples-48"), "answers": ("probe-16/answers",),
         "answers-probed": ("probe-16/answers-probed",)}  # fmt: skip
RULES = ("8 prompts", "flags@16", "answers@16", "answers-probed@16")


def rows_of(folders: tuple[str, ...]) -> dict[str, dict]:
    rows = {}
    for folder in folders:
        rows.update({row["run"]: row for row in benchmark_table(summary_from_run_folders(RUNS / folder))})
    return rows


def main() -> None:
    swept = {name: rows_of(folders) for name, folders in SWEPT.items()}
    counts = {rule: [0, 0] for rule in RULES}
    effects: dict[str, dict[str, list[float]]] = {rule: {} for rule in RULES}
    print("| run | objective | " + " | ".join(RULES) + " |")
    print("|---|---|" + "---|" * len(RULES))
    for run in sorted(swept["answers-probed"], key=lambda name: (name.rsplit("_s", 1)[1], name)):
        chosen = strengths_by_rule(HERE / "answers-probed" / run)
        chosen["8 prompts"] = swept["8 prompts"][run]["objective_strengths"] or [1.0, 1.0]
        sweeps = [source[run] for source in swept.values()]
        for objective in swept["8 prompts"][run]["objectives"]:
            cells = []
            for rule in RULES:
                strengths = chosen[rule]
                row = next((row for row in sweeps if (row["objective_strengths"] or [1.0, 1.0]) == strengths), None)
                label = "/".join(f"{value:g}" for value in strengths)
                if row is None:
                    cells.append(f"{label}: not swept")
                    continue
                result = row["objectives"][objective]
                counts[rule][0] += result["steers"]
                counts[rule][1] += 1
                effects[rule].setdefault(objective, []).append(result["effect"])
                verdict = "yes" if result["steers"] else f"**no** ({result['verdict']})"
                cells.append(f"{label}: {verdict} {result['spearman']:.2f}, {result['effect']:+.2f}")
            print(f"| {run} | {objective} | " + " | ".join(cells) + " |")
    print()
    for rule in RULES:
        means = ", ".join(f"{name} {sum(v) / len(v):+.2f}" for name, v in sorted(effects[rule].items()))
        print(f"- {rule}: {counts[rule][0]} of {counts[rule][1]} swept objective-runs steer; mean effect {means}")


if __name__ == "__main__":
    main()
