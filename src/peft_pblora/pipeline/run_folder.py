"""A run folder's settings.json: the settings a folder was made with, and the check that refuses to continue it with
others."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .settings import RunSettings

RESULT_NEUTRAL_SETTINGS = ("show_progress", "device", "sample_batch_size", "sweep_batch_size", "stop_on_flags")
FOLDER_SETTINGS = ("output_dir",)  # where a run folder is: a moved or renamed folder continues as it was made
# settings added after run folders were made, with the value those folders were made with
LEGACY_SETTINGS = {"held_out_pair_share": 0.0, "guide_by_log_ratio": False, "train_in_chat_format": False}


def saved_settings(output_dir: str | Path) -> dict[str, Any] | None:
    """The settings a run folder was made with (its settings.json; a setting added since then as it was before,
    `LEGACY_SETTINGS`), or None for a new folder."""
    path = Path(output_dir) / "settings.json"
    return {**LEGACY_SETTINGS, **json.loads(path.read_text())} if path.is_file() else None


def check_same_settings(settings: RunSettings) -> None:
    """Refuses to continue a run folder with other settings than it was made with: its finished stages would be
    skipped, and their artefacts mixed with the new settings' results. Progress bars, device and batch sizes may
    differ (`RESULT_NEUTRAL_SETTINGS`), and so may the folder's own path (a moved folder); a setting absent from an
    older settings.json counts as unchanged, unless it changes training (`LEGACY_SETTINGS`: then it must keep the
    value the folder was made with)."""
    saved = saved_settings(settings.output_dir)
    if saved is None:
        return
    current = json.loads(json.dumps(asdict(settings)))
    changed = [
        f"{name}: {saved[name]!r} there, {value!r} now"
        for name, value in current.items()
        if name in saved and name not in RESULT_NEUTRAL_SETTINGS + FOLDER_SETTINGS and saved[name] != value
    ]
    if changed:
        raise ValueError(
            f"{settings.output_dir} was made with other settings ({'; '.join(changed)}). Give a new --output_dir, "
            "or leave those settings out to continue the run as it was made"
        )
