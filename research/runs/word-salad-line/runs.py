"""The recorded runs this section reads: every run folder kept under /work/runs/s72..s80 with a sweep, its section,
and its vertices' and unguided answers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

RUNS_ROOT = Path("/work/runs")
SECTIONS = ("s72", "s73", "s74", "s77", "s78", "s79", "s80")


def run_folders() -> list[tuple[str, Path]]:
    """(section, run folder) for every recorded run with a sweep, in a fixed order."""
    found = []
    for section in SECTIONS:
        for sweep in sorted((RUNS_ROOT / section).glob("*/*/sweep.json*")):
            if "frozen" not in sweep.parts and "fingerprints" not in sweep.parts:
                found.append((section, sweep.parent))
    return found


def load_sweep(folder: Path) -> dict:
    packed = folder / "sweep.json.gz"
    return json.load(gzip.open(packed)) if packed.exists() else json.loads((folder / "sweep.json").read_text())


def vertices(sweep: dict) -> list[tuple[str, dict]]:
    """(objective, sweep point) at each objective's own vertex."""
    found = []
    for index, name in enumerate(sweep["objectives"]):
        for point in sweep["points"]:
            if point["alpha"][index] == 1.0:
                found.append((name, point))
    return found


def run_name(section: str, folder: Path) -> str:
    return f"{section}/{folder.parent.name}/{folder.name}"
