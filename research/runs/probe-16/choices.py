"""Which strengths each probe rule chooses from the same probe answers, at 16 probe prompts and at their first 8.

Rule "flags" (before): weaker strengths are probed only when an objective has a no-steering flag at full strength,
and among combinations that steer as many objectives the degenerate share counts at flagged vertices only. Rule
"answers" (now): weaker strengths are probed also when any answer at an objective's vertex is empty or repetitive,
and the share counts at every vertex. Rule "answers-probed" probes weaker strengths as "answers" does but chooses
as "flags" does. The first 8 of a run's 16 probe prompts are the 8 its 8-prompt probe used
(the same seeded draw), so both rules at 8 prompts are read from the same answers.

    python research/runs/probe-16/choices.py RUN_FOLDER ...   # folders whose diagnosis probed 16 prompts
"""

from __future__ import annotations

import itertools
import json
import sys
from functools import partial
from pathlib import Path

from peft_pblora.evaluation.answer_quality import text_quality
from peft_pblora.pipeline.diagnosis import NOT_STEERING_FLAGS, diagnosis_record
from peft_pblora.pipeline.strength_search import STEERING_T_STATISTIC, probe_t_statistic


def first_prompts(point: dict, count: int) -> dict:
    """A probe point restricted to its first `count` prompts, its quality recomputed from their texts."""
    texts = point["texts"][:count]
    quality = {**point["quality"], **{key: text_quality(texts)[key] for key in ("empty", "repetitive")}}
    per_prompt = {name: values[:count] for name, values in point["per_prompt"].items()}
    return {**point, "per_prompt": per_prompt, "texts": texts, "quality": quality}


def choice(objectives: list[str], points_at: dict, record_of, rule: str) -> dict[str, float]:
    """The strengths `rule` chooses ("flags", "answers" or "answers-probed")."""
    full = record_of(points_at[1.0])
    not_steering = any(set(item["flags"]) & NOT_STEERING_FLAGS for item in full["objectives"])
    degenerating = any(item["degenerate_share_at_vertex"] for item in full["objectives"])
    probed = points_at if not_steering or (rule != "flags" and degenerating) else {1.0: points_at[1.0]}
    best, best_key = None, None
    for levels in itertools.product(probed, repeat=len(objectives)):
        record = record_of([probed[level][index] for index, level in enumerate(levels)])
        statistics = [probe_t_statistic(effect) for effect in record["probe"]["effects"].values()]
        items = record["objectives"]
        flagged = [item for item in items if "degenerate_at_vertex" in item["flags"]]
        counted = items if rule == "answers" else flagged
        share = round(sum(item["degenerate_share_at_vertex"] or 0.0 for item in counted), 9)
        steering = sum(value > STEERING_T_STATISTIC for value in statistics)
        key = (len(flagged), -steering, share, -min(statistics), -sum(levels))
        if best_key is None or key < best_key:
            best, best_key = dict(zip(objectives, levels, strict=True)), key
    return best


def record_at(objectives: list[str], prompts: list[str], held_out: tuple, margins: dict, vertices: list) -> dict:
    return diagnosis_record(objectives, prompts, vertices, held_out, margins)


def strengths_by_rule(folder: Path) -> dict[str, list[float]]:
    """'<rule>@<prompts>' -> the strengths, in objective order, from the run's diagnosis.json."""
    stored = json.loads((folder / "diagnosis.json").read_text())
    objectives = [item["objective"] for item in stored["objectives"]]
    prompts = stored["probe"]["prompts"]
    held_out = (stored.get("pair_accuracy", {}), stored.get("held_out_pairs", {}))
    margins = stored.get("training_margins", {})
    points = {probed["strength"]: probed["vertices"] for probed in stored["probe_at_strength"]}
    chosen = {}
    for count in (8, len(prompts)):
        at = {level: [first_prompts(point, count) for point in vertices] for level, vertices in points.items()}
        record_of = partial(record_at, objectives, prompts[:count], held_out, margins)
        for rule in ("flags", "answers", "answers-probed"):
            chosen[f"{rule}@{count}"] = [choice(objectives, at, record_of, rule)[name] for name in objectives]
    return chosen


def main(folders: list[str]) -> None:
    for folder in map(Path, folders):
        print(json.dumps({"run": folder.name, **strengths_by_rule(folder)}))


if __name__ == "__main__":
    main(sys.argv[1:])
