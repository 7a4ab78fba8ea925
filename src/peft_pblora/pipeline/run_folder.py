"""A run folder's settings.json (the settings the folder was last run with), its atomic writes and its removals."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..data.word_choice_pairs import WORD_CHOICE_PAIR_WEIGHT
from .settings import RunSettings

RESULT_NEUTRAL_SETTINGS = ("show_progress", "device", "sample_batch_size", "sweep_batch_size", "stop_on_flags")
RETRAINING_SETTINGS = (
    "epochs_if_not_learned",
    "retrain_only_not_learned",
)  # read by retraining.recorded_retraining, fingerprinted by no stage
FOLDER_SETTINGS = ("output_dir",)  # where a run folder is: a moved or renamed folder continues as it was made
# settings added after run folders were made, with the value those folders were made with
LEGACY_SETTINGS = {
    "held_out_pair_share": 0.0,
    "guide_by_log_ratio": False,
    "train_in_chat_format": False,
    "guidance_plausibility": None,
    "loss_type": "sigmoid",
    "weaker_objective_strengths": [],
    "stronger_objective_strengths": [],
    "fixed_objective_strengths": [],
    "non_answer_pairs": False,
    "sentence_edit_pairs": False,
    "word_choice_pairs": False,
    "word_choice_pair_weight": WORD_CHOICE_PAIR_WEIGHT,
    "word_choice_pairs_unfinished": False,
    "word_choice_weight_share": None,
    "empty_answer_check_prompts": 0,
    "min_train_steps": None,
    "more_samples_if_few_pairs": 0,
    "sweep_decoding": "greedy",
    "probe_decoding": "greedy",
}


def saved_settings(output_dir: str | Path) -> dict[str, Any] | None:
    """The settings a run folder was last run with (its settings.json; a setting added since then as it was before,
    `LEGACY_SETTINGS`), or None for a new folder."""
    path = Path(output_dir) / "settings.json"
    return {**LEGACY_SETTINGS, **json.loads(path.read_text())} if path.is_file() else None


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path in `path`'s folder (same suffix, for writers that choose a format by it) that replaces
    `path` when the block ends without error, so that a reader or a crash never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(descriptor)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Writes `text` to `path` atomically (`atomic_path`)."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json_atomic(path: Path, value: Any) -> None:
    """`value` as indented JSON in `path`, written atomically (`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(value, indent=2))


def remove_path(path: Path) -> None:
    """Removes a file or a folder with all it holds; nothing where there is neither."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def save_settings(settings: RunSettings) -> None:
    """settings.json: the settings the folder is run with now (checked when they were made), written atomically."""
    write_json_atomic(settings.path / "settings.json", asdict(settings))
