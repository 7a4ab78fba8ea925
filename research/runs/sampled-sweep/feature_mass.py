"""How much of the guided next-token distribution lies on an objective's words, against how often one of them is its
argmax: along the greedy answers at the objective's own vertex (teacher-forced), the base's and the guided mass on
single-token words of the objective, the share of steps where such a word is the argmax of each, the guided minus the
base log-probability of those words (their mean over the words and the steps) and the prompts where the guidance
raises their mass. Guidance that raises that mass without making one of the words the argmax moves sampled answers
and not greedy ones.

    PYTHONPATH=<the steering benchmark's objective folders> \
python research/runs/sampled-sweep/feature_mass.py RUN_FOLDER OBJECTIVE [--prompts 16]

The run folder needs its adapter (`parm_adapter/`) and its sweep; the folders kept under research/runs have neither.
`feature-mass.jsonl` here holds its output for senses at seeds 1 and 2, reasons at seeds 0-2 and intensifiers at
seed 0 (8 prompts each), which research log section 65 cites.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import torch
from later_objectives import INTENSIFIER, SENSES
from new_objectives import REASON
from peft import PeftModel

from peft_pblora.data.chat import chat_texts
from peft_pblora.guidance.processors import PARMGuidance
from peft_pblora.pipeline import Run, RunSettings
from peft_pblora.tuners.pblora.strengths import scale_objective_strengths

# each objective's scorer's words; a token counts where it is one of them whole (a phrase such as "due to" is left out)
WORDS = {"senses": SENSES, "reasons": REASON, "intensifiers": INTENSIFIER}


def word_tokens(tokenizer, objective: str) -> torch.Tensor:
    """The ids of the tokens that are one of the objective's words (with or without a leading space, any case)."""
    pattern = WORDS[objective]
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
    totals = {"steps": 0, "base_mass": 0.0, "guided_mass": 0.0, "base_argmax": 0, "guided_argmax": 0, "lift": 0.0}
    rises = 0
    for prompt, answer in list(zip(sweep["prompts"], point["texts"], strict=True))[:prompts]:
        prompt_ids = tokenizer(chat_texts(tokenizer, [prompt]), return_tensors="pt", add_special_tokens=False)
        answer_ids = tokenizer(answer, return_tensors="pt", add_special_tokens=False)["input_ids"][0]
        guidance = PARMGuidance(
            parm, [vertex], beta=settings.guidance_beta, reference=run.guidance_reference(), tokenizer=tokenizer
        )
        ids = prompt_ids["input_ids"]
        masses = [0.0, 0.0]
        for token in answer_ids:
            with torch.no_grad():
                scores = base(input_ids=ids).logits[:, -1, :]
                guided = torch.softmax(guidance(ids, scores.clone()), dim=-1)[0]
            plain = torch.softmax(scores.float(), dim=-1)[0]
            totals["steps"] += 1
            masses[0] += float(plain[words].sum())
            masses[1] += float(guided[words].sum())
            totals["lift"] += float((guided[words].log() - plain[words].log()).mean())
            totals["base_argmax"] += int(plain.argmax() in words)
            totals["guided_argmax"] += int(guided.argmax() in words)
            ids = torch.cat([ids, token.view(1, 1)], dim=1)
        totals["base_mass"] += masses[0]
        totals["guided_mass"] += masses[1]
        rises += masses[1] > masses[0]
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
        "mean_log_ratio_on_words": totals["lift"] / steps,
        "prompts_where_guided_mass_rises": rises,
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
