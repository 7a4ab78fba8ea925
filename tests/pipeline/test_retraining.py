"""Training again for longer where the diagnosis flags an objective not learned (`--epochs_if_not_learned`)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from peft import PeftModel
from transformers import LlamaForCausalLM

from peft_pblora import set_preference
from peft_pblora.pipeline import Run, RunSettings, run_all, stages, training
from peft_pblora.pipeline.cli import main, parse_settings

LEARNED_AFTER_EPOCHS = 3.0
VERTICES = {"count_w5": [1.0, 0.0], "conciseness": [0.0, 1.0]}


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


def trained_epochs_of(run: Run) -> float:
    """The epochs the folder's adapter (or its first ARM) was trained for, from its training log."""
    logs = [run.path / "train_log.json", *sorted((run.path / "arm_adapters").glob("*/train_log.json"))]
    log = next(path for path in logs if path.is_file())
    return max(entry.get("epoch", 0) for entry in json.loads(log.read_text()))


def adapter_files(folder) -> dict[str, bytes]:
    """Every file of the folder's trained adapters (the PARM's or the ARMs'), by relative path."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for name in ("parm_adapter", "arm_adapters")
        for path in sorted((folder / name).rglob("*"))
        if path.is_file()
    }


def answers_counting_w5(rows, steering: bool) -> list[dict]:
    """Guided answers whose count of w5 rises with count_w5's weight where `steering`, and otherwise does not."""
    answers = []
    for alpha, prompt in rows:
        count = 1 + len(prompt) % 2 + (round(3 * alpha[0]) if steering else 0)
        answers.append({"text": " ".join(f"w5 x{index}" for index in range(count)), "finished": True, "new_tokens": 2})
    return answers


@pytest.fixture
def learned_only_when_trained_longer(monkeypatch) -> None:
    """count_w5's training margin is 0 where its training log ends before `LEARNED_AFTER_EPOCHS` epochs and 5 where
    it reaches them, and its guided answers rise with its weight only then: the longer training's probe passes it."""

    def margins(run: Run) -> dict[str, float]:
        return {"count_w5": 0.0 if trained_epochs_of(run) < LEARNED_AFTER_EPOCHS else 5.0}

    def answers(run: Run, rows, objective_strengths=None, max_new_tokens=None, sample=False):
        return answers_counting_w5(rows, steering=trained_epochs_of(run) >= LEARNED_AFTER_EPOCHS)

    monkeypatch.setattr(Run, "_training_margins", margins)
    monkeypatch.setattr(Run, "_answers", answers)


@pytest.fixture
def steering_by_no_training(monkeypatch) -> None:
    """count_w5's training margin is 0 after one epoch and 5 after `LEARNED_AFTER_EPOCHS`, but its guided answers
    never rise with its weight: the longer training's probe does not pass it either."""
    monkeypatch.setattr(
        Run,
        "_training_margins",
        lambda run: {"count_w5": 0.0 if trained_epochs_of(run) < LEARNED_AFTER_EPOCHS else 5.0},
    )
    monkeypatch.setattr(Run, "_answers", lambda run, rows, *args, **kwargs: answers_counting_w5(rows, steering=False))


def run_stopped_after_training_again(settings: RunSettings, monkeypatch) -> None:
    """Runs the folder until its longer training is made, then stops it (before the longer training is diagnosed);
    later runs of this test go through."""
    timed = Run.timed

    def stopped_after_training_again(run: Run, name: str, stage):
        result = timed(run, name, stage)
        if name == "train again":
            monkeypatch.setattr(Run, "timed", timed)
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(Run, "timed", stopped_after_training_again)
    with pytest.raises(KeyboardInterrupt):
        run_all(settings)


def flags_of(diagnosis: dict) -> dict[str, list[str]]:
    return {item["objective"]: item["flags"] for item in diagnosis["objectives"]}


