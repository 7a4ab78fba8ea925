"""How much of the guided next-token distribution lies on an objective's words, against how often one of them is its
argmax: along the greedy answers at the objective's own vertex (teacher-forced), the base's and the guided mass on
single-token words of the objective, and the share of steps where such a word is the argmax of each. Guidance that
raises that mass without making one of the words the argmax moves sampled answers and not greedy ones.

    PYTHONPATH=research/runs/objectives-after-the-exit-fix:research/runs/objectives-after-fresh-prompts \
python research/runs/sampled-sweep/feature_mass.py RUN_FOLDER OBJECTIVE [--prompts 16]
"""

from __future__ import annotations

import argparse
import json
import re
import warnings
from pathlib import Path

import torch
from peft import PeftModel

from peft_pblora.data.chat import chat_texts
from peft_pblora.guidance.processors import PARMGuidance
from peft_pblora.pipeline import Run, RunSettings
from peft_pblora.tuners.pblora.strengths import scale_objective_strengths

# the scorers' words that are one token; a multi-word phrase ("due to", "so that") is left out
WORDS = {
    "senses": r"see|seeing|hear|hearing|smell|taste|touch|sounds?|look(?:s|ing)?|bright|colou?rs?|quiet|noise|warm|"
    r"cool|soft|fresh|scent|light|sunlight|breathe|breathing",
    "reasons": r"because|since",
}


def word_tokens(tokenizer, objective: str) -> torch.Tensor:
    """The ids of the tokens that are one of the objective's words (with or without a leading space, any case)."""
    pattern = re.compile(rf"(?:{WORDS[objective]})", re.IGNORECASE)
    ids = [index for index in range(len(tokenizer)) if pattern.fullmatch(tokenizer.decode([index]).strip())]
    return torch.tensor(ids)


def measure(folder: Path, objective: str, prompts: int) -> dict:
    settings = RunSettings(**{**json.loads((folder / "settings.json").read_text()), "output_dir": str(folder)})
    run = Run(settings)
    base, tokenizer = run.base()
    metrics = json.loads((folder / "metrics.json").read_text())
    parm = PeftModel.from_pretrained(run._fresh_parm_base(), str(folder / "parm_adapter")).eval()
    scale_objective_strengths(parm, metrics["objective_strengths"])
    vertex = [1.0 if name == objective else 0.0 for name in settings.objective_names]
    sweep = json.loads((folder / "sweep.json").read_text())
    point = next(point for point in sweep["points"] if point["alpha"] == vertex)
    words = word_tokens(tokenizer, objective)
    totals = {"steps": 0, "base_mass": 0.0, "guided_mass": 0.0, "base_argmax": 0, "guided_argmax": 0}
    for prompt, answer in list(zip(sweep["prompts"], point["texts"], strict=True))[:prompts]:
        prompt_ids = tokenizer(chat_texts(tokenizer, [prompt]), return_tensors="pt", add_special_tokens=False)
        answer_ids = tokenizer(answer, return_tensors="pt", add_special_tokens=False)["input_ids"][0]
        guidance = PARMGuidance(
            parm, [vertex], beta=settings.guidance_beta, reference=run.guidance_reference(), tokenizer=tokenizer
        )
        ids = prompt_ids["input_ids"]
        for token in answer_ids:
            with torch.no_grad():
                scores = base(input_ids=ids).logits[:, -1, :]
                guided = torch.softmax(guidance(ids, scores.clone()), dim=-1)[0]
            plain = torch.softmax(scores.float(), dim=-1)[0]
            totals["steps"] += 1
            totals["base_mass"] += float(plain[words].sum())
            totals["guided_mass"] += float(guided[words].sum())
            totals["base_argmax"] += int(plain.argmax() in words)
            totals["guided_argmax"] += int(guided.argmax() in words)
            ids = torch.cat([ids, token.view(1, 1)], dim=1)
    steps = totals["steps"]
    return {
        "run": folder.name,
        "objective": objective,
        "word_tokens": len(words),
        "prompts": prompts,
        "steps": steps,
        "base_mass_per_step": totals["base_mass"] / steps,
        "guided_mass_per_step": totals["guided_mass"] / steps,
        "base_argmax_share": totals["base_argmax"] / steps,
        "guided_argmax_share": totals["guided_argmax"] / steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("objective", choices=sorted(WORDS))
    parser.add_argument("--prompts", type=int, default=16)
    arguments = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*found no transformers generate call.*")
    print(json.dumps(measure(arguments.folder, arguments.objective, arguments.prompts)))


if __name__ == "__main__":
    main()
