"""Decode a kept sweep's interior preferences again, guided by the mixture of the PARM's vertex rewards.

    python research/runs/vertex_mixing/vertex_mixing.py RUN_FOLDER OUTPUT_FOLDER [--check_vertex]

Instead of the PARM conditioned on alpha (one forward), each interior alpha is guided by
sum_i alpha_i / beta * (log pi_PARM(e_i) - log pi_base): GenARM over the PARM merged at each vertex, the exact
optimum of the linear scalarisation given the vertex rewards. The vertices' answers are the same by construction
(`--check_vertex` decodes the first vertex again to show it) and are kept with the base's; the sweep and its
metrics are written to OUTPUT_FOLDER.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

from peft import PeftModel

from peft_pblora import GenARMGuidance, scale_objective_strengths
from peft_pblora.evaluation import summarise_sweep
from peft_pblora.pipeline import Run, RunSettings
from peft_pblora.trainer.preference_draws import simplex_vertices


def main(source: Path, destination: Path, check_vertex: bool) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("settings.json", "sweep.json", "diagnosis.json"):
        shutil.copy2(source / name, destination / name)
    saved = json.loads((source / "settings.json").read_text())
    settings = RunSettings(**{**saved, "output_dir": str(destination)})
    run = Run(settings)
    base, tokenizer = run.base()
    sweep = json.loads((source / "sweep.json").read_text())
    parm = PeftModel.from_pretrained(run._fresh_parm_base(), str(source / "parm_adapter")).eval()
    if sweep["objective_strengths"] is not None:
        scale_objective_strengths(parm, sweep["objective_strengths"])
    k = len(sweep["objectives"])
    vertices = simplex_vertices(k)
    arms = [copy.deepcopy(parm).merge_and_unload(preference=vertex).eval() for vertex in vertices]
    decoded = [alpha for alpha in sweep["alphas"] if max(alpha) < 1.0] + ([vertices[0]] if check_vertex else [])
    prompts = sweep["prompts"]
    rows = [(alpha, prompt) for alpha in decoded for prompt in prompts]
    answers = run._generate(base, tokenizer, rows, lambda alphas, mask: GenARMGuidance(
        arms, alphas, beta=settings.guidance_beta, attention_mask=mask, tokenizer=tokenizer, reference="base",
    ))  # fmt: skip
    size = len(prompts)
    points = {
        tuple(alpha): {"alpha": alpha, **run._score(prompts, answers[index * size : (index + 1) * size])}
        for index, alpha in enumerate(decoded)
    }
    if check_vertex:
        kept = next(point for point in sweep["points"] if point["alpha"] == vertices[0])["texts"]
        same = sum(a == b for a, b in zip(points.pop(tuple(vertices[0]))["texts"], kept, strict=True))
        print(f"{source.name}: first vertex decoded again, {same} of {size} answers identical")
    sweep["points"] = [points.get(tuple(point["alpha"]), point) for point in sweep["points"]]
    sweep["alpha_mixing"] = "vertex_rewards"
    (destination / "sweep.json").write_text(json.dumps(sweep, indent=1))
    (destination / "metrics.json").write_text(json.dumps(summarise_sweep(sweep), indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), "--check_vertex" in sys.argv[3:])