def test_an_objective_not_learned_is_trained_again_for_longer_before_the_sweep(
    tiny_run, trained_epochs, learned_only_when_trained_longer
):
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)
    Run(settings).train()
    first_adapters = adapter_files(settings.path)
    metrics = run_all(settings)
    assert trained_epochs == [1.0, 3.0] and adapter_files(settings.path) != first_adapters
    record = json.loads((settings.path / "retraining.json").read_text())
    assert record["not_learned"] == ["count_w5"] and (record["epochs_before"], record["epochs"]) == (1.0, 3.0)
    assert "not_learned" in flags_of(record["diagnosis_before"])["count_w5"]
    diagnosis = json.loads((settings.path / "diagnosis.json").read_text())
    assert flags_of(diagnosis)["count_w5"] == [] and diagnosis["training_margins"]["count_w5"] == 5.0
    assert metrics["retraining"] == {
        "not_learned": ["count_w5"],
        "epochs_before": 1.0,
        "epochs": 3.0,
        "kept": "longer",
    }
    assert record["kept"] == "longer" and not (settings.path / "first_training").exists()
    report = (settings.path / "report.md").read_text()
    assert "Trained again for 3 epochs: not learned in 1 (count_w5); the diagnosis above is the longer" in report
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


@pytest.mark.parametrize("method", ["parm", "genarm"])
def test_the_first_training_is_kept_where_the_longer_ones_probe_does_not_pass_the_objective_either(
    tiny_run, trained_epochs, steering_by_no_training, caplog, method
):
    settings = RunSettings(**tiny_run, method=method, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)
    Run(settings).train()
    first_adapters = adapter_files(settings.path)
    metrics = run_all(settings)
    adapters = {"parm": 1, "genarm": 2}[method]  # GenARM trains one ARM per objective
    assert trained_epochs == [1.0] * adapters + [3.0] * adapters
    trainings = len(trained_epochs)
    assert any("probe does not pass count_w5 either: the first training is kept" in r.message for r in caplog.records)
    assert adapter_files(settings.path) == first_adapters
    assert trained_epochs_of(Run(settings)) == 1.0 and not (settings.path / "first_training").exists()
    record = json.loads((settings.path / "retraining.json").read_text())
    assert (record["kept"], record["not_passed"]) == ("first", ["count_w5"])
    assert record["diagnosis_longer"]["training_margins"]["count_w5"] == 5.0
    diagnosis = json.loads((settings.path / "diagnosis.json").read_text())
    assert diagnosis["training_margins"]["count_w5"] == 0.0 and "not_learned" in flags_of(diagnosis)["count_w5"]
    assert metrics["retraining"]["kept"] == "first"
    report = (settings.path / "report.md").read_text()
    assert "did not pass count_w5 either, so the first training is kept" in report

    continued = run_all(RunSettings(**tiny_run, method=method, epochs_if_not_learned=LEARNED_AFTER_EPOCHS))
    assert len(trained_epochs) == trainings and continued["retraining"] == metrics["retraining"]  # not again
    assert main(["train", "--output_dir", str(settings.path)]) == 0
    assert len(trained_epochs) == trainings and adapter_files(settings.path) == first_adapters


def test_a_restore_of_the_first_training_stopped_half_way_finishes_when_the_run_continues(
    tiny_run, trained_epochs, steering_by_no_training, monkeypatch
):
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)
    Run(settings).train()
    first_adapters = adapter_files(settings.path)
    restore = stages.restore_first_training

    def stopped_half_way(folder):
        shutil.move(folder / "first_training" / "parm_adapter", folder / "parm_adapter.first")
        shutil.rmtree(folder / "parm_adapter")
        shutil.move(folder / "parm_adapter.first", folder / "parm_adapter")  # the adapter back, its fingerprint not
        raise KeyboardInterrupt

    monkeypatch.setattr(stages, "restore_first_training", stopped_half_way)
    with pytest.raises(KeyboardInterrupt):
        run_all(settings)
    assert json.loads((settings.path / "retraining.json").read_text())["kept"] == "first"  # decided before moving
    monkeypatch.setattr(stages, "restore_first_training", restore)
    run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS))
    assert trained_epochs == [1.0, 3.0] and adapter_files(settings.path) == first_adapters
    assert not (settings.path / "first_training").exists()


