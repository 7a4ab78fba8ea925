"""Could the probe, before the sweep, tell an objective already at its highest score? For every kept diagnosis.json
with its probe answers' per-prompt scores and a metrics.json beside it: the share of the probe's answers where the
objective's weight is 0 that already reach its highest probe score, against the sweep's verdict, with and without
another flag before the sweep.

    python research/runs/highest-score-share/probe_shares.py > research/runs/highest-score-share/probe_shares.txt
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from peft_pblora.evaluation.weight_curves import LITTLE_ROOM_SHARE
from peft_pblora.pipeline.steering_verdict_lines import metrics_verdicts

RUNS = Path(__file__).parent.parent


def share_at_top_where_weight_is_zero(vertices: list[dict], index: int, name: str) -> float:
    """The share of the answers at the vertices giving objective `index` no weight that reach its highest score over
    every vertex's answers (0 where every answer scores alike)."""
    every = [score for vertex in vertices for score in vertex["per_prompt"][name]]
    highest = max(every)
    if highest <= min(every):
        return 0.0
    others = [score for vertex in vertices if vertex["alpha"][index] == 0 for score in vertex["per_prompt"][name]]
    return sum(score >= highest for score in others) / len(others)


def main() -> None:
    counts: Counter = Counter()
    at_top: Counter = Counter()
    for path in sorted(RUNS.glob("**/diagnosis.json")):
        metrics_path = path.with_name("metrics.json")
        vertices = json.loads(path.read_text()).get("probe", {}).get("vertices") or []
        if not metrics_path.is_file() or not vertices or "per_prompt" not in vertices[0]:
            continue
        verdicts = metrics_verdicts(json.loads(metrics_path.read_text()))
        for index, item in enumerate(json.loads(path.read_text())["objectives"]):
            name = item["objective"]
            high = share_at_top_where_weight_is_zero(vertices, index, name) >= LITTLE_ROOM_SHARE
            steers = verdicts.get(name) == "steers"
            counts[(high, bool(item["flags"]), steers)] += 1
            if high:
                at_top[(name, steers)] += 1
    for high in (True, False):
        label = f"share {'>=' if high else '<'} {LITTLE_ROOM_SHARE:g}"
        for flagged in (False, True):
            steer, fail = counts[(high, flagged, True)], counts[(high, flagged, False)]
            print(f"{label}, {'flagged' if flagged else 'no flag'} before the sweep: sweep steers {steer}, not {fail}")
    print(
        "objectives at the share or above (name, steers): " + ", ".join(f"{k}: {v}" for k, v in at_top.most_common())
    )


if __name__ == "__main__":
    main()
