"""The runs whose strengths a degenerate threshold of 3 of 8 (0.375, tried and not adopted) changed, before and
after: each objective's strength, verdict, steering effect, gain over the unguided model at its vertex and degenerate
share there, from the old run's folder and the new one's, drawn as `steering_benchmark.py --table_only` draws it.

    python research/runs/degenerate-probe/compare.py
"""

import json
import sys
from pathlib import Path

from reach import chosen_with_threshold

from peft_pblora.pipeline.steering_verdict_lines import degenerate_at_vertex

HERE = Path(__file__).parent
RUNS = HERE.parent
sys.path.insert(0, str(RUNS.parent.parent / "scripts"))
from benchmark_tables import benchmark_table, summary_from_run_folders  # noqa: E402

# the runs whose training the library reproduced (the same training log), each with the set folder that holds it
# before the change: the threshold alone changed their strengths
BEFORE = {
    "colons__plain_words_s1": "objectives-after-fresh-prompts",
    "examples__caution_s1": "three-pairs-never-run",
    "parentheses__relevance_s2": "inconclusive-stronger-search",
    "caution__positivity_s0": "late-objectives/seed-0",
    "positivity__word_variety_s2": "retrain-not-learned/new-pairs-seed-2",
}
# runs trained otherwise now (the library now trains parentheses against relevance again for three epochs; the extra
# answers for quotes, sampled again, differ from the kept ones): only their choice at each threshold is read
TRAINED_OTHERWISE = ["parentheses__relevance_s1", "quotes__long_words_s0", "quotes__long_words_s2"]


def table_row(folder: Path) -> dict | None:
    """The benchmark table's row of the run in `folder`, None where it has not finished."""
    if not (folder / "metrics.json").is_file():
        return None
    return benchmark_table(summary_from_run_folders(folder))[0]


def cell(row: dict, index: int, name: str) -> str:
    item = row["objectives"][name]
    gain = item["gain_over_base"]
    verdict = "**steers**" if item["steers"] else item["verdict"].replace("_", " ")
    return (
        f"x{row['objective_strengths'][index]:g}: {verdict} ({item['spearman']:.2f}, {item['effect']:+.3f} +/- "
        f"{item['standard_error']:.3f}; gain {gain['effect']:+.3f}; "
        f"{item['degenerate_share_at_vertex']:.0%} degenerate)"
    )


def main() -> None:
    print("| run | objective | before | after |")
    print("|---|---|---|---|")
    counts = {"before": [0, 0, 0], "after": [0, 0, 0]}  # steer, degenerate as the report warns, objective-runs
    for run, before_set in BEFORE.items():
        before, after = table_row(RUNS / before_set / run), table_row(HERE / "runs" / run)
        if after is None:
            print(f"| {run} | not run yet | | |")
            continue
        for index, name in enumerate(before["objectives"]):
            print(f"| {run} | {name} | {cell(before, index, name)} | {cell(after, index, name)} |")
            for when, row in (("before", before), ("after", after)):
                item = row["objectives"][name]
                counts[when][0] += item["steers"]
                counts[when][1] += degenerate_at_vertex(
                    item["degenerate_share_at_vertex"], row["degenerate_share_base"]
                )
                counts[when][2] += 1
    for run in TRAINED_OTHERWISE:
        path = HERE / "runs" / run / "diagnosis.json"
        if path.is_file():
            record = json.loads(path.read_text())
            choices = {threshold: chosen_with_threshold(record, threshold) for threshold in (0.5, 0.375)}
            print(
                f"\n{run} (trained otherwise): " + "; ".join(f"at {key:g}: {value}" for key, value in choices.items())
            )
    for when, (steer, degenerate, total) in counts.items():
        print(
            f"\n{when}: {steer} of {total} objective-runs steer; {degenerate} with a quarter or more of the "
            "answers at their vertex degenerate (more than the unguided model's)"
        )


if __name__ == "__main__":
    main()
