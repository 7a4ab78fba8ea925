"""Relabel a pair dataset with k reward models and split it: the data step of the paper's recipes.

    # PARM's official data: PKU-SafeRLHF-10K relabelled by the Beaver reward (helpful) and cost (harmless) models
    python recipes/relabel_pairs.py --source pku_saferlhf --output_dir data/pku10k \
        --scorer helpful=PKU-Alignment/beaver-7b-v1.0-reward \
        --scorer harmless=PKU-Alignment/beaver-7b-v1.0-cost:-1 \
        --splits train=8000 dev=500 test=1500 --seed 42

Writes a DatasetDict (`save_to_disk`) whose rows hold prompt, response_0, response_1 and, per objective,
`<name>_score_0/1` and `<name>_better_response_id`, plus `label_columns.json` for PARMConfig. A scorer is
NAME=MODEL[:SIGN[:LABEL_INDEX]] (SIGN -1 turns a cost into a reward; LABEL_INDEX picks a classifier's logit).
Beaver checkpoints need `pip install safe-rlhf`; any `AutoModelForSequenceClassification` works as is.
`--data_files` reads local JSON of the same schema (offline).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from datasets import Dataset
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from peft_pblora import SequenceClassifierScorer, load_hh_rlhf, load_pku_saferlhf
from peft_pblora.data.relabel import relabel_pairs, split_dataset

TEMPLATES = {"pku_saferlhf": "{prompt}{response}", "hh_rlhf": "{prompt} {response}"}


def load_score_model(name_or_path: str, dtype: torch.dtype) -> torch.nn.Module:
    """A reward/cost model: safe-rlhf's score models (Beaver) through safe-rlhf, others as sequence classifiers."""
    architectures = AutoConfig.from_pretrained(name_or_path).architectures or []
    if any(architecture.endswith("ForScore") for architecture in architectures):
        try:
            from safe_rlhf.models import AutoModelForScore
        except ImportError as error:
            raise SystemExit(f"{name_or_path} is a safe-rlhf score model: pip install safe-rlhf") from error
        return AutoModelForScore.from_pretrained(name_or_path, dtype=dtype)
    return AutoModelForSequenceClassification.from_pretrained(name_or_path, dtype=dtype)


def scorer_from_spec(spec: str, template: str, device: str, dtype: torch.dtype, batch_size: int):
    name, _, rest = spec.partition("=")
    model_name, _, rest = rest.partition(":")
    sign, _, label_index = rest.partition(":")
    if not name or not model_name:
        raise SystemExit(f"--scorer takes NAME=MODEL[:SIGN[:LABEL_INDEX]], got {spec!r}")
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_score_model(model_name, dtype).to(device)
    return SequenceClassifierScorer(
        model, tokenizer, name=name, template=template, label_index=int(label_index or 0), sign=float(sign or 1.0),
        batch_size=batch_size,
    )  # fmt: skip


def load_pairs(source: str, data_files: list[str] | None, hh_subset: str) -> Dataset:
    if source == "pku_saferlhf":
        dataset, _ = load_pku_saferlhf(data_files=data_files)
        return dataset.select_columns(["prompt", "response_0", "response_1"])
    files = {hh_subset: data_files} if data_files else None
    pairs = load_hh_rlhf(objectives=[hh_subset], data_files=files)[hh_subset]
    return pairs.rename_columns({"chosen": "response_0", "rejected": "response_1"})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=sorted(TEMPLATES), required=True)
    parser.add_argument(
        "--scorer", action="append", required=True, help="NAME=MODEL[:SIGN[:LABEL_INDEX]], once per objective"
    )
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--splits", nargs="+", default=["train=8000", "dev=500", "test=1500"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data_files", nargs="+", default=None, help="local JSON instead of the hub dataset")
    parser.add_argument("--hh_subset", default="helpful", help="HH-RLHF subset: helpful, harmless, ...")
    parser.add_argument("--template", default=None, help="how a scorer sees a pair; default per source")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16")
    args = parser.parse_args(argv)
    sizes = {}
    for split in args.splits:
        split_name, _, size = split.partition("=")
        if not size.isdigit():
            raise SystemExit(f"--splits takes NAME=SIZE, got {split!r}")
        sizes[split_name] = int(size)
    template = args.template or TEMPLATES[args.source]
    dtype = getattr(torch, args.dtype)
    scorers = [scorer_from_spec(spec, template, args.device, dtype, args.batch_size) for spec in args.scorer]
    pairs = load_pairs(args.source, args.data_files, args.hh_subset)
    relabelled, label_columns = relabel_pairs(pairs, scorers)
    splits = split_dataset(relabelled, sizes, seed=args.seed)
    splits.save_to_disk(str(args.output_dir))
    (args.output_dir / "label_columns.json").write_text(json.dumps(label_columns, indent=2))
    agreement = {
        name: {split: sum(splits[split][column]) / len(splits[split]) for split in splits}
        for name, column in label_columns.items()
    }
    print(f"wrote {dict((name, len(split)) for name, split in splits.items())} to {args.output_dir}")
    print(f"label_columns: {label_columns}; share of pairs where response_1 is better: {agreement}")


if __name__ == "__main__":
    main()
