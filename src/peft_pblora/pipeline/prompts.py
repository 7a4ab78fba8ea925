"""The run's prompts and the answers shipped for them: the built-in prompts, their seeded train / test split, and
the shipped SmolLM2 candidates that spare the default run its sampling."""

from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path

from .settings import RunSettings


def builtin_prompts() -> list[str]:
    """The project's 340 varied user requests (advice, explanations, encouragement, everyday how-tos)."""
    text = resources.files("peft_pblora").joinpath("data/prompts.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def split_prompts(settings: RunSettings) -> tuple[list[str], list[str]]:
    """A seeded split of the built-in prompts into train and held-out test prompts."""
    prompts = builtin_prompts()
    if settings.train_prompts + settings.test_prompts > len(prompts):
        raise ValueError(f"only {len(prompts)} prompts are shipped")
    random.Random(settings.seed).shuffle(prompts)
    return prompts[: settings.train_prompts], prompts[len(prompts) - settings.test_prompts :]


def shipped_candidates_dir() -> Path:
    """The sampled, scored answers of SmolLM2-135M-Instruct for the default train prompts, shipped with the package.

    Sampling them takes about 6.5 minutes on 2 CPU cores, a third of the default run's budget; `generation.json`
    next to them records the settings that produced them and the command that regenerates them.
    """
    return Path(str(resources.files("peft_pblora").joinpath("data/smollm2_candidates")))


def shipped_candidates_fit(settings: RunSettings) -> bool:
    """Whether the shipped candidates hold what sampling with these settings would produce (any objectives: cached
    answers are scored again by the run's scorers). A run without system prompts uses their plain answers only."""
    generation_path = shipped_candidates_dir() / "generation.json"
    if not generation_path.is_file():
        return False
    generation = json.loads(generation_path.read_text())
    keys = ("base_model", "train_prompts", "samples_per_prompt", "sample_tokens", "sentence_variants", "seed")
    system_prompts_fit = settings.sampling_system_prompts in ([], generation.get("sampling_system_prompts", []))
    return system_prompts_fit and all(generation.get(key) == getattr(settings, key) for key in keys)
