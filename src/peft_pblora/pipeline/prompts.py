"""The run's prompts and the answers shipped for them: the built-in prompts, their seeded train / test split, and
the shipped SmolLM2 candidates that spare the default run its sampling."""

from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # settings imports this module
    from .settings import RunSettings


def builtin_prompts() -> list[str]:
    """The project's 340 varied user requests (advice, explanations, encouragement, everyday how-tos)."""
    text = resources.files("peft_pblora").joinpath("data/prompts.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def prompt_pool(settings: RunSettings) -> list[str]:
    """The prompts a run draws its train and test prompts from: its own (`--prompts`) or the built-in ones."""
    return list(settings.own_prompts) if settings.own_prompts is not None else builtin_prompts()


def split_prompts(settings: RunSettings) -> tuple[list[str], list[str]]:
    """A seeded split of the prompts (`--prompts` or the built-in ones) into train and held-out test prompts. With
    the user's preference pairs (`--preference_pairs`), the train prompts are the pairs' prompts and the test prompts
    are drawn from the prompts no pair uses."""
    prompts = prompt_pool(settings)
    source = f"--prompts {settings.prompts}" if settings.prompts else "the built-in prompts"
    pairs = settings.own_preference_pairs
    if pairs is not None:
        train = list(dict.fromkeys(prompt for data in pairs.values() for prompt in data["prompt"]))
        paired = set(train)
        prompts = [prompt for prompt in prompts if prompt not in paired]
        if settings.test_prompts > len(prompts):
            raise ValueError(
                f"{source} hold {len(prompts)} prompts that no preference pair uses, fewer than test_prompts "
                f"({settings.test_prompts})"
            )
        random.Random(settings.seed).shuffle(prompts)
        return train, prompts[len(prompts) - settings.test_prompts :]
    if settings.train_prompts + settings.test_prompts > len(prompts):
        raise ValueError(
            f"{source} hold {len(prompts)} prompts, fewer than train_prompts + test_prompts "
            f"({settings.train_prompts} + {settings.test_prompts})"
        )
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
    answers are scored again by the run's scorers). A run without system prompts uses their plain answers only. They
    never fit the user's own prompts or pairs (`--prompts`, `--preference_pairs`)."""
    if settings.prompts or settings.preference_pairs:
        return False
    generation_path = shipped_candidates_dir() / "generation.json"
    if not generation_path.is_file():
        return False
    generation = json.loads(generation_path.read_text())
    keys = ("base_model", "train_prompts", "samples_per_prompt", "sample_tokens", "sentence_variants", "seed")
    system_prompts_fit = settings.sampling_system_prompts in ([], generation.get("sampling_system_prompts", []))
    return system_prompts_fit and all(generation.get(key) == getattr(settings, key) for key in keys)
