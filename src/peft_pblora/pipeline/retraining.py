"""Training again for longer where the diagnosis finds an objective the PARM did not learn (`epochs_if_not_learned`).

`retraining.json` records why a run folder's adapters were trained for more epochs than its settings give: the
objectives flagged `not_learned`, the epochs before and after, and the first training's diagnosis. A later run of
the folder with the same training settings and pairs trains for the longer epochs at once; with other ones the
record no longer applies and is removed.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .diagnosis import flagged_objectives
from .fingerprints import stage_settings, with_legacy_settings
from .run_folder import LEGACY_SETTINGS, write_json_atomic
from .settings import RunSettings
from .training import optimiser_steps

logger = logging.getLogger("peft_pblora.pipeline")

RETRAINING_FILE = "retraining.json"


def not_learned_objectives(diagnosis: Mapping[str, Any]) -> list[str]:
    """The objectives a diagnosis record flags `not_learned`, in its order."""
    return flagged_objectives(diagnosis, ["not_learned"])


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
        "preference_data": preference_data_hash,
    }


def retraining_record(settings: RunSettings, preference_data_hash: str | None, diagnosis: Mapping[str, Any]) -> dict:
    """retraining.json's content for a run trained with `settings` whose `diagnosis` flags `not_learned`."""
    return {
        "not_learned": not_learned_objectives(diagnosis),
        "epochs_before": settings.epochs,
        "epochs": settings.epochs_if_not_learned,
        "trained_from": trained_from(settings, preference_data_hash),
        "diagnosis_before": dict(diagnosis),
    }


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
    made_from = dict(record.get("trained_from", {}))
    if "training_settings" in made_from:  # training settings added since, at the values it was made with
        legacy = with_legacy_settings("train", {"settings": made_from["training_settings"]}, LEGACY_SETTINGS)
        made_from["training_settings"] = legacy["settings"]
    if made_from == current:
        return record
    logger.warning("%s no longer applies (the training settings or the pairs changed): removed", RETRAINING_FILE)
    (folder / RETRAINING_FILE).unlink()
    return None


def retrained_settings(settings: RunSettings) -> RunSettings:
    """`settings` trained for the longer epochs a not-learned objective gets, and not retrained again: a copy, its
    scorers shared (checked when `settings` was made; a reward model is not loaded again)."""
    retrained = copy.copy(settings)
    retrained.epochs, retrained.epochs_if_not_learned = settings.epochs_if_not_learned, None
    return retrained
