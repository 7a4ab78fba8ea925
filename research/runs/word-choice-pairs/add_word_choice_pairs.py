"""Pairs that differ by one word, for the research log's section 69: per answer of an objective's pairs, the word
whose removal lowers the objective's score most (found with its own scorer, one call per word), and a pair of the
answer's beginning up to that word against the same beginning followed by the token the frozen base would write
there instead (its most likely of the ten most likely next tokens whose text lowers the score). The two share every
token but the last, so the reward's margin can only come from the word, and the alternative is a fluent one, so the
margin cannot be won by lowering a token the base never writes.

    PYTHONPATH=<the steering benchmark's objective folders> \
python research/runs/word-choice-pairs/add_word_choice_pairs.py RUN_FOLDER

`--weight W` gives each added pair the loss weight W and every other pair 1 (the trainer's `weight` column: a pair
of weight W counts as W pairs; research log section 70); without it no weight column is written (section 69).

Adds the pairs to every objective of the run folder's cached pairs (`preference_data/`) but the length- and
score-matched ones, in place: the training stage's fingerprint holds the pairs, so the next benchmark run on the
folder trains again on them. A prototype, written to test the idea before the library builds it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import torch
from datasets import Dataset, DatasetDict, load_from_disk

from peft_pblora.data.added_pairs import with_added_pairs
from peft_pblora.pipeline import Run, RunSettings
from peft_pblora.trainer.preference_data import PreferenceTokenizer

WORD = re.compile(r"\S+")
ALTERNATIVES = 10


def removals(answer: str) -> list[tuple[int, int, str]]:
    """(start, end, the answer without that word and the white space before it) for each word but the first."""
    spans = [match.span() for match in WORD.finditer(answer)]
    return [
        (start, end, answer[: spans[index - 1][1]] + answer[end:])
        for index, (start, end) in enumerate(spans)
        if index > 0
    ]


def next_token_ranking(model, tokenizer, rendering: PreferenceTokenizer, prompt: str, prefix: str) -> list[int]:
    """The base's most likely next tokens after `prompt` and `prefix`, rendered as training renders a pair."""
    prompt_ids, answer_ids = rendering.answer_ids(prompt, prefix, "word choice")
    ids = torch.tensor([prompt_ids + answer_ids[:-1]])  # the EOS training appends left out
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, -1]
    return logits.topk(ALTERNATIVES).indices.tolist()


def word_choice_rows(pairs: Dataset, scorer, model, tokenizer, weight: float | None) -> dict[str, list]:
    rendering = PreferenceTokenizer(tokenizer, None, None)
    answers: dict[tuple[str, str], None] = {}
    for prompt, chosen, rejected in zip(pairs["prompt"], pairs["chosen"], pairs["rejected"], strict=True):
        answers.update(dict.fromkeys(((prompt, chosen), (prompt, rejected))))
    rows: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "score_gap": []}
    if weight is not None:
        rows["weight"] = []
    for prompt, answer in answers:
        cuts = removals(answer)
        if not cuts:
            continue
        whole = scorer([prompt], [answer])[0]
        dropped = scorer([prompt] * len(cuts), [removal for _, _, removal in cuts])
        drop, (start, end, _) = max(zip((whole - score for score in dropped), cuts, strict=True), key=lambda x: x[0])
        if drop <= 0:
            continue
        prefix = answer[:start].rstrip()
        with_word = answer[:end]
        word_ids = tokenizer(with_word[len(prefix) :], add_special_tokens=False)["input_ids"]
        target = scorer([prompt], [with_word])[0]
        for token in next_token_ranking(model, tokenizer, rendering, prompt, prefix):
            if word_ids and token == word_ids[0]:
                continue
            alternative = prefix + tokenizer.decode([token])
            if not alternative.strip() or scorer([prompt], [alternative])[0] >= target:
                continue
            rows["prompt"].append(prompt)
            rows["chosen"].append(with_word)
            rows["rejected"].append(alternative)
            rows["score_gap"].append(float(drop))
            if weight is not None:
                rows["weight"].append(weight)
            break
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--weight", type=float, default=None, help="each added pair's loss weight (others: 1)")
    arguments = parser.parse_args()
    folder = arguments.folder
    settings = RunSettings(**{**json.loads((folder / "settings.json").read_text()), "output_dir": str(folder)})
    run = Run(settings)
    model, tokenizer = run.base()
    data = load_from_disk(str(folder / "preference_data"))
    if arguments.weight is not None:
        data = DatasetDict({name: pairs.add_column("weight", [1.0] * len(pairs)) for name, pairs in data.items()})
    pairing = json.loads((folder / "preference_data" / "pairing.json").read_text())
    matched = set(settings.length_matched or []) | set(pairing.get("score_matched") or [])
    extended = with_added_pairs(
        data,
        settings.make_scorers(),
        lambda pairs, scorer: word_choice_rows(pairs, scorer, model, tokenizer, arguments.weight),
        "the word-choice pairs",
        matched,
    )
    added = {name: len(extended[name]) - len(data[name]) for name in data}
    target = folder / "preference_data.with_word_choices"
    extended.save_to_disk(str(target))  # not over the folder its pairs are read from
    for name in extended:  # swap each objective's folder in, keeping the candidates and the pairing record
        old = folder / "preference_data" / name
        for path in old.iterdir():
            path.unlink()
        for path in (target / name).iterdir():
            path.rename(old / path.name)
    shutil.rmtree(target)
    pairing["word_choice_pairs_added"] = added
    if arguments.weight is not None:
        pairing["word_choice_pair_weight"] = arguments.weight
    (folder / "preference_data" / "pairing.json").write_text(json.dumps(pairing, indent=2))
    print(json.dumps({"folder": str(folder), "word_choice_pairs_added": added}))


if __name__ == "__main__":
    main()
