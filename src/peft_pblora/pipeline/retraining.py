"""Training again for longer where the diagnosis finds an objective the PARM did not learn (`epochs_if_not_learned`).

The first training is set aside (`first_training/`) while the longer one is trained and diagnosed; the longer one is
kept only where its probe passes every objective the first flagged `not_learned`, else the first comes back. The
longer training starts afresh, or with `retrain_only_not_learned` continues the first for the extra epochs, training
only the flagged objectives' own directions.
`retraining.json` records why and what was kept: the objectives flagged, the epochs before and after, the training
kept and the other training's diagnosis. A later run of the folder with the same training settings and pairs trains
the kept training's epochs at once; with other ones the record no longer applies and is removed.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .diagnosis import NOT_STEERING_FLAGS, flagged_objectives
from .fingerprints import stage_settings, with_legacy_settings
from .run_folder import LEGACY_SETTINGS, remove_path, write_json_atomic
from .settings import RunSettings
from .training import optimiser_steps

logger = logging.getLogger("peft_pblora.pipeline")

RETRAINING_FILE = "retraining.json"
FIRST_TRAINING_DIR = "first_training"
# what a training and its diagnosis leave in a run folder (an ARM's train log is in its adapter's folder)
TRAINING_ARTEFACTS = (
    "parm_adapter", "arm_adapters", "train_log.json", "diagnosis.json", "fingerprints/train.json",
    "fingerprints/diagnose.json",
)  # fmt: skip


def not_learned_objectives(diagnosis: Mapping[str, Any]) -> list[str]:
    """The objectives a diagnosis record flags `not_learned`, in its order."""
    return flagged_objectives(diagnosis, ["not_learned"])


def not_passed_by_longer_training(not_learned: list[str], longer_diagnosis: Mapping[str, Any]) -> list[str]:
    """The objectives flagged `not_learned` after the first training that the longer training's probe does not pass
    either (a `NOT_STEERING_FLAGS` flag, or `not_learned` again): where there is one, the first training is kept."""
    failing = set(flagged_objectives(longer_diagnosis, [*NOT_STEERING_FLAGS, "not_learned"]))
    return [name for name in not_learned if name in failing]


def trains_longer(settings: RunSettings, pair_counts: dict[str, int]) -> bool:
    """Whether `epochs_if_not_learned` trains more steps over pairs of these counts than `settings` did: not where
    `min_train_steps` gives both trainings the same steps (the same training again)."""
    longer = retrained_settings(settings)
    return optimiser_steps(longer, pair_counts) > optimiser_steps(settings, pair_counts)


def trained_from(settings: RunSettings, preference_data_hash: str | None) -> dict[str, Any]:
    """What decides a retraining: the settings training reads, the longer epochs and the pairs' hash."""
    return {
        "training_settings": stage_settings("train", asdict(settings)),
        "epochs_if_not_learned": settings.epochs_if_not_learned,
        "retrain_only_not_learned": settings.retrain_only_not_learned,
        "preference_data": preference_data_hash,
    }


def retraining_record(settings: RunSettings, preference_data_hash: str | None, diagnosis: Mapping[str, Any]) -> dict:
    """retraining.json's content for a run trained with `settings` whose `diagnosis` flags `not_learned`, written
    before the longer training: which training is kept is still pending (None)."""
    return {
        "not_learned": not_learned_objectives(diagnosis),
        "epochs_before": settings.epochs,
        "epochs": settings.epochs_if_not_learned,
        **({"own_directions_only": True} if settings.retrain_only_not_learned else {}),
        "kept": None,
        "trained_from": trained_from(settings, preference_data_hash),
        "diagnosis_before": dict(diagnosis),
    }


def own_directions_of(record: Mapping[str, Any]) -> list[str] | None:
    """The objectives whose own directions the record's longer training trained, continuing the first training
    (`retrain_only_not_learned`); None where it trained everything from the start."""
    return list(record["not_learned"]) if record.get("own_directions_only") else None


