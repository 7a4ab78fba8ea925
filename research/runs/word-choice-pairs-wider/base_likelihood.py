"""How far guided answers leave the frozen base's language: the base's mean negative log-likelihood per answer token
(nats, `peft_pblora.answer_nll`; sweeps made since record it), each answer after its prompt as the sweep rendered it,
at the two vertices of two sweeps of a run (a runs table's two columns) and for the unguided answers, on the first
--prompts test prompts (a forward of the 135M base takes about a second an answer on one shared core).

The sweep's quality columns count empty and repetitive answers, not word salad ("Safety risks safety professional
confirm"), which scores high on a word-counting objective and which the base finds unlikely token by token.

    python base_likelihood.py --runs runs.tsv --labels without "word choices" > base_likelihood.md
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import torch

from peft_pblora.evaluation import answer_nll, mean_nll
from peft_pblora.pipeline.model_loading import load_smollm2


def load_sweep(folder: Path) -> dict:
    """A run folder's sweep record, gzipped or not."""
    packed = folder / "sweep.json.gz"
    return json.load(gzip.open(packed)) if packed.exists() else json.loads((folder / "sweep.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, required=True, help="a runs table: first folder, second folder")
    parser.add_argument("--labels", nargs=2, default=["first", "second"])
    parser.add_argument("--prompts", type=int, default=16, help="the first this many test prompts of each sweep")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tokenizer = load_smollm2()
    model.eval()
    rows = [line.split() for line in args.runs.read_text().splitlines() if line.strip() and not line.startswith("#")]
    print("Mean negative log-likelihood per answer token under the frozen base (nats) at the first objective's")
    print(f"vertex, then the second's, on the first {args.prompts} test prompts; the unguided answers' last.\n")
    print(f"| run | {args.labels[0]} | {args.labels[1]} | unguided |")
    print("|---|---|---|---|")
    for first, second in rows:
        cells, unguided = [], None
        for folder in (first, second):
            sweep = load_sweep(args.runs.parent / folder)
            prompts = sweep["prompts"][: args.prompts]
            vertices = (sweep["points"][0], sweep["points"][-1])
            by_alpha = [
                mean_nll(answer_nll(model, tokenizer, prompts, point["texts"][: args.prompts])) for point in vertices
            ]
            cells.append(" ".join(f"{value:.2f}" for value in by_alpha))
            if unguided is None:
                unguided = mean_nll(answer_nll(model, tokenizer, prompts, sweep["base"]["texts"][: args.prompts]))
        print(f"| {Path(second).name} | {cells[0]} | {cells[1]} | {unguided:.2f} |", flush=True)


if __name__ == "__main__":
    main()
