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

from peft_pblora.evaluation.probe_scores import shares_at_top_where_weight_is_zero
from peft_pblora.evaluation.steering_flags import ALREADY_AT_TOP_SHARE
from peft_pblora.pipeline.steering_verdict_lines import metrics_verdicts

RUNS = Path(__file__).parent.parent


def main() -> None:
    counts: Counter = Counter()
    at_top: Counter = Counter()
    for path in sorted(RUNS.glob("**/diagnosis.json")):
        metrics_path = path.with_name("metrics.json")
        record = json.loads(path.read_text())
        vertices = record.get("probe", {}).get("vertices") or []
        if not metrics_path.is_file() or not vertices or "per_prompt" not in vertices[0]:
            continue
        verdicts = metrics_verdicts(json.loads(metrics_path.read_text()))
        shares = shares_at_top_where_weight_is_zero(vertices, [item["objective"] for item in record["objectives"]])
        for item in record["objectives"]:
            name = item["objective"]
            high = shares.get(name, 0.0) >= ALREADY_AT_TOP_SHARE
            steers = verdicts.get(name) == "steers"
            counts[(high, bool(item["flags"]), steers)] += 1
            if high:
                at_top[(name, steers)] += 1
    for high in (True, False):
        label = f"share {'>=' if high else '<'} {ALREADY_AT_TOP_SHARE:g}"
        for flagged in (False, True):
            steer, fail = counts[(high, flagged, True)], counts[(high, flagged, False)]
            print(f"{label}, {'flagged' if flagged else 'no flag'} before the sweep: sweep steers {steer}, not {fail}")
    print(
        "objectives at the share or above (name, steers): " + ", ".join(f"{k}: {v}" for k, v in at_top.most_common())
    )


if __name__ == "__main__":
    main()
