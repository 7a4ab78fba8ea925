"""Where a trained PARM puts its reward for an objective written in words: per token of its training pairs, the
PARM's log-probability at the objective's vertex minus the frozen base's (the summed log-ratio reward, before
beta_r), split between the tokens of the objective's words (any token overlapping a match of its scorer's pattern)
and all other tokens; the same at the other objective's vertex, and on the unguided model's answers to the run's
held-out test prompts (what guidance meets). A reward that rises on the words themselves can steer decoding towards
them; a margin carried by other tokens tells the pairs apart without favouring the feature.

    PYTHONPATH=<the steering benchmark's objective folders> \
python research/runs/margin-by-word/margin_by_word.py RUN_FOLDER OBJECTIVE

With `--first N`, only the first N pairs (a run's made pairs come before any it added); with `--after N`, the
others. The run folder needs its adapter (`parm_adapter/`), its pairs (`preference_data/`) and its sweep. Output:
one JSON line; `margins.jsonl` here holds the lines research log sections 68 and 69 cite.
"""

from __future__ import annotations

import argparse
import json
import re
import warnings
from pathlib import Path

import torch
from datasets import load_from_disk
from late_objectives import CAUTION
from later_objectives import INTENSIFIER, SENSES
from new_objectives import COMPARISON, REASON
from peft import PeftModel
from third_objectives import EXAMPLE

from peft_pblora.pipeline import Run, RunSettings
from peft_pblora.trainer.preference_data import PreferenceTokenizer

PATTERNS: dict[str, re.Pattern] = {
    "senses": SENSES,
    "intensifiers": INTENSIFIER,
    "reasons": REASON,
    "comparisons": COMPARISON,
    "caution": CAUTION,
    "examples": EXAMPLE,
}


def word_mask(tokenizer, answer: str, pattern: re.Pattern, length: int) -> torch.Tensor:
    """True for each answer token (as training tokenizes it, EOS last) whose characters overlap a match."""
    spans = [match.span() for match in pattern.finditer(answer)]
    offsets = tokenizer(answer, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    mask = [any(start < end_ and begin < end for begin, end_ in spans) for start, end in offsets]
    return torch.tensor((mask + [False] * length)[:length])


def answer_log_probs(model, prompt: list[int], answer: list[int]) -> torch.Tensor:
    """Per answer token, its log-probability under `model` after the prompt and the answer's tokens before it."""
    ids = torch.tensor([prompt + answer])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float()
    return torch.log_softmax(logits, dim=-1).gather(1, ids[0, len(prompt) :, None])[:, 0]


def parm_log_probs(parm, prompt: list[int], answer: list[int], alpha: list[float]) -> torch.Tensor:
    """`answer_log_probs` under the PARM at preference `alpha`."""
    parm.base_model.set_preference(alpha)
    return answer_log_probs(parm, prompt, answer)


def base_log_probs(parm, prompt: list[int], answer: list[int]) -> torch.Tensor:
    """`answer_log_probs` under the frozen base (the PARM with its adapter disabled)."""
    with parm.disable_adapter():
        return answer_log_probs(parm, prompt, answer)


def split(ratios: torch.Tensor, mask: torch.Tensor) -> tuple[float, float, int]:
    """(sum over the objective's word tokens, sum over the other tokens, number of word tokens)."""
    return float(ratios[mask].sum()), float(ratios[~mask].sum()), int(mask.sum())


def measure(folder: Path, objective: str, first: int | None = None, after: int | None = None) -> dict:
    settings = RunSettings(**{**json.loads((folder / "settings.json").read_text()), "output_dir": str(folder)})
    run = Run(settings)
    _, tokenizer = run.base()
    parm = PeftModel.from_pretrained(run._fresh_parm_base(), str(folder / "parm_adapter")).eval()
    names = settings.objective_names
    vertices = {
        "own": [1.0 if name == objective else 0.0 for name in names],
        "other": [0.0 if name == objective else 1.0 for name in names],
    }
    pattern = PATTERNS[objective]
    pairs = load_from_disk(str(folder / "preference_data"))[objective]
    pairs = pairs.select(range(min(first, len(pairs)))) if first else pairs
    pairs = pairs.select(range(after, len(pairs))) if after else pairs
    rendering = PreferenceTokenizer(tokenizer, None, None)
    answers = []  # (side, prompt ids, answer ids, word mask, the base's log-probabilities): tokenized and scored once
    for row in pairs:
        prompt, chosen, rejected = rendering.pair_ids(row, ("prompt", "chosen", "rejected"), "pairs")
        for side, answer_ids in (("chosen", chosen), ("rejected", rejected)):
            mask = word_mask(tokenizer, row[side], pattern, len(answer_ids))
            answers.append((side, prompt, answer_ids, mask, base_log_probs(parm, prompt, answer_ids)))
    result: dict = {"run": folder.name, "objective": objective, "pairs": len(pairs)}
    for label, alpha in vertices.items():
        totals = {"chosen_words": 0.0, "chosen_rest": 0.0, "rejected_words": 0.0, "rejected_rest": 0.0}
        word_tokens = other_tokens = 0
        for side, prompt, answer_ids, mask, base in answers:
            words, rest, count = split(parm_log_probs(parm, prompt, answer_ids, alpha) - base, mask)
            totals[f"{side}_words"] += words
            totals[f"{side}_rest"] += rest
            word_tokens += count
            other_tokens += len(answer_ids) - count
        margin_words = (totals["chosen_words"] - totals["rejected_words"]) / len(pairs)
        margin_rest = (totals["chosen_rest"] - totals["rejected_rest"]) / len(pairs)
        result[label] = {
            "margin_per_pair": margin_words + margin_rest,
            "margin_on_words": margin_words,
            "margin_on_other_tokens": margin_rest,
            "mean_ratio_on_words": (totals["chosen_words"] + totals["rejected_words"]) / max(word_tokens, 1),
            "mean_ratio_on_other_tokens": (totals["chosen_rest"] + totals["rejected_rest"]) / max(other_tokens, 1),
            "word_tokens": word_tokens,
        }
    sweep = json.loads((folder / "sweep.json").read_text())
    held_out = {"words": 0.0, "rest": 0.0, "word_tokens": 0, "other_tokens": 0}
    for prompt_text, answer in zip(sweep["prompts"], sweep["base"]["texts"], strict=True):
        if not answer.strip():
            continue
        prompt, answer_ids = rendering.answer_ids(prompt_text, answer, "held-out")
        ratios = parm_log_probs(parm, prompt, answer_ids, vertices["own"]) - base_log_probs(parm, prompt, answer_ids)
        mask = word_mask(tokenizer, answer, pattern, len(answer_ids))
        words, rest, count = split(ratios, mask)
        held_out["words"] += words
        held_out["rest"] += rest
        held_out["word_tokens"] += count
        held_out["other_tokens"] += len(answer_ids) - count
    result["held_out_unguided_answers"] = {
        "mean_ratio_on_words": held_out["words"] / max(held_out["word_tokens"], 1),
        "mean_ratio_on_other_tokens": held_out["rest"] / max(held_out["other_tokens"], 1),
        "word_tokens": held_out["word_tokens"],
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("objective", choices=sorted(PATTERNS))
    parser.add_argument(
        "--first", type=int, help="only the first pairs: the best-against-worst ones, added pairs left out"
    )
    parser.add_argument("--after", type=int, help="only the pairs after the first N: the added ones")
    arguments = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*found no transformers generate call.*")
    print(json.dumps(measure(arguments.folder, arguments.objective, arguments.first, arguments.after)))


if __name__ == "__main__":
    main()
