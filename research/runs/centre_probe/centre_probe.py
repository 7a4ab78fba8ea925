"""Decode the steering probe at the centre of the simplex for kept runs, at the strengths their probe chose.

    python research/runs/centre_probe/centre_probe.py OUTPUT_ROOT RUN_FOLDER [RUN_FOLDER ...]

The probe decodes at the vertices only; a centre point outside the range of the vertices' scores would show a
trade-off alpha does not follow steadily before the sweep. Writes OUTPUT_ROOT/<run>/centre_probe.json.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from peft import PeftModel

from peft_pblora import PARMGuidedModel, scale_objective_strengths
from peft_pblora.pipeline import Run, RunSettings


def probe_at_the_centre(source: Path, destination: Path, shared_base: tuple | None) -> tuple:
    """Writes destination/centre_probe.json for the run in `source`; returns the loaded base for the next run."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("settings.json", "diagnosis.json"):
        shutil.copy2(source / name, destination / name)
    saved = json.loads((source / "settings.json").read_text())
    settings = RunSettings(**{**saved, "output_dir": str(destination)})
    run = Run(settings, base=shared_base)
    base, tokenizer = run.base()
    diagnosis = json.loads((source / "diagnosis.json").read_text())
    objectives = settings.objective_names
    chosen = diagnosis.get("objective_strengths") or {}
    strengths = [float(chosen.get(name, 1.0)) for name in objectives]
    parm = PeftModel.from_pretrained(run._fresh_parm_base(), str(source / "parm_adapter")).eval()
    if any(strength != 1.0 for strength in strengths):
        scale_objective_strengths(parm, strengths)
    centre = [1.0 / len(objectives)] * len(objectives)
    prompts = diagnosis["probe"]["prompts"]
    reference = run.guidance_reference()
    answers = run._generate(parm, tokenizer, [(centre, prompt) for prompt in prompts], None, lambda alphas: (
        PARMGuidedModel(parm, alphas, beta=settings.guidance_beta, reference=reference,
                        plausibility=settings.guidance_plausibility)
    ))  # fmt: skip
    point = {"alpha": centre, **run._score(prompts, answers)}
    (destination / "centre_probe.json").write_text(json.dumps({"strengths": strengths, "centre": point}, indent=1))
    print(source.name, {name: round(point["scores"][name], 3) for name in objectives}, flush=True)
    return base, tokenizer


def main(output_root: Path, sources: list[Path]) -> None:
    shared_base = None
    for source in sources:
        shared_base = probe_at_the_centre(source, output_root / source.name, shared_base)


if __name__ == "__main__":
    main(Path(sys.argv[1]), [Path(argument) for argument in sys.argv[2:]])
