"""Which of a run folder's stages are current: each stage's artefacts, the hashes of what it reads, and the
fingerprint recorded when it was made (`fingerprints`); a stage whose fingerprint no longer matches is removed and
made anew."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from datasets import load_from_disk

from ..data.candidates import candidates_cached, candidates_dir
from ..data.preference_pairs import pairs_cached
from ..evaluation.steering_flags import EMPTY_ANSWER_CHECK_COUNTS, PROBE_MEASURES
from .fingerprints import (
    Fingerprints,
    data_hash,
    differences,
    files_hash,
    fingerprint,
    texts_hash,
    with_legacy_settings,
)
from .reward_forms import with_reward_forms
from .run_folder import LEGACY_SETTINGS, remove_path
from .settings import RunSettings
from .strength_search import STRENGTH_SEARCH

logger = logging.getLogger("peft_pblora.pipeline")

FINGERPRINTED_STAGES = ("candidates", "make-data", "train", "diagnose", "sweep")  # in the order they run


class StageRecords:
    """The fingerprint bookkeeping of a run folder's stages; `Run` gives the folder, its settings, prompts, adapters
    and the strengths the diagnosis chose."""

    settings: RunSettings
    path: Path
    fingerprints: Fingerprints
    train_prompts: list[str]
    test_prompts: list[str]
    probe_prompts: list[str]
    _expected: dict[str, dict]

    def adapter_dirs(self) -> list[Path]:
        raise NotImplementedError

    def _stage_values(self, stage: str, values: dict[str, Any]) -> dict[str, Any]:
        """The settings `stage` is fingerprinted with: `values`, and for training the reward forms they leave open as
        the folder's pairs choose them (`with_reward_forms`)."""
        if stage != "train":
            return values
        return with_reward_forms(values, self.settings.objective_names, self._saved_pairs())

    def _saved_pairs(self) -> Any:
        """The folder's preference pairs (make-data's artefact) as saved, or None before make-data."""
        data_dir = self.path / "preference_data"
        return load_from_disk(str(data_dir)) if pairs_cached(data_dir) else None

    @property
    def objective_strengths(self) -> list[float] | None:
        raise NotImplementedError

    def _has_artefacts(self, stage: str) -> bool:
        """Whether `stage`'s artefacts are in the folder (whole: every adapter of the run's method)."""
        data_dir = self.path / "preference_data"
        if stage == "candidates":
            return candidates_cached(candidates_dir(data_dir))
        if stage == "make-data":
            return pairs_cached(data_dir)
        if stage == "train":
            return all((directory / "adapter_config.json").is_file() for directory in self.adapter_dirs())
        return (self.path / {"diagnose": "diagnosis.json", "sweep": "sweep.json"}[stage]).is_file()

    def _remove_artefacts(self, stage: str) -> None:
        """Removes `stage`'s artefacts (stale or unfinished) and its fingerprint, so that it is made anew."""
        data_dir = self.path / "preference_data"
        if stage == "candidates":
            paths = [candidates_dir(data_dir)]
        elif stage == "make-data":
            paths = [path for path in data_dir.iterdir() if path.name != "candidates"] if data_dir.is_dir() else []
        elif stage == "train":
            paths = [self.path / "parm_adapter", self.path / "arm_adapters", self.path / "train_log.json"]
        else:
            paths = [self.path / {"diagnose": "diagnosis.json", "sweep": "sweep.json"}[stage]]
        for path in paths:
            remove_path(path)
        self.fingerprints.remove(stage)

    def _inputs(self, stage: str) -> dict[str, str | None]:
        """The hashes of what `stage` reads, as they are in the folder now (None: absent)."""
        if stage in ("candidates", "make-data"):
            inputs = {"prompts": texts_hash(self.train_prompts)}
            if stage == "make-data":
                pairs = self.settings.own_preference_pairs
                inputs["own_pairs"] = data_hash(pairs) if pairs is not None else None
                inputs["candidates"] = files_hash([candidates_dir(self.path / "preference_data")])
            return inputs
        if stage == "train":
            pairs = self._saved_pairs()
            return {"preference_data": data_hash(pairs) if pairs is not None else None}
        prompts = self.probe_prompts if stage == "diagnose" else self.test_prompts
        inputs = {"adapters": files_hash(self.adapter_dirs()), "prompts": texts_hash(prompts)}
        if stage == "sweep" and self.settings.searches_objective_strengths():  # the strengths the diagnosis chose
            inputs["objective_strengths"] = repr(self.objective_strengths)
        if stage == "diagnose":
            inputs["probe_measures"] = PROBE_MEASURES
        if stage == "diagnose" and self.settings.searches_objective_strengths():
            inputs["strength_search"] = STRENGTH_SEARCH
        if stage == "diagnose" and self.settings.empty_answer_check_prompts:
            inputs["empty_answer_check"] = EMPTY_ANSWER_CHECK_COUNTS
        return inputs

    def _adopt_unrecorded_stages(self, previous: dict[str, Any]) -> None:
        """Records a fingerprint for each stage whose artefacts are here without one (a folder made before
        fingerprints, or artefacts copied in): made with the folder's previous settings from what is here now, and
        from the prompts the diagnosis and the sweep record they answered (the prompts drawn now may differ)."""
        for stage in FINGERPRINTED_STAGES:
            if self.fingerprints.read(stage) is None and self._has_artefacts(stage):
                inputs = self._inputs(stage)
                answered = self._answered_prompts(stage)
                if answered is not None:
                    inputs["prompts"] = texts_hash(answered)
                self.fingerprints.write(stage, fingerprint(stage, self._stage_values(stage, previous), inputs))

    def _answered_prompts(self, stage: str) -> list[str] | None:
        """The prompts the folder's diagnosis (its probe) or sweep answered, as recorded there (None: not recorded)."""
        if stage not in ("diagnose", "sweep"):
            return None
        record = json.loads((self.path / {"diagnose": "diagnosis.json", "sweep": "sweep.json"}[stage]).read_text())
        prompts = record.get("probe", {}).get("prompts") if stage == "diagnose" else record.get("prompts")
        return list(prompts) if prompts is not None else None

    def _is_current(self, stage: str) -> bool:
        """Whether `stage`'s artefacts are here and were made from its current inputs. If not, they are removed
        (and the reason logged) and the stage is to be made: `_started` before, `_finished` after."""
        expected = fingerprint(stage, self._stage_values(stage, asdict(self.settings)), self._inputs(stage))
        recorded = with_legacy_settings(stage, self.fingerprints.read(stage), LEGACY_SETTINGS)
        if self._has_artefacts(stage):
            if recorded is None:  # copied in after this Run started: taken as made with these settings
                logger.info("%s: found without a fingerprint, taken as made with these settings", stage)
                self.fingerprints.write(stage, expected)
                return True
            if recorded == expected:
                return True
            logger.warning("%s is redone: %s", stage, "; ".join(differences(recorded, expected)))
        elif recorded is not None and not recorded.get("unfinished"):
            logger.warning("%s is redone: its artefacts are gone", stage)
        self._remove_artefacts(stage)
        self._expected[stage] = expected
        return False

    def _started(self, stage: str) -> None:
        self.fingerprints.mark_unfinished(stage, self._expected[stage])

    def _finished(self, stage: str) -> None:
        self.fingerprints.write(stage, self._expected.pop(stage))