def continued_settings(settings: RunSettings, first: RunSettings) -> RunSettings:
    """The longer training `settings` as a continuation of the `first` training: its extra epochs only."""
    continued = copy.copy(settings)
    continued.epochs = settings.epochs - first.epochs
    return continued


def continued_log(first_log: list[dict], log: list[dict]) -> list[dict]:
    """A continued training's log after the first training's, its epochs and steps counted on from the first's: the
    kept adapter's whole history."""
    epochs = max((entry.get("epoch", 0) for entry in first_log), default=0)
    steps = max((entry.get("step", 0) for entry in first_log), default=0)
    shifted = [
        {**entry, "epoch": entry.get("epoch", 0) + epochs, "step": entry.get("step", 0) + steps} for entry in log
    ]
    return [*first_log, *shifted]


def kept_training(record: Mapping[str, Any]) -> str | None:
    """Which training a retraining record kept: "longer", "first", or None while the longer one is not yet
    diagnosed. A record made before the choice existed kept the longer."""
    return record.get("kept", "longer")


def set_aside_first_training(folder: Path) -> None:
    """Moves the first training's adapters, train log, diagnosis and their fingerprints to `first_training/`, so the
    longer training starts in an empty place and the first can come back."""
    aside = folder / FIRST_TRAINING_DIR
    remove_path(aside)
    for name in TRAINING_ARTEFACTS:
        if (folder / name).exists():
            (aside / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(folder / name, aside / name)


def has_first_training(folder: Path) -> bool:
    """Whether a first training is set aside in the folder."""
    return (folder / FIRST_TRAINING_DIR).is_dir()


def restore_first_training(folder: Path) -> None:
    """Puts the training set aside back in place of the longer one, item by item, so that a restore stopped half-way
    finishes when done again."""
    aside = folder / FIRST_TRAINING_DIR
    for name in TRAINING_ARTEFACTS:
        if (aside / name).exists():
            remove_path(folder / name)
            shutil.move(aside / name, folder / name)
    remove_path(aside)


def discard_first_training(folder: Path) -> None:
    """Removes the training set aside, once the longer one is kept or the record no longer applies."""
    remove_path(folder / FIRST_TRAINING_DIR)


def write_retraining(folder: Path, record: Mapping[str, Any]) -> None:
    write_json_atomic(folder / RETRAINING_FILE, dict(record))


def read_retraining(folder: Path) -> dict | None:
    """A folder's retraining record, or None."""
    path = folder / RETRAINING_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def recorded_retraining(
    folder: Path, settings: RunSettings, preference_data_hash: Callable[[], str | None]
) -> dict | None:
    """The folder's retraining record where it was made from these settings and the pairs `preference_data_hash`
    hashes (called only where there is a record); a record made from others no longer applies and is removed
    (None)."""
    record = read_retraining(folder)
    if record is None:
        return None
    current = json.loads(json.dumps(trained_from(settings, preference_data_hash())))
    made_from = {"retrain_only_not_learned": False, **record.get("trained_from", {})}  # before the option: False
    if "training_settings" in made_from:  # training settings added since, at the values it was made with
        legacy = with_legacy_settings("train", {"settings": made_from["training_settings"]}, LEGACY_SETTINGS)
        made_from["training_settings"] = legacy["settings"]
    if made_from == current:
        return record
    logger.warning("%s no longer applies (the training settings or the pairs changed): removed", RETRAINING_FILE)
    (folder / RETRAINING_FILE).unlink()
    discard_first_training(folder)
    return None


def retrained_settings(settings: RunSettings) -> RunSettings:
    """`settings` trained for the longer epochs a not-learned objective gets, and not retrained again: a copy, its
    scorers shared (checked when `settings` was made; a reward model is not loaded again)."""
    retrained = copy.copy(settings)
    retrained.epochs, retrained.epochs_if_not_learned = settings.epochs_if_not_learned, None
    return retrained
