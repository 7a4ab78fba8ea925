"""The reward-form runs side by side: per run (epochs, training seed) and objective, the reward form, the training
accuracy and margin over the last third of its log, and the sweep's Spearman, steering effect and verdict, read from
each run folder here.

    python research/runs/reward-form-relevance/table.py
"""

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
COLUMNS = ("run", "epochs, seed", "objective", "reward", "training accuracy, margin", "Spearman", "effect", "verdict")


def last_third(log: list[dict], objective: str, statistic: str) -> float:
    """The mean of one logged statistic over the last third of the training steps that logged it."""
    key = f"objective/{objective}/{statistic}"
    values = [float(row[key]) for row in log if key in row]
    return float(np.mean(values[-max(1, len(values) // 3) :]))


def rows(folder: Path) -> list[list[str]]:
    """One row per objective of the run in `folder`."""
    metrics = json.loads((folder / "metrics.json").read_text())
    log = json.loads((folder / "train_log.json").read_text())
    settings = json.loads((folder / "settings.json").read_text())
    forms = metrics.get("reward_forms", {}).get("objectives", {})
    given = settings["length_normalized_rewards"] or []
    result = []
    for name in metrics["objectives"]:
        reward = forms.get(name, {}).get("reward") or ("mean" if name in given else "summed")
        effect = metrics["steering_effect"][name]
        training = f"{last_third(log, name, 'accuracy'):.2f}, {last_third(log, name, 'margin'):+.2f}"
        result.append([
            folder.name, f"{settings['epochs']:g}, {settings['train_seed']}", name, reward, training,
            f"{metrics['spearman_score_vs_weight'][name]:.2f}",
            f"{effect['effect']:+.3f} +/- {effect['standard_error']:.3f}", metrics["steering_verdict"][name],
        ])  # fmt: skip
    return result


def main() -> None:
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for folder in sorted(path.parent for path in HERE.glob("*/metrics.json")):
        for row in rows(folder):
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