def test_a_retraining_recorded_before_the_choice_keeps_the_longer_training(
    tiny_run, trained_epochs, learned_only_when_trained_longer
):
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)
    run_all(settings)
    path = settings.path / "retraining.json"
    record = json.loads(path.read_text())
    del record["kept"]
    path.write_text(json.dumps(record))
    metrics = run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS))
    assert trained_epochs == [1.0, 3.0] and metrics["retraining"]["epochs"] == 3.0
    assert "the diagnosis above is the longer training's" in (settings.path / "report.md").read_text()


def test_a_retraining_stopped_before_its_diagnosis_is_decided_when_the_run_continues(
    tiny_run, trained_epochs, steering_by_no_training, monkeypatch
):
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)
    run_stopped_after_training_again(settings, monkeypatch)
    assert trained_epochs == [1.0, 3.0] and (settings.path / "first_training" / "parm_adapter").is_dir()
    metrics = run_all(settings)
    assert trained_epochs == [1.0, 3.0] and metrics["retraining"]["kept"] == "first"
    assert trained_epochs_of(Run(settings)) == 1.0


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
    tiny_run, trained_epochs, steering_by_no_training, caplog, monkeypatch
):
    monkeypatch.setattr(Run, "_training_margins", lambda run: {"count_w5": 0.0})  # however long it trains
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS, min_train_steps=40)
    metrics = run_all(settings)  # 6 prompts' pairs in batches of 2: 3 steps an epoch, 9 in three
    assert trained_epochs == [1.0] and "retraining" not in metrics
    assert any("trains no more steps than --min_train_steps 40" in record.message for record in caplog.records)


def test_epochs_given_alone_to_a_continued_folder_drop_its_retraining_options(tiny_run, trained_epochs):
    RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS)  # writes nothing: the folder starts empty
    folder = RunSettings(**tiny_run).path
    folder.mkdir(parents=True)
    saved = {**tiny_run, "epochs_if_not_learned": LEARNED_AFTER_EPOCHS, "retrain_only_not_learned": True}
    (folder / "settings.json").write_text(json.dumps(saved))
    continued = parse_settings(["--output_dir", str(folder)])
    assert (continued.epochs_if_not_learned, continued.retrain_only_not_learned) == (LEARNED_AFTER_EPOCHS, True)
    longer = parse_settings(["--output_dir", str(folder), "--epochs", "3"])
    assert (longer.epochs, longer.epochs_if_not_learned, longer.retrain_only_not_learned) == (3.0, None, False)


@pytest.mark.parametrize("longer", [1.0, 0.5, float("nan")])
def test_epochs_if_not_learned_must_be_longer_than_epochs(tiny_run, longer):
    with pytest.raises(ValueError, match=r"epochs_if_not_learned must be more than epochs \(1\)"):
        RunSettings(**tiny_run, epochs_if_not_learned=longer)


def vertex_logits(base_model: str, adapter_dir, alpha: list[float]) -> torch.Tensor:
    """The folder's PARM's logits at `alpha` on a fixed sequence, loaded afresh from its adapter."""
    model = PeftModel.from_pretrained(LlamaForCausalLM.from_pretrained(base_model), str(adapter_dir))
    set_preference(model, alpha)
    with torch.no_grad():
        return model(input_ids=torch.tensor([[3, 9, 14, 27, 5, 11]])).logits


