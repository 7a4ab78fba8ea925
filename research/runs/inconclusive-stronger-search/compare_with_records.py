"""Each re-run here against its recorded run: per objective the verdict, Spearman (resample share), effect, strength.

python research/runs/inconclusive-stronger-search/compare_with_records.py > comparison.md
"""

import json
from pathlib import Path

HERE = Path(__file__).parent
RECORDED = [  # (folder of the recorded run under research/runs, run)
    ("retrain-not-learned/new-pairs", "questions__imperatives_s0"),
    ("retrain-not-learned/new-pairs-seed-1", "contractions__plain_words_s1"),
    ("retrain-not-learned/new-pairs-seed-2", "questions__imperatives_s2"),
    ("retrain-not-learned/new-pairs", "list_format__long_words_s0"),
    ("retrain-not-learned/new-pairs-seed-1", "list_format__long_words_s1"),
    ("late-objectives/seed-0", "affirmative__contractions_s0"),
    ("late-objectives/seed-0", "caution__affirmative_s0"),
    ("late-objectives/seed-0", "connectives__caution_s0"),
    ("late-objectives/seed-1", "connectives__caution_s1"),
    ("late-objectives/seed-2", "affirmative__contractions_s2"),
    ("late-objectives/seed-2", "connectives__emphasis_s2"),
    ("retrain-not-learned/new-pairs-seed-1", "questions__imperatives_s1"),
    ("retrain-not-learned/new-pairs", "conciseness__contractions_s0"),
    ("retrain-not-learned/new-pairs-seed-2", "conciseness__contractions_s2"),
    ("retrain-not-learned/new-pairs", "conciseness__first_person_s0"),
    ("retrain-not-learned/new-pairs-seed-2", "conciseness__first_person_s2"),
    ("retrain-not-learned/new-pairs-seed-1", "hedging__word_variety_s1"),
    ("retrain-not-learned/new-pairs-seed-2", "hedging__word_variety_s2"),
    ("retrain-not-learned/new-pairs-seed-2", "parentheses__relevance_s2"),
]


def row(table: list, run: str) -> dict:
    return next(item for item in table if item["run"].split(" ")[0] == run)


def cell(item: dict, objective: str) -> str:
    result = item["objectives"][objective]
    strengths = dict(zip(item["objectives"], item["objective_strengths"] or [1.0] * 2, strict=True))
    verdict = "steers" if result["steers"] else result["verdict"].replace("_", " ")
    degenerate = result.get("degenerate_share_at_vertex")
    return (
        f"{verdict} ({result['spearman']:.2f}, {result['spearman_resample_share']:.0%}) {result['effect']:+.3f} +/- "
        f"{result['standard_error']:.3f} at x{strengths[objective]:g}"
        + (f", {degenerate:.0%} degenerate" if degenerate and degenerate >= 0.1 else "")
    )


def main() -> None:
    rerun = json.loads((HERE / "table.json").read_text())
    print("| run | objective | recorded (stronger only where the probe cannot judge) | re-run (inconclusive too) |")
    print("|---|---|---|---|")
    counts = [0, 0, 0]
    for folder, run in RECORDED:
        before = row(json.loads((HERE.parent / folder / "table.json").read_text()), run)
        after = row(rerun, run)
        for objective in before["objectives"]:
            counts[0] += 1
            counts[1] += before["objectives"][objective]["steers"]
            counts[2] += after["objectives"][objective]["steers"]
            print(f"| {run} | {objective} | {cell(before, objective)} | {cell(after, objective)} |")
    print(f"\nSteer: {counts[1]} of {counts[0]} recorded, {counts[2]} of {counts[0]} re-run.")


if __name__ == "__main__":
    main()
