"""What each stage of a run was made from: the settings that concern it and hashes of what it reads.

A stage records its fingerprint in `fingerprints/<stage>.json` when it finishes (and an unfinished mark before it
starts). A later run redoes a stage whose fingerprint differs from the one its inputs give now; the stages that
read its artefacts then see another hash and are redone too. A folder made before fingerprints existed is taken as
made with its saved settings (`adopted_fingerprint`).

The stages and what they read: `candidates` (the sampled, scored answers; the train prompts), `make-data` (the
pairs; the train prompts, the candidates and the user's own pairs), `train` (the adapters; the pairs), `diagnose`
(diagnosis.json; the adapters and the probe prompts) and `sweep` (sweep.json; the adapters and the test prompts). The
report is made anew each time from the sweep and the diagnosis; their scores are recomputed by the run's current
scorers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..data.word_choice_pairs import WORD_CHOICE_PAIR_WEIGHT
from .run_folder import write_json_atomic

SAMPLING_SETTINGS = (
    "base_model", "prompts", "prompts_split", "train_prompts", "seed", "samples_per_prompt", "sample_tokens",
    "sentence_variants", "sampling_system_prompts", "shipped_data",
)  # fmt: skip
PAIRING_SETTINGS = (
    "objectives", "preference_pairs", "system_prompted_objectives", "length_matched", "max_length_ratio",
    "score_matched", "max_score_difference", "pairs_per_prompt", "whole_samples_only", "non_answer_pairs",
    "sentence_edit_pairs", "word_choice_pairs", "word_choice_pair_weight", "word_choice_pairs_unfinished",
    "word_choice_weight_share",
    "more_samples_if_few_pairs", "held_out_pair_share", "train_in_chat_format",
)  # fmt: skip
TRAINING_SETTINGS = (
    "base_model", "parm_model", "parm_layers", "objectives", "prompts", "prompts_split", "train_prompts",
    "preference_pairs", "epochs", "min_train_steps", "batch_size", "gradient_accumulation_steps", "learning_rate",
    "length_normalized_rewards", "beta_r", "reference_free", "reference_relative_rewards", "scalarization",
    "loss_type", "r1", "r2", "core", "lora_alpha", "target_modules", "dirichlet_concentration", "preference_sampling",
    "max_length", "method", "seed", "train_seed", "held_out_pair_share", "train_in_chat_format",
)  # fmt: skip
DECODING_SETTINGS = (
    "base_model", "parm_model", "parm_layers", "objectives", "method", "guidance_beta", "guide_by_log_ratio",
    "guidance_plausibility", "sweep_tokens", "prompts", "prompts_split", "test_prompts", "preference_pairs", "seed",
    "weaker_objective_strengths", "stronger_objective_strengths", "fixed_objective_strengths",
)  # fmt: skip

# not a setting: the objectives whose own directions a continued training trains (`retrain_only_not_learned`), None
# for a training from the start, as every fingerprint recorded before it existed
CONTINUED_TRAINING = "own_directions_of"

STAGE_SETTINGS: dict[str, tuple[str, ...]] = {
    "candidates": SAMPLING_SETTINGS,
    "make-data": SAMPLING_SETTINGS + PAIRING_SETTINGS,
    "train": TRAINING_SETTINGS,
    # the probe and the empty-answer check avoid the train prompts
    "diagnose": DECODING_SETTINGS + ("train_prompts", "probe_prompts", "empty_answer_check_prompts", "probe_decoding"),
    "sweep": DECODING_SETTINGS + ("grid_step", "sweep_decoding"),
}
"""The settings that concern each stage; the result-neutral ones (`run_folder.RESULT_NEUTRAL_SETTINGS`) and the
folder's path concern none."""

# GenARM and Rewarded Soups train the same single-objective ARMs: a folder's ARMs serve either method
TRAINED_BY_METHOD = {"parm": "parm", "svd_lora": "svd_lora", "genarm": "arms", "rewarded_soups": "arms"}


