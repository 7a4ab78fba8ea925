"""How often an objective-run steers in the sweep, by its probe's t statistic and whether its training margin is
below 1, over every recorded run folder under research/runs with a diagnosis, a probe and a sweep verdict.

A measurement copied into several record folders (the same run re-diagnosed or re-swept) counts once per distinct
sweep: the key is the run's folder name, the objective, its probe t and its sweep effect.
Run from the repository root: python research/runs/low-margin/margin_and_probe.py
"""

import json
from pathlib import Path

LEARNED_MARGIN = 1.0
T_BINS = [(float("-inf"), 0.0), (0.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, float("inf"))]


def objective_runs(root: Path) -> list[dict]:
    """One row per distinct (run, objective, probe t, sweep effect) with a probe and a sweep verdict."""
    rows = {}
    for diagnosis_path in sorted(root.rglob("diagnosis.json")):
        metrics_path = diagnosis_path.with_name("metrics.json")
        if not metrics_path.exists():
            continue
        diagnosis = json.loads(diagnosis_path.read_text())
        metrics = json.loads(metrics_path.read_text())
        verdicts = metrics.get("steering_verdict") or {}
        effects = metrics.get("steering_effect") or {}
        for objective in diagnosis.get("objectives", []):
            name = objective["objective"]
            effect, error = objective.get("probe_effect"), objective.get("probe_standard_error")
            if name not in verdicts or effect is None or not error:
                continue
            sweep_effect = (effects.get(name) or {}).get("effect")
            t = effect / error
            key = (diagnosis_path.parent.name, name, round(t, 3), sweep_effect and round(sweep_effect, 4))
            rows[key] = {
                "run": str(diagnosis_path.parent.relative_to(root)),
                "objective": name,
                "probe_t": t,
                "margin": objective.get("training_margin"),
                "verdict": verdicts[name],
            }
    return list(rows.values())


def main() -> None:
    rows = objective_runs(Path("research/runs"))
    print(f"{len(rows)} distinct objective-runs with a probe and a sweep")
    print("| probe t | margin below 1: steer / runs | margin 1 or more, or none: steer / runs |")
    print("|---|---|---|")
    for low, high in T_BINS:
        cells = []
        for low_margin in (True, False):
            chosen = [
                row
                for row in rows
                if low <= row["probe_t"] < high
                and (row["margin"] is not None and row["margin"] < LEARNED_MARGIN) == low_margin
            ]
            steering = sum(row["verdict"] == "steers" for row in chosen)
            cells.append(f"{steering} / {len(chosen)}")
        print(f"| [{low:g}, {high:g}) | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
