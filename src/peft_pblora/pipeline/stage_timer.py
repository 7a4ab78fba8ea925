"""Each stage's own wall time, printed and kept in the run folder's timings.json: a stage timed inside another (the
training again inside the diagnosis) is kept under its own name and left out of the other's time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .run_folder import write_json_atomic


class StageTimer:
    """Times the stages of one run folder, `path`, into `path / "timings.json"`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seconds_timed_inside = 0.0  # of the stage running now: the seconds of the stages timed inside it

    def timed(self, name: str, stage: Callable[[], Any]) -> Any:
        """Runs `stage` and records its own seconds under `name`; a stage that raises records nothing."""
        seconds_timed_around = self._seconds_timed_inside
        self._seconds_timed_inside = 0.0
        start = time.perf_counter()
        try:
            result = stage()
        finally:
            seconds = time.perf_counter() - start
            own_seconds = seconds - self._seconds_timed_inside
            self._seconds_timed_inside = seconds_timed_around + seconds
        timings_path = self.path / "timings.json"
        timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
        timings[name] = round(own_seconds, 1)
        write_json_atomic(timings_path, timings)
        print(f"[{name}] {own_seconds:.1f} s", flush=True)
        return result
