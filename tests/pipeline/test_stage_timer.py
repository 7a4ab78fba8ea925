import json

import pytest

from peft_pblora.pipeline import stage_timer
from peft_pblora.pipeline.stage_timer import StageTimer


class Clock:
    """A perf_counter that each stage advances by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_stage_timed_inside_another_is_kept_apart_and_not_counted_twice(tmp_path, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(stage_timer.time, "perf_counter", clock)
    timer = StageTimer(tmp_path)

    def train_again():
        clock.now += 30.0
        return "trained"

    def diagnose():
        clock.now += 5.0
        assert timer.timed("train again", train_again) == "trained"
        clock.now += 7.0
        return "diagnosed"

    def sweep():
        clock.now += 11.0

    assert timer.timed("train", lambda: setattr(clock, "now", clock.now + 20.0)) is None
    assert timer.timed("diagnose", diagnose) == "diagnosed"
    timer.timed("sweep", sweep)
    timings = json.loads((tmp_path / "timings.json").read_text())
    assert timings == {"train": 20.0, "train again": 30.0, "diagnose": 12.0, "sweep": 11.0}
    assert sum(timings.values()) == clock.now - 100.0  # the wall time, each second counted once


def test_a_stage_that_raises_records_nothing_and_the_next_is_timed_alone(tmp_path, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(stage_timer.time, "perf_counter", clock)
    timer = StageTimer(tmp_path)

    def failing_diagnose():
        timer.timed("train again", lambda: setattr(clock, "now", clock.now + 30.0))
        raise RuntimeError("probe failed")

    with pytest.raises(RuntimeError, match="probe failed"):
        timer.timed("diagnose", failing_diagnose)
    clock_before_sweep = clock.now
    timer.timed("sweep", lambda: setattr(clock, "now", clock_before_sweep + 4.0))
    assert json.loads((tmp_path / "timings.json").read_text()) == {"train again": 30.0, "sweep": 4.0}
