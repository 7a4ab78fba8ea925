"""The end-to-end run behind the `peft-pblora` command: make data, train, sweep alpha, report."""

from .stages import Run, RunSettings, run_all

__all__ = ["Run", "RunSettings", "run_all"]
