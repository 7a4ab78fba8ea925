"""The empty-answer check's share at each objective's own vertex, per run of this folder: at full strength and at
the strength the diagnosis chose, beside the strength section 23's run chose (research/runs/benchmark-48 or
whole-samples-48).

    python research/runs/empty-answer-check/check_shares.py > research/runs/empty-answer-check/check-shares.md
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARK_FOLDERS = (HERE.parent / "whole-samples-48", HERE.parent / "benchmark-48")


def own_vertex(points: list[dict], objectives: list[str], objective: str) -> dict:
    position = objectives.index(objective)
    return next(point for point in points if point["alpha"][position] == 1.0)


def check_share(diagnosis: dict, objective: str, strength: float) -> str:
    objectives = [item["objective"] for item in diagnosis["objectives"]]
    probed = next(entry for entry in diagnosis["probe_at_strength"] if entry["strength"] == strength)
    return f"{own_vertex(probed['vertices'], objectives, objective)['empty_answer_check']['empty']:.2f}"


def main() -> None:
    print("| run | objective | check at full strength | strength chosen | check there | section 23: strength |")
    print("|---|---|---|---|---|---|")
    for folder in sorted(path for path in HERE.iterdir() if (path / "diagnosis.json").is_file()):
        diagnosis = json.loads((folder / "diagnosis.json").read_text())
        before_folder = next(root / folder.name for root in BENCHMARK_FOLDERS if (root / folder.name).is_dir())
        before = json.loads((before_folder / "diagnosis.json").read_text()).get("objective_strengths", {})
        for item in diagnosis["objectives"]:
            name = item["objective"]
            chosen = diagnosis["objective_strengths"][name]
            print(
                f"| {folder.name} | {name} | {check_share(diagnosis, name, 1.0)} | {chosen:g} | "
                f"{check_share(diagnosis, name, chosen)} | {before.get(name, 1.0):g} |"
            )


if __name__ == "__main__":
    main()