def test_only_the_not_learned_objectives_own_directions_train_on_from_the_first_training(
    tiny_run, trained_epochs, learned_only_when_trained_longer, trainings
):
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS, retrain_only_not_learned=True)
    Run(settings).train()
    base, adapter = tiny_run["base_model"], settings.path / "parm_adapter"
    first_at = {name: vertex_logits(base, adapter, alpha) for name, alpha in VERTICES.items()}
    metrics = run_all(settings)
    assert trained_epochs == [1.0, 2.0]  # the first training, then two more epochs continuing it
    assert torch.equal(vertex_logits(base, adapter, VERTICES["conciseness"]), first_at["conciseness"])
    assert not torch.allclose(vertex_logits(base, adapter, VERTICES["count_w5"]), first_at["count_w5"])
    assert trained_epochs_of(Run(settings)) == LEARNED_AFTER_EPOCHS  # the log goes on from the first's
    assert metrics["retraining"] == {
        "not_learned": ["count_w5"], "epochs_before": 1.0, "epochs": 3.0, "own_directions_only": True,
        "kept": "longer",
    }  # fmt: skip
    assert not (settings.path / "first_training").exists()
    report = (settings.path / "report.md").read_text()
    assert "Trained on from the first training for 2 more epochs (3 in all), only the own directions of count_w5" in (
        report
    )

    run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS, retrain_only_not_learned=True))
    assert trained_epochs == [1.0, 2.0]  # the folder continues as it was made
    shutil.rmtree(adapter)  # the kept training gone: the first is made again, then continued
    run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS, retrain_only_not_learned=True))
    assert trained_epochs == [1.0, 2.0, 1.0, 2.0] and not (settings.path / "first_training").exists()
    assert torch.equal(vertex_logits(base, adapter, VERTICES["conciseness"]), first_at["conciseness"])

    run_all(RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS))  # from the start this time
    assert trained_epochs == [1.0, 2.0, 1.0, 2.0, 1.0, 3.0]
    assert "own_directions_only" not in json.loads((settings.path / "metrics.json").read_text())["retraining"]


def test_a_first_training_made_again_to_continue_from_is_not_trained_again_when_it_is_kept(
    tiny_run, trained_epochs, steering_by_no_training, monkeypatch
):
    settings = RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS, retrain_only_not_learned=True)
    run_stopped_after_training_again(settings, monkeypatch)
    first_adapters = adapter_files(settings.path / "first_training")
    shutil.rmtree(settings.path / "first_training")  # both trainings gone before the choice between them
    shutil.rmtree(settings.path / "parm_adapter")
    metrics = run_all(
        RunSettings(**tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS, retrain_only_not_learned=True)
    )
    assert metrics["retraining"]["kept"] == "first"
    assert trained_epochs == [1.0, 2.0, 1.0, 2.0]  # the first made again and continued; once put back, kept as is
    assert adapter_files(settings.path) == first_adapters and trained_epochs_of(Run(settings)) == 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "set epochs_if_not_learned too"),
        ({"epochs_if_not_learned": 3.0, "core": "bilinear"}, "needs method 'parm' and core 'per_objective'"),
        ({"epochs_if_not_learned": 3.0, "method": "genarm"}, "got method 'genarm'"),
    ],
)
def test_retraining_only_the_not_learned_objectives_needs_a_per_objective_parm(tiny_run, options, message):
    with pytest.raises(ValueError, match=message):
        RunSettings(**tiny_run, retrain_only_not_learned=True, **options)


def test_a_continued_training_adds_the_steps_the_longer_training_has_beyond_the_first(
    tiny_run, trained_epochs, learned_only_when_trained_longer
):
    settings = RunSettings(
        **tiny_run, epochs_if_not_learned=LEARNED_AFTER_EPOCHS, retrain_only_not_learned=True, min_train_steps=4
    )
    run_all(settings)  # up to 4 pairs in batches of 2: the first training 4 steps (its minimum), three epochs 6
    log = json.loads((settings.path / "train_log.json").read_text())  # two epochs more would be 4 steps more
    assert max(entry.get("step", 0) for entry in log) == 6 and trained_epochs_of(Run(settings)) == 3.0
