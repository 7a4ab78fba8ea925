"""The example scripts run end to end on tiny models."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_runs(capsys):
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "save/load exact: True" in printed
    assert "objectives in alpha order: ['helpful', 'harmless']" in printed
    gap = float(printed.split("max |merged - unmerged| = ")[1].split()[0])
    assert gap < 1e-4
