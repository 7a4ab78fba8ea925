"""Every kept run with word-choice pairs: per objective, its word-choice pairs, its prompts with a made pair, the
share of loss weight its word-choice pairs add (pairs x weight / prompts with a pair) and its verdict, to see whether
that share tells the runs where an objective stops from those where it steers.

    cd research/runs/word-choices-other-words && python weight_share.py > weight_share.md
"""

from __future__ import annotations

import json
from pathlib import Path

RUNS = Path(__file__).resolve().parent.parent
UNWEIGHTED = {"word-choice-pairs"}  # section 69's runs, at weight 1 before pairing.json recorded the weight
DEFAULT_WEIGHT = 10.0


def run_folders() -> list[Path]:
    folders = []
    for record in sorted(RUNS.glob("**/pairing.json")):
        folder = record.parent.parent if record.parent.name == "preference_data" else record.parent
        folders.append((folder, json.loads(record.read_text())))
    return folders


def main() -> None:
    print("| run | weight | objective | word-choice pairs | prompts with a pair | added share | verdict |")
    print("|---|---|---|---|---|---|---|")
    for folder, pairing in run_folders():
        added = pairing.get("pairs_added", {}).get("word_choice_pairs") or pairing.get("word_choice_pairs_added")
        if not added or not (folder / "metrics.json").exists():
            continue
        section_folder = folder.relative_to(RUNS).parts[0]
        weight = pairing.get("word_choice_pair_weight", 1.0 if section_folder in UNWEIGHTED else DEFAULT_WEIGHT)
        verdicts = json.loads((folder / "metrics.json").read_text())["steering_verdict"]
        with_pairs = json.loads((folder / "diagnosis.json").read_text())["prompts_with_pairs"]
        for name, count in added.items():
            share = count * weight / with_pairs[name]
            print(
                f"| {folder.relative_to(RUNS)} | {weight:g} | {name} | {count} | {with_pairs[name]} | {share:.2f} | "
                f"{verdicts[name]} |"
            )


if __name__ == "__main__":
    main()
