"""A run folder's stages: redone when what they were made from changes, with the stages that read them (issue 19,
reproducer 11); settings checked before anything is written, and no folder locked by them (reproducer 12)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from peft_pblora.evaluation import Conciseness, is_repetitive
from peft_pblora.pipeline import Run, RunSettings, run_all, stages
from peft_pblora.pipeline.cli import main
from peft_pblora.pipeline.fingerprints import STAGE_SETTINGS, Fingerprints, files_hash, stage_settings
from peft_pblora.pipeline.run_folder import FOLDER_SETTINGS, RESULT_NEUTRAL_SETTINGS, RETRAINING_SETTINGS, atomic_path
from peft_pblora.pipeline.settings import SCORERS

from ..conftest import cli_arguments


class Reversed:
    """A changed scorer under the same name: the opposite of the scorer it wraps (whose declarations it keeps, so
    that no setting that follows from them changes)."""

    def __init__(self, scorer) -> None:
        self.scorer, self.name = scorer, scorer.name

    def __getattr__(self, attribute: str):
        if attribute == "scorer":
            raise AttributeError(attribute)
        return getattr(self.scorer, attribute)

    def __call__(self, prompts, responses):
        return [-score for score in self.scorer(prompts, responses)]


def test_reproducer_11_a_rebuilt_stage_redoes_the_stages_after_it(tiny_run, trainings, monkeypatch):
    run_all(RunSettings(**tiny_run))
    folder = Path(tiny_run["output_dir"])
    old_pairs = json.loads((folder / "preference_data/conciseness/state.json").read_text())
    assert trainings == [1] and old_pairs
    # the scorer changes; as the troubleshooting page says, the preference data is deleted and the run continued
    monkeypatch.setitem(SCORERS, "conciseness", lambda: Reversed(Conciseness(max_words=8)))
    shutil.rmtree(folder / "preference_data")
    metrics = run_all(RunSettings(**tiny_run))
    assert trainings == [1, 1], "the adapter was trained on the old pairs: it must be trained again"
    sweep = json.loads((folder / "sweep.json").read_text())
    for point in [*sweep["points"], sweep["base"]]:
        assert all(score <= 0 for score in point["per_prompt"]["conciseness"]), "scores of the old scorer"
    assert (
        metrics["steering_effect"]["conciseness"]
        == json.loads((folder / "metrics.json").read_text())["steering_effect"]["conciseness"]
    )
    assert sweep["base"]["scores"]["conciseness"] <= 0
    assert "-" in (folder / "scores.csv").read_text().splitlines()[1]  # the report's scores are the new scorer's
    # a deleted adapter is trained again, and the sweep follows the adapter it is trained into
    shutil.rmtree(folder / "parm_adapter")
    run_all(RunSettings(**tiny_run))
    assert trainings == [1, 1, 1]
    recorded = Fingerprints(folder).read("sweep")
    assert recorded["inputs"]["adapters"] == files_hash([folder / "parm_adapter"])
    assert Fingerprints(folder).read("diagnose")["inputs"]["adapters"] == recorded["inputs"]["adapters"]


def test_a_changed_scorer_rescores_a_kept_sweep(tiny_run, trainings, monkeypatch):
    run_all(RunSettings(**tiny_run))
    folder = Path(tiny_run["output_dir"])
    texts = json.loads((folder / "sweep.json").read_text())["points"][0]["texts"]
    monkeypatch.setitem(SCORERS, "conciseness", lambda: Reversed(Conciseness(max_words=8)))
    run_all(RunSettings(**tiny_run))  # nothing deleted: the pairs and the adapter are kept, the scores are not
    assert trainings == [1]
    point = json.loads((folder / "sweep.json").read_text())["points"][0]
    assert point["texts"] == texts
    assert point["per_prompt"]["conciseness"] == Reversed(Conciseness(max_words=8))(["p"] * len(texts), texts)


def test_a_kept_sweep_has_its_quality_measured_again_from_its_texts(tiny_run, trainings):
    run_all(RunSettings(**tiny_run))
    folder = Path(tiny_run["output_dir"])
    sweep = json.loads((folder / "sweep.json").read_text())
    for point in [*sweep["points"], sweep["base"]]:  # as a run made with an older measure recorded it
        point["quality"] = {"empty": 0.9, "unfinished": 0.123, "repetitive": 0.9}
    (folder / "sweep.json").write_text(json.dumps(sweep))
    run_all(RunSettings(**tiny_run))
    assert trainings == [1]
    kept = json.loads((folder / "sweep.json").read_text())
    for point in [*kept["points"], kept["base"]]:
        texts = point["texts"]
        assert point["quality"] == {
            "empty": sum(not any(character.isalpha() for character in text) for text in texts) / len(texts),
            "unfinished": 0.123,  # needs the token counts, which are not kept
            "repetitive": sum(is_repetitive(text) for text in texts) / len(texts),
        }


@pytest.mark.parametrize(
    "options",
    [
        ["--grid_step", "0.3"],
        ["--grid_step", "0"],
        ["--guidance_beta", "0"],
        ["--guidance_plausibility", "0"],
        ["--guidance_plausibility", "1.5"],
        ["--sweep_tokens", "0"],
        ["--test_prompts", "400"],
        ["--objectives", "count_w5", "conciseness", "count_w5"],
        ["--seed", "-1"],
    ],
)
def test_reproducer_12_settings_are_checked_before_anything_is_written(tiny_run, options, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", *cli_arguments(tiny_run), *options])
    assert exit_info.value.code == 2
    assert options[0].removeprefix("--") in capsys.readouterr().err
    assert not Path(tiny_run["output_dir"]).exists()


def test_reproducer_12_a_refused_setting_never_locks_the_folder(tiny_run, tmp_path, capsys):
    assert main(["make-data", *cli_arguments(tiny_run)]) == 0
    settings_path = Path(tiny_run["output_dir"]) / "settings.json"
    saved = settings_path.read_text()
    with pytest.raises(SystemExit):
        main(["make-data", "--output_dir", tiny_run["output_dir"], "--grid_step", "0.3"])
    assert settings_path.read_text() == saved
    # a corrected or other setting continues the same folder
    assert main(["make-data", "--output_dir", tiny_run["output_dir"], "--grid_step", "0.25"]) == 0
    assert json.loads(settings_path.read_text())["grid_step"] == 0.25
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for output_dir in (a_file, a_file / "run"):
        with pytest.raises(SystemExit):
            main(["make-data", *cli_arguments({**tiny_run, "output_dir": str(output_dir)})])
        assert "is a file" in capsys.readouterr().err


def test_a_changed_setting_redoes_only_the_stages_it_concerns(tiny_run, trainings):
    folder = Path(tiny_run["output_dir"])
    run_all(RunSettings(**tiny_run))
    pairs, sweep = (folder / "preference_data/dataset_dict.json").stat().st_mtime_ns, (folder / "sweep.json")
    first_sweep = sweep.read_bytes()
    run_all(RunSettings(**{**tiny_run, "sweep_batch_size": 2, "show_progress": True}))  # result-neutral
    assert trainings == [1] and sweep.read_bytes() == first_sweep
    run_all(RunSettings(**{**tiny_run, "guidance_beta": 0.5}))  # the decoding's: diagnose and sweep again
    assert trainings == [1] and sweep.read_bytes() != first_sweep
    assert Fingerprints(folder).read("sweep")["settings"]["guidance_beta"] == 0.5
    assert (folder / "preference_data/dataset_dict.json").stat().st_mtime_ns == pairs
    beta_sweep = sweep.read_bytes()
    run_all(RunSettings(**{**tiny_run, "guidance_beta": 0.5, "guidance_plausibility": 0.5}))  # decoding's too
    assert trainings == [1] and sweep.read_bytes() != beta_sweep
    assert "at least 0.5 as likely as the base's top token" in (folder / "report.md").read_text()
    run_all(RunSettings(**{**tiny_run, "guidance_plausibility": 0.5, "epochs": 2}))  # training's: trained again
    assert trainings == [1, 1]
    assert (folder / "preference_data/dataset_dict.json").stat().st_mtime_ns == pairs


def test_a_folder_without_fingerprints_is_taken_as_made_with_its_saved_settings(tiny_run, trainings):
    folder = Path(tiny_run["output_dir"])
    run_all(RunSettings(**tiny_run))
    sweep = (folder / "sweep.json").read_bytes()
    shutil.rmtree(folder / "fingerprints")  # as a folder made before fingerprints
    run_all(RunSettings(**tiny_run))
    assert trainings == [1] and (folder / "sweep.json").read_bytes() == sweep
    shutil.rmtree(folder / "fingerprints")
    run_all(RunSettings(**{**tiny_run, "epochs": 2}))  # the saved settings said 1 epoch
    assert trainings == [1, 1] and (folder / "sweep.json").read_bytes() != sweep


def test_a_folder_without_fingerprints_is_taken_as_made_from_the_prompts_it_answered(tiny_run, monkeypatch):
    folder = Path(tiny_run["output_dir"])
    run_all(RunSettings(**tiny_run))
    shutil.rmtree(folder / "fingerprints")  # as a folder made before fingerprints, whose prompts are now drawn anew
    split, probe = stages.split_prompts, stages.choose_probe_prompts
    monkeypatch.setattr(stages, "split_prompts", lambda settings: tuple(part[::-1] for part in split(settings)))
    monkeypatch.setattr(stages, "choose_probe_prompts", lambda *args: probe(*args)[::-1])
    run = Run(RunSettings(**tiny_run))
    run.sweep()
    assert json.loads((folder / "sweep.json").read_text())["prompts"] == run.test_prompts
    assert json.loads((folder / "diagnosis.json").read_text())["probe"]["prompts"] == run.probe_prompts


def test_a_setting_added_since_a_stage_was_recorded_redoes_it_only_away_from_its_old_value(tiny_run, trainings):
    folder = Path(tiny_run["output_dir"])
    run_all(RunSettings(**tiny_run))
    records = Fingerprints(folder)
    for stage, added in (("train", "loss_type"), ("sweep", "weaker_objective_strengths")):
        record = records.read(stage)
        del record["settings"][added]  # as recorded by a version without the setting
        records.write(stage, record)
    sweep = (folder / "sweep.json").read_bytes()
    run_all(RunSettings(**tiny_run))  # both at the value older folders were made with
    assert trainings == [1] and (folder / "sweep.json").read_bytes() == sweep
    run_all(RunSettings(**{**tiny_run, "loss_type": "ipo"}))
    assert trainings == [1, 1] and Fingerprints(folder).read("train")["settings"]["loss_type"] == "ipo"


def test_an_interrupted_stage_is_redone(tiny_run, trainings):
    folder = Path(tiny_run["output_dir"])
    run_all(RunSettings(**tiny_run))
    records = Fingerprints(folder)
    records.mark_unfinished("train", records.read("train"))  # as if killed while saving the adapter
    run_all(RunSettings(**tiny_run))
    assert trainings == [1, 1] and not records.read("train").get("unfinished")


def test_redone_candidates_redo_the_pairs(tiny_run, monkeypatch):
    folder = Path(tiny_run["output_dir"])
    Run(RunSettings(**tiny_run)).make_data()
    pairs = folder / "preference_data/dataset_dict.json"
    first = pairs.stat().st_mtime_ns
    # the scorer changes and only the candidates are deleted: they are sampled and scored again
    monkeypatch.setitem(SCORERS, "conciseness", lambda: Reversed(Conciseness(max_words=8)))
    shutil.rmtree(folder / "preference_data/candidates")
    Run(RunSettings(**tiny_run)).make_data()
    assert pairs.stat().st_mtime_ns != first, "the pairs were kept although the candidates they came from changed"
    recorded = Fingerprints(folder).read("make-data")["inputs"]["candidates"]
    assert recorded == files_hash([folder / "preference_data/candidates"])
    second = pairs.stat().st_mtime_ns
    Run(RunSettings(**tiny_run)).make_data()
    assert pairs.stat().st_mtime_ns == second  # current now: kept


def test_every_setting_concerns_a_stage_or_none():
    names = {item.name for item in fields(RunSettings)}
    concerned = {name for settings in STAGE_SETTINGS.values() for name in settings}
    assert concerned <= names
    assert names - concerned == set(RESULT_NEUTRAL_SETTINGS + FOLDER_SETTINGS + RETRAINING_SETTINGS)


def test_an_atomic_write_leaves_the_old_file_when_it_fails(tmp_path):
    path = tmp_path / "sweep.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and [item.name for item in tmp_path.iterdir()] == ["sweep.json"]


def test_the_held_out_share_concerns_make_data_only_where_it_counts_pairs_for_extra_answers():
    values = {**asdict(RunSettings()), "held_out_pair_share": 0.1}
    assert stage_settings("make-data", values)["held_out_pair_share"] == 0.1  # extra answers on, pairs sampled
    for off in ({"more_samples_if_few_pairs": 0}, {"preference_pairs": "my_pairs.jsonl"}):
        # as folders made before the share was fingerprinted here: a changed share leaves their pairs current
        assert stage_settings("make-data", {**values, **off})["held_out_pair_share"] == 0.0
    assert stage_settings("train", {**values, "more_samples_if_few_pairs": 0})["held_out_pair_share"] == 0.1


def test_the_word_choice_forms_concern_make_data_only_where_the_pairs_are_made():
    values = {**asdict(RunSettings()), "word_choice_pairs": True, "word_choice_pairs_unfinished": True}
    assert stage_settings("make-data", values)["word_choice_pairs_unfinished"] is True
    # without the pairs an unfinished form changes nothing, so a folder made with either keeps its pairs
    off = {**values, "word_choice_pairs": False}
    ended = {**off, "word_choice_pairs_unfinished": False}
    assert stage_settings("make-data", off) == stage_settings("make-data", ended)
    bounded = {**values, "word_choice_weight_share": 10.0}
    assert stage_settings("make-data", bounded) != stage_settings("make-data", values), "a bound remakes the pairs"
    assert stage_settings("make-data", {**bounded, "word_choice_pairs": False}) == stage_settings("make-data", off)
