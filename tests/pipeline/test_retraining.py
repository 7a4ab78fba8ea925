"""Training again for longer where the diagnosis flags an objective not learned (`--epochs_if_not_learned`)."""

from __future__ import annotations

import json

import pytest

from peft_pblora.pipeline import Run, RunSettings, run_all, training
from peft_pblora.pipeline.cli import parse_settings

LEARNED_AFTER_EPOCHS = 3.0


@pytest.fixture
def trained_epochs(monkeypatch) -> list[float]:
    """The epochs of each training the run starts."""
    epochs: list[float] = []

    class RecordingTrainer(training.PARMTrainer):
        def train(self, *args, **kwargs):
            epochs.append(self.args.num_train_epochs)
            return super().train(*args, **kwargs)

    monkeypatch.setattr(training, "PARMTrainer", RecordingTrainer)
    return epochs


@pytest.fixture
def learned_only_when_trained_longer(monkeypatch) -> None:
    """count_w5's training margin is 0 below `LEARNED_AFTER_EPOCHS` epochs and 5 from there; every guided answer is
    the same, so the probe never sees a rise and a margin below 1 flags `not_learned`."""

    def margins(run: Run) -> dict[str, float]:
        return {"count_w5": 0.0 if run.settings.epochs < LEARNED_AFTER_EPOCHS else 5.0}

    def answers(run: Run, rows, objective_strengths=None, max_new_tokens=None):
        return [{"text": "w5 w7", "finished": True, "new_tokens": 2} for _ in rows]

    monkeypatch.setattr(Run, "_training_margins", margins)
    monkeypatch.setattr(Run, "_answers", answers)


def flags_of(diagnosis: dict) -> dict[str, list[str]]:
    return {item["objective"]: item["flags"] for item in diagnosis["objectives"]}


def test_an_objective_not_learned_is_trained_again_for_longer_before_the_sweep(
    tiny_run, trained_epochs, learned_only_when_trained_longer
):
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)
    metrics = run_all(settings)
    assert trained_epochs == [1.0, 3.0]
    record = json.loads((settings.path / "retraining.json").read_text())
    assert record["not_learned"] == ["count_w5"] and (record["epochs_before"], record["epochs"]) == (1.0, 3.0)
    assert "not_learned" in flags_of(record["diagnosis_before"])["count_w5"]
    diagnosis = json.loads((settings.path / "diagnosis.json").read_text())
    assert "not_learned" not in flags_of(diagnosis)["count_w5"] and diagnosis["training_margins"]["count_w5"] == 5.0
    assert metrics["retraining"] == {"not_learned": ["count_w5"], "epochs_before": 1.0, "epochs": 3.0}
    assert "Trained again for 3 epochs: not learned in 1 (count_w5)" in (settings.path / "report.md").read_text()
    saved = json.loads((settings.path / "settings.json").read_text())
    assert (saved["epochs"], saved["epochs_if_not_learned"]) == (1.0, 3.0)  # the settings as given

    run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS))  # the same folder, continued
    resumed = parse_settings(["--output_dir", str(settings.path)])  # and from the command line
    assert Run(resumed).report()["retraining"] == metrics["retraining"]
    assert trained_epochs == [1.0, 3.0]


def test_a_retraining_made_from_other_training_settings_no_longer_applies(
    tiny_run, trained_epochs, learned_only_when_trained_longer
):
    run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS))
    settings = RunSettings(**{**tiny_run, "learning_rate": 2e-3})  # no retraining asked
    metrics = run_all(settings)
    assert trained_epochs == [1.0, 3.0, 1.0] and "retraining" not in metrics
    assert not (settings.path / "retraining.json").exists()
    assert "not_learned" in flags_of(json.loads((settings.path / "diagnosis.json").read_text()))["count_w5"]


def test_an_objective_learned_the_first_time_is_not_trained_again(tiny_run, trained_epochs, monkeypatch):
    monkeypatch.setattr(Run, "_training_margins", lambda run: {"count_w5": 5.0})
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)
    metrics = run_all(settings)
    assert trained_epochs == [1.0] and "retraining" not in metrics
    assert not (settings.path / "retraining.json").exists()


@pytest.mark.parametrize("longer", [1.0, 0.5, float("nan")])
def test_epochs_if_not_learned_must_be_longer_than_epochs(tiny_run, longer):
    with pytest.raises(ValueError, match=r"epochs_if_not_learned must be more than epochs \(1\)"):
        RunSettings(**tiny_run, epochs_if_not_learned=longer)