def canonical(value: Any) -> Any:
    """A setting's value as compared: numbers as floats (1 and 1.0 are one value), lists element by element."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return repr(value)


def stage_settings(stage: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that concern `stage`, from a run's settings as a dict (`asdict(settings)` or a settings.json)."""
    chosen = {name: canonical(values.get(name)) for name in STAGE_SETTINGS[stage]}
    samples_more = values.get("more_samples_if_few_pairs") and values.get("preference_pairs") is None
    if stage == "make-data" and not samples_more:
        chosen["held_out_pair_share"] = 0.0  # make-data reads it only to count pairs for the extra answers
    if stage == "make-data" and not values.get("word_choice_pairs"):  # read only to make the word-choice pairs
        chosen["train_in_chat_format"] = False
        chosen["word_choice_pair_weight"] = canonical(WORD_CHOICE_PAIR_WEIGHT)
        chosen["word_choice_pairs_unfinished"] = False
        chosen["word_choice_weight_share"] = canonical(None)
    if stage == "train":
        chosen["method"] = TRAINED_BY_METHOD.get(values.get("method"), values.get("method"))
        chosen[CONTINUED_TRAINING] = canonical(values.get(CONTINUED_TRAINING))
    return chosen


def with_legacy_settings(stage: str, recorded: dict[str, Any] | None, legacy: Mapping[str, Any]) -> dict | None:
    """A recorded fingerprint with the settings of `stage` added since it was recorded at the values it was made
    with (`legacy`), so that a new setting left at that value does not redo the stage."""
    if recorded is None or "settings" not in recorded:
        return recorded
    added = {name: canonical(value) for name, value in legacy.items() if name in STAGE_SETTINGS[stage]}
    if stage == "train":
        added[CONTINUED_TRAINING] = None
    return {**recorded, "settings": {**added, **recorded["settings"]}}


def fingerprint(stage: str, values: Mapping[str, Any], inputs: Mapping[str, str | None]) -> dict[str, Any]:
    """A stage's fingerprint: the settings that concern it and the hashes of what it reads (None: absent)."""
    return {"settings": stage_settings(stage, values), "inputs": dict(inputs)}


def texts_hash(texts: Sequence[str]) -> str:
    """The hash of a list of texts, in order (e.g. the prompts a stage answers)."""
    return hashlib.sha256(json.dumps(list(texts)).encode()).hexdigest()


def data_hash(data: Mapping[str, Any]) -> str:
    """The hash of a DatasetDict's rows, objective by objective: the same pairs give the same hash however they were
    saved."""
    rows = {name: data[name].to_dict() for name in sorted(data)}
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def files_hash(paths: Iterable[Path]) -> str | None:
    """The hash of every file under `paths` (files or folders: relative names and bytes), or None if none exists."""
    digest, found = hashlib.sha256(), False
    for root in paths:
        files = sorted(root.rglob("*")) if root.is_dir() else [root] if root.is_file() else []
        for path in files:
            if path.is_file():
                found = True
                digest.update(f"{root.name}/{path.relative_to(root) if root.is_dir() else ''}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest() if found else None


def differences(recorded: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """What differs between a recorded and an expected fingerprint, one phrase per setting or input."""
    if recorded.get("unfinished"):
        return ["it did not finish"]
    changed = [
        f"{name}: {value!r} then, {expected['settings'].get(name)!r} now"
        for name, value in recorded.get("settings", {}).items()
        if expected["settings"].get(name) != value
    ]
    changed += [f"{name} is new" for name in expected["settings"] if name not in recorded.get("settings", {})]
    changed += [
        f"its input {name} changed"
        for name in expected["inputs"]
        if recorded.get("inputs", {}).get(name) != expected["inputs"][name]
    ]
    return changed or ["its fingerprint changed"]


class Fingerprints:
    """A run folder's `fingerprints/` folder: one JSON file per stage."""

    def __init__(self, run_dir: Path) -> None:
        self.folder = run_dir / "fingerprints"

    def exists(self) -> bool:
        """Whether the folder was made by a version that fingerprints its stages (else: an older folder)."""
        return self.folder.is_dir()

    def path(self, stage: str) -> Path:
        return self.folder / f"{stage}.json"

    def read(self, stage: str) -> dict[str, Any] | None:
        path = self.path(stage)
        return json.loads(path.read_text()) if path.is_file() else None

    def write(self, stage: str, value: Mapping[str, Any]) -> None:
        write_json_atomic(self.path(stage), dict(value))

    def mark_unfinished(self, stage: str, value: Mapping[str, Any]) -> None:
        """Written before a stage starts: a stage interrupted half-way is redone, never taken as finished."""
        self.write(stage, {**value, "unfinished": True})

    def remove(self, stage: str) -> None:
        self.path(stage).unlink(missing_ok=True)
