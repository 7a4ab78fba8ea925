"""The end-to-end run behind the `peft-pblora` command: make data, train, sweep alpha, report."""

from .settings import RunSettings
from .stages import Run, run_all

__all__ = ["Run", "RunSettings", "run_all"]
