"""Train a PARM on a relabelled multi-label pair dataset (the output of relabel_pairs.py), as a TRL script.

    python recipes/train_parm.py recipes/pku_saferlhf/train.yaml                      # one GPU
    accelerate launch --config_file recipes/accelerate/zero2.yaml \
        recipes/train_parm.py recipes/pku_saferlhf/train.yaml                         # several
    python recipes/train_parm.py --model_name_or_path M --dataset_dir D --output_dir O  # flags instead of YAML

Settings are `RecipeArguments` (model, data, PBLoRA, 4-bit base) plus every `PARMConfig` field, from one YAML file
or from flags. `label_columns` default to the dataset's `label_columns.json`. With `load_in_4bit` the frozen base is
loaded in 4-bit NF4 (QLoRA, as the official run; needs a CUDA GPU and bitsandbytes) while the PBLoRA weights train
in full precision; such an adapter is used unmerged (merging into a 4-bit layer is refused).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import load_from_disk
from transformers import AutoModelForCausalLM, AutoTokenizer, HfArgumentParser

from peft_pblora import PARMConfig, PARMTrainer, PBLoraConfig


@dataclass
class RecipeArguments:
    model_name_or_path: str = field(metadata={"help": "The PARM's starting model (id or path)."})
    dataset_dir: str = field(metadata={"help": "A DatasetDict saved by relabel_pairs.py (train, dev, test)."})
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    eval_split: str | None = field(default="dev", metadata={"help": "Split for evaluate(); None: no evaluation."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep only the first N training pairs."})
    r1: int = field(default=4, metadata={"help": "PBLoRA preference-agnostic rank (the paper: 4)."})
    r2: int = field(default=4, metadata={"help": "PBLoRA preference-aware rank (the paper: 4)."})
    lora_alpha: float = field(default=8.0, metadata={"help": "PBLoRA scaling numerator."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the adapter path."})
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], metadata={"help": "Modules to adapt."}
    )
    load_in_4bit: bool = field(default=False, metadata={"help": "Load the frozen base in 4-bit NF4 (QLoRA)."})
    dtype: str = field(default="bfloat16", metadata={"help": "dtype of the base: bfloat16, float16 or float32."})


def parse(argv: list[str]) -> tuple[RecipeArguments, PARMConfig]:
    parser = HfArgumentParser((RecipeArguments, PARMConfig))
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        return parser.parse_yaml_file(argv[0])
    return parser.parse_args_into_dataclasses(argv)


def load_base(recipe: RecipeArguments):
    dtype = getattr(torch, recipe.dtype)
    quantization = None
    if recipe.load_in_4bit:
        from transformers import BitsAndBytesConfig

        quantization = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True
        )
    return AutoModelForCausalLM.from_pretrained(
        recipe.model_name_or_path, dtype=dtype, quantization_config=quantization
    )


def main(argv: list[str] | None = None) -> None:
    recipe, args = parse(sys.argv[1:] if argv is None else argv)
    splits = load_from_disk(recipe.dataset_dir)
    if args.label_columns is None:
        args.label_columns = json.loads((Path(recipe.dataset_dir) / "label_columns.json").read_text())
    train = splits[recipe.train_split]
    if recipe.max_train_samples:
        train = train.select(range(min(recipe.max_train_samples, len(train))))
    tokenizer = AutoTokenizer.from_pretrained(recipe.model_name_or_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    peft_config = PBLoraConfig(
        r1=recipe.r1, r2=recipe.r2, num_preferences=len(args.label_columns), lora_alpha=recipe.lora_alpha,
        lora_dropout=recipe.lora_dropout, target_modules=recipe.target_modules, task_type="CAUSAL_LM",
    )  # fmt: skip
    trainer = PARMTrainer(
        model=load_base(recipe),
        args=args,
        train_dataset=train,
        eval_dataset=splits[recipe.eval_split] if recipe.eval_split in splits else None,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    trainer.train()
    trainer.save_model(args.output_dir)
    if trainer.eval_dataset is not None:
        print(json.dumps(trainer.evaluate(), indent=2))


if __name__ == "__main__":
    main()
