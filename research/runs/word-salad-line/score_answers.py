"""Per answer, what the base SmolLM2-135M-Instruct makes of it: mean negative log-likelihood per answer token
(nats), the share of its tokens at 10 nats or more, and the share of its words that repeat the word before them. For
every recorded run (runs.py): the sweep's answers at each objective's vertex and its unguided answers, the probe's
answers at each vertex and strength it tried and its unguided answers. One JSON line per group of answers.

    python score_answers.py > features.jsonl
"""

from __future__ import annotations

import json
import re

import torch
from runs import load_sweep, run_folders, run_name, vertices

from peft_pblora.data.chat import chat_texts
from peft_pblora.pipeline.model_loading import load_smollm2

RARE_TOKEN_NATS = 10.0


@torch.no_grad()
def token_nll(model, tokenizer, prompts: list[str], answers: list[str], batch_size: int = 8) -> list[list[float]]:
    """Per answer, each answer token's negative log-likelihood under the base after its prompt as a user turn."""
    rendered = chat_texts(tokenizer, prompts)
    rows = [
        (
            tokenizer(prompt, add_special_tokens=False)["input_ids"],
            tokenizer(answer, add_special_tokens=False)["input_ids"],
        )
        for prompt, answer in zip(rendered, answers, strict=True)
    ]
    values: list[list[float]] = [[] for _ in rows]
    scored = [index for index, (_, answer_ids) in enumerate(rows) if answer_ids]
    for start in range(0, len(scored), batch_size):
        batch = scored[start : start + batch_size]
        sequences = [rows[index][0] + rows[index][1] for index in batch]
        width = max(len(sequence) for sequence in sequences)
        ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = torch.tensor(sequence)
            mask[row, : len(sequence)] = 1
        log_probs = model(input_ids=ids, attention_mask=mask).logits.float().log_softmax(-1)
        for row, index in enumerate(batch):
            prompt_ids, answer_ids = rows[index]
            positions = torch.arange(len(prompt_ids) - 1, len(prompt_ids) + len(answer_ids) - 1)
            values[index] = (-log_probs[row, positions, torch.tensor(answer_ids)]).tolist()
    return values


def repeated_word_share(text: str) -> float | None:
    words = re.findall(r"[a-z']+", text.lower())
    if len(words) < 2:
        return None
    return sum(words[i] == words[i - 1] for i in range(1, len(words))) / len(words)


def group(model, tokenizer, prompts, answers, **where) -> dict:
    nll = token_nll(model, tokenizer, prompts, answers)
    return {
        **where,
        "nll": [sum(values) / len(values) if values else None for values in nll],
        "rare": [
            sum(value >= RARE_TOKEN_NATS for value in values) / len(values) if values else None for values in nll
        ],
        "repeated": [repeated_word_share(text) for text in answers],
        "tokens": [len(values) for values in nll],
    }


def main() -> None:
    torch.set_num_threads(2)
    model, tokenizer = load_smollm2()
    model.eval()
    for section, folder in run_folders():
        run = run_name(section, folder)
        sweep = load_sweep(folder)
        prompts = sweep["prompts"]
        out = [group(model, tokenizer, prompts, sweep["base"]["texts"], run=run, source="sweep", vertex="unguided")]
        for name, point in vertices(sweep):
            out.append(group(model, tokenizer, prompts, point["texts"], run=run, source="sweep", vertex=name))
        diagnosis = json.loads((folder / "diagnosis.json").read_text())
        probe_prompts = diagnosis["probe"]["prompts"]
        unguided = diagnosis["probe"].get("unguided")
        if unguided:
            out.append(
                group(model, tokenizer, probe_prompts, unguided["texts"], run=run, source="probe", vertex="unguided")
            )
        probed = diagnosis.get("probe_at_strength") or [{"strength": 1.0, "vertices": diagnosis["probe"]["vertices"]}]
        names = [item["objective"] for item in diagnosis["objectives"]]
        for entry in probed:
            for point in entry["vertices"]:
                name = names[point["alpha"].index(1.0)]
                out.append(
                    group(
                        model,
                        tokenizer,
                        probe_prompts,
                        point["texts"],
                        run=run,
                        source="probe",
                        vertex=name,
                        strength=entry["strength"],
                    )
                )
        for row in out:
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
