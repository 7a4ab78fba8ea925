"""How well the probe's degenerate share at an objective's vertex foresees the sweep's, over the stored benchmark
runs, and which strength choices a lower `DEGENERATE_SHARE` would change, without decoding.

Each run folder with a diagnosis.json and a metrics.json counts once (copies of a run, found by its probe's answers,
and sweeps again at strengths fixed by an earlier run are skipped). An objective-run is degenerate in the sweep
where the report warns of it (`degenerate_at_vertex`: a quarter or more of the sweep's answers at its vertex empty
or looping, more than the unguided model's). A run whose probe tried the weaker strengths is chosen again from its
answers at each threshold; one that did not, but would now flag a vertex at full strength, needs a new run.

    python research/runs/degenerate-probe/reach.py
"""

import hashlib
import importlib.util
import json
from collections import Counter
from pathlib import Path
from unittest import mock

from peft_pblora.evaluation import steering_diagnosis
from peft_pblora.pipeline.steering_verdict_lines import degenerate_at_vertex
from peft_pblora.pipeline.strength_search import choose_strengths

RUNS = Path(__file__).parent.parent
THRESHOLDS = (0.5, 0.375, 0.25)
# a stored diagnosis's `record_of`, as the stronger-strength search's reach script rebuilds it
_spec = importlib.util.spec_from_file_location("stronger_reach", RUNS / "inconclusive-stronger-search" / "reach.py")
_stronger_reach = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_stronger_reach)
record_of_for = _stronger_reach.record_of_for


def fingerprint(record: dict) -> str:
    """The run's probe answers: copies of one run (reswept, rediagnosed into another folder) share them."""
    return hashlib.sha1(json.dumps(record["probe"]["vertices"], sort_keys=True).encode()).hexdigest()


def unique_runs() -> list[tuple[Path, dict, dict]]:
    seen, runs = set(), []
    for path in sorted(RUNS.glob("**/diagnosis.json")):
        if Path(__file__).parent in path.parents:
            continue  # this folder's runs, made under the lower threshold
        metrics_path = path.parent / "metrics.json"
        if not metrics_path.is_file():
            continue
        record, metrics = json.loads(path.read_text()), json.loads(metrics_path.read_text())
        if "degenerate_share_at_vertex" not in metrics or not record["probe"].get("vertices"):
            continue
        if record.get("strengths_fixed"):
            continue  # a sweep again at strengths chosen by an earlier run: its probe chose nothing
        key = fingerprint(record)
        if key in seen:
            continue
        seen.add(key)
        runs.append((path.parent, record, metrics))
    return runs


def chosen_with_threshold(record: dict, threshold: float) -> dict[str, float] | None:
    """The strengths the run would choose with `threshold`; None where its probe searched strengths but kept full
    strength only and the threshold flags a vertex there (the weaker strengths would be probed: a new run)."""
    objectives, record_of = record_of_for(record)
    at_full_strength = dict.fromkeys(objectives, 1.0)
    if "strengths_tried" not in record:
        return at_full_strength  # a run that searched no strengths: the threshold only flags
    points_at = {probed["strength"]: probed["vertices"] for probed in record["probe_at_strength"]}
    with mock.patch.object(steering_diagnosis, "DEGENERATE_SHARE", threshold):
        if len(points_at) == 1:
            flags = [set(item["flags"]) for item in record_of(points_at[1.0])["objectives"]]
            return None if any("degenerate_at_vertex" in flagged for flagged in flags) else at_full_strength
        return choose_strengths(objectives, points_at, record_of)["objective_strengths"]


def main() -> None:
    runs = unique_runs()
    rows = []
    for _folder, record, metrics in runs:
        base = metrics.get("degenerate_share_base")
        for item in record["objectives"]:
            name, probe = item["objective"], item.get("degenerate_share_at_vertex")
            sweep = metrics["degenerate_share_at_vertex"].get(name)
            if probe is not None and sweep is not None:
                rows.append((probe, degenerate_at_vertex(sweep, base)))
    print(f"{len(runs)} runs, {len(rows)} objective-runs; degenerate in the sweep: {sum(bad for _, bad in rows)}\n")
    print("| probe share from | flagged | degenerate in the sweep | not | sweep-degenerate missed |")
    print("|---|---|---|---|---|")
    for threshold in THRESHOLDS:
        hit = sum(probe >= threshold and bad for probe, bad in rows)
        false = sum(probe >= threshold and not bad for probe, bad in rows)
        missed = sum(probe < threshold and bad for probe, bad in rows)
        print(f"| {threshold:g} | {hit + false} | {hit} | {false} | {missed} |")
    print()
    counts: Counter = Counter()
    for folder, record, _metrics in runs:
        run = str(folder.relative_to(RUNS))
        old = chosen_with_threshold(record, THRESHOLDS[0])
        for threshold in THRESHOLDS[1:]:
            new = chosen_with_threshold(record, threshold)
            if new is None:
                counts[f"{threshold:g}: a new run needed"] += 1
                print(f"{threshold:g} {run}: full strength now flagged, weaker strengths not probed")
            elif new != old:
                counts[f"{threshold:g}: choice changed"] += 1
                print(f"{threshold:g} {run}: {old} -> {new}")
            else:
                counts[f"{threshold:g}: unchanged"] += 1
    for what, count in sorted(counts.items()):
        print(f"{count:4d}  {what}")


if __name__ == "__main__":
    main()
