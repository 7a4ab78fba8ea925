"""Training again for longer where the diagnosis flags an objective not learned (`--epochs_if_not_learned`)."""

from __future__ import annotations

import json
import shutil

import pytest

from peft_pblora.pipeline import Run, RunSettings, run_all, training
from peft_pblora.pipeline.cli import main, parse_settings

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
    """count_w5's training margin is 0 where its training log ends before `LEARNED_AFTER_EPOCHS` epochs and 5 where
    it reaches them; every guided answer is the same, so the probe never sees a rise and a margin below 1 flags
    `not_learned`."""

    def margins(run: Run) -> dict[str, float]:
        log = json.loads((run.path / "train_log.json").read_text())
        return {"count_w5": 0.0 if max(entry.get("epoch", 0) for entry in log) < LEARNED_AFTER_EPOCHS else 5.0}

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
    report = (settings.path / "report.md").read_text()
    assert "Trained again for 3 epochs: not learned in 1 (count_w5)" in report
    assert "epochs_if_not_learned" in report  # the options as given
    saved = json.loads((settings.path / "settings.json").read_text())
    assert (saved["epochs"], saved["epochs_if_not_learned"]) == (1.0, 3.0)
    assert "train again" in json.loads((settings.path / "timings.json").read_text())

    run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS))  # the same folder, continued
    assert main(["train", "--output_dir", str(settings.path)]) == 0  # one stage, from the command line
    resumed = parse_settings(["--output_dir", str(settings.path)])
    assert Run(resumed).report()["retraining"] == metrics["retraining"]
    run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS, guidance_beta=0.5))  # decoding only
    assert trained_epochs == [1.0, 3.0]

    shutil.rmtree(settings.path / "parm_adapter")  # as if the longer training had stopped half-way
    run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS))
    assert trained_epochs == [1.0, 3.0, 3.0]


def test_a_retraining_made_from_other_training_settings_no_longer_applies(
    tiny_run, trained_epochs, learned_only_when_trained_longer, caplog
):
    run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS))
    settings = RunSettings(**{**tiny_run, "learning_rate": 2e-3}, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)
    run_all(settings)
    assert trained_epochs == [1.0, 3.0, 1.0, 3.0]  # decided again from the new first training
    assert any("retraining.json no longer applies" in record.message for record in caplog.records)
    settings = RunSettings(**{**tiny_run, "learning_rate": 2e-3})  # no retraining asked
    metrics = run_all(settings)
    assert trained_epochs == [1.0, 3.0, 1.0, 3.0, 1.0] and "retraining" not in metrics
    assert not (settings.path / "retraining.json").exists()
    assert "not_learned" in flags_of(json.loads((settings.path / "diagnosis.json").read_text()))["count_w5"]


def test_an_objective_learned_the_first_time_is_not_trained_again(tiny_run, trained_epochs, monkeypatch):
    monkeypatch.setattr(Run, "_training_margins", lambda run: {"count_w5": 5.0})
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)
    metrics = run_all(settings)
    assert trained_epochs == [1.0] and "retraining" not in metrics
    assert not (settings.path / "retraining.json").exists()


def test_no_retraining_where_min_train_steps_gives_both_trainings_the_same_steps(
    tiny_run, trained_epochs, learned_only_when_trained_longer, caplog, monkeypatch
):
    monkeypatch.setattr(Run, "_training_margins", lambda run: {"count_w5": 0.0})  # however long it trains
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS, min_train_steps=40)
    metrics = run_all(settings)  # 6 prompts' pairs in batches of 2: 3 steps an epoch, 9 in three
    assert trained_epochs == [1.0] and "retraining" not in metrics
    assert any("trains no more steps than --min_train_steps 40" in record.message for record in caplog.records)


def test_epochs_given_alone_to_a_continued_folder_drop_its_epochs_if_not_learned(tiny_run, trained_epochs):
    RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)  # writes nothing: the folder starts empty
    folder = RunSettings(**tiny_run).path
    folder.mkdir(parents=True)
    (folder / "settings.json").write_text(json.dumps({**tiny_run, "epochs_if_not_learned": LEARNED_AFTER_EPOCHS}))
    assert parse_settings(["--output_dir", str(folder)]).epochs_if_not_learned == LEARNED_AFTER_EPOCHS
    longer = parse_settings(["--output_dir", str(folder), "--epochs", "3"])
    assert (longer.epochs, longer.epochs_if_not_learned) == (3.0, None)


@pytest.mark.parametrize("longer", [1.0, 0.5, float("nan")])
def test_epochs_if_not_learned_must_be_longer_than_epochs(tiny_run, longer):
    with pytest.raises(ValueError, match=r"epochs_if_not_learned must be more than epochs \(1\)"):
        RunSettings(**tiny_run, epochs_if_not_learned=longer)
