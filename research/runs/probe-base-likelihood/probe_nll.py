"""Whether the guided probe, before the sweep, sees the word salad the sweep makes: the frozen base's mean negative
log-likelihood per answer token (`peft_pblora.answer_nll`) of the probe's answers at each vertex, at every strength
it probed, against the base's own greedy answers to the probe prompts (as many new tokens as the sweep), and the
sweep's vertices on its first --prompts test prompts. One JSON line per run folder.

    python probe_nll.py FOLDER [FOLDER ...] > records.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import torch

from peft_pblora.data.chat import chat_texts, left_padding
from peft_pblora.evaluation import answer_nll, mean_nll
from peft_pblora.pipeline.model_loading import load_smollm2


def load_sweep(folder: Path) -> dict:
    """A run folder's sweep record, gzipped or not."""
    packed = folder / "sweep.json.gz"
    return json.load(gzip.open(packed)) if packed.exists() else json.loads((folder / "sweep.json").read_text())


def greedy_answers(model, tokenizer, prompts: list[str], new_tokens: int) -> list[str]:
    """The base's own greedy answers, prompts rendered as the run's decoding renders them."""
    with left_padding(tokenizer):
        rendered = chat_texts(tokenizer, prompts)
        encoded = tokenizer(rendered, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            generated = model.generate(
                **encoded, do_sample=False, max_new_tokens=new_tokens, pad_token_id=tokenizer.pad_token_id
            )
    new_tokens_only = generated[:, encoded["input_ids"].shape[1] :]
    return [tokenizer.decode(row, skip_special_tokens=True).strip() for row in new_tokens_only]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--prompts", type=int, default=16, help="the first this many test prompts of each sweep")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tokenizer = load_smollm2()
    model.eval()
    unguided_by_prompts: dict[tuple, float] = {}
    for folder in args.folders:
        diagnosis = json.loads((folder / "diagnosis.json").read_text())
        settings = json.loads((folder / "settings.json").read_text())
        prompts = diagnosis["probe"]["prompts"]
        key = (tuple(prompts), settings["sweep_tokens"])
        if key not in unguided_by_prompts:
            answers = greedy_answers(model, tokenizer, prompts, settings["sweep_tokens"])
            unguided_by_prompts[key] = mean_nll(answer_nll(model, tokenizer, prompts, answers))
        probed = diagnosis.get("probe_at_strength") or [{"strength": 1.0, "vertices": diagnosis["probe"]["vertices"]}]
        probe_alphas = [point["alpha"] for point in probed[0]["vertices"]]
        probe = {
            str(entry["strength"]): [
                mean_nll(answer_nll(model, tokenizer, prompts, point["texts"])) for point in entry["vertices"]
            ]
            for entry in probed
        }
        sweep = load_sweep(folder)
        test_prompts = sweep["prompts"][: args.prompts]
        sweep_nll = [
            mean_nll(answer_nll(model, tokenizer, test_prompts, point["texts"][: args.prompts]))
            for point in (sweep["points"][0], sweep["points"][-1])
        ]
        record = {
            "folder": str(folder),
            "objectives": diagnosis_objectives(diagnosis),
            "objective_strengths": diagnosis.get("objective_strengths"),
            "probe_unguided": unguided_by_prompts[key],
            "probe_vertex_alphas": probe_alphas,
            "probe_at_strength": probe,
            "sweep_vertex_alphas": [sweep["points"][0]["alpha"], sweep["points"][-1]["alpha"]],
            "sweep_vertices": sweep_nll,
        }
        print(json.dumps(record), flush=True)


def diagnosis_objectives(diagnosis: dict) -> list[str]:
    return [item["objective"] for item in diagnosis["objectives"]]


if __name__ == "__main__":
    main()
