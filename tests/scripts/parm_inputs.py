"""Inputs of the launch-script tests: a tiny model folder, preference data files and a YAML config."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..conftest import disagreeing_datasets, tiny_llama, tiny_tokenizer


def write_model(folder: Path) -> Path:
    """tiny_llama(seed=1) and tiny_tokenizer saved as a model folder, as the hub would serve them."""
    tiny_llama(seed=1).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


def write_objective_files(folder: Path, rows: int = 8, test_rows: int = 0) -> dict[str, str]:
    """One folder per objective of disagreeing_datasets with train.jsonl (and test.jsonl); objective -> folder."""
    sources = {}
    for split, count, seed in (("train", rows, 0), ("test", test_rows, 1)):
        if count == 0:
            continue
        for name, data in disagreeing_datasets(rows=count, seed=seed).items():
            (folder / name).mkdir(parents=True, exist_ok=True)
            data.to_json(folder / name / f"{split}.jsonl")
            sources[name] = str(folder / name)
    return sources


def small_run_settings(model: Path, output_dir: Path, **overrides) -> dict:
    """Script settings for a few CPU steps of PBLoRA r1 = r2 = 2 on q/v."""
    settings = {
        "model_name_or_path": str(model), "output_dir": str(output_dir), "r1": 2, "r2": 2,
        "lora_target_modules": ["q_proj", "v_proj"], "lora_alpha": 2, "lora_dropout": 0.0, "max_steps": 3,
        "per_device_train_batch_size": 2, "learning_rate": 1e-2, "beta_r": [0.5], "max_length": 32,
        "activation_checkpointing": False, "use_cpu": True, "bf16": False, "report_to": "none",
        "save_strategy": "no", "seed": 5, "dataloader_num_workers": 0,
    }  # fmt: skip
    settings.update(overrides)
    return settings


def write_config(path: Path, settings: dict) -> Path:
    path.write_text(yaml.safe_dump(settings))
    return path
