"""Each objective's reward form chosen from its pairs (`pipeline.reward_forms`): the mean log-probability where the
pairs follow length, the summed one elsewhere, what the settings give kept, a warning where a setting given by hand
sums a reward whose pairs follow length, and training's fingerprint recording the forms as trained."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from datasets import Dataset

from peft_pblora.pipeline import Run, RunSettings, run_all, training
from peft_pblora.pipeline.fingerprints import Fingerprints
from peft_pblora.pipeline.report import reward_forms_section
from peft_pblora.pipeline.reward_forms import (
    BETA_R_MEAN,
    BETA_R_SUM,
    choose_reward_forms,
    reward_forms_of,
    with_reward_forms,
)


def pairs(chosen: list[str], rejected: list[str]) -> Dataset:
    return Dataset.from_dict({"prompt": ["p"] * len(chosen), "chosen": chosen, "rejected": rejected})


SHORTER_CHOSEN = pairs(["a", "a", "a b", "a"], ["a b c", "a b", "a", "b c"])  # sign -0.5
EITHER = pairs(["a", "a b c", "a b"], ["a b", "a", "c d"])  # sign 0
DEFAULT_PAIRS = {"positivity": EITHER, "conciseness": SHORTER_CHOSEN}


def test_pairs_that_follow_length_get_the_mean_reward_and_its_scale():
    forms = reward_forms_of(RunSettings(), DEFAULT_PAIRS)
    assert forms.length_normalized_rewards == ["conciseness"]
    assert forms.beta_r == [BETA_R_SUM, BETA_R_MEAN]
    assert forms.length_signs == {"positivity": 0.0, "conciseness": -0.5} and forms.chosen_from_pairs
    assert forms.record() == {
        "chosen_from_pairs": True,
        "length_following_sign": 0.5,
        "objectives": {
            "positivity": {"reward": "summed", "beta_r": BETA_R_SUM, "length_sign": 0.0},
            "conciseness": {"reward": "mean", "beta_r": BETA_R_MEAN, "length_sign": -0.5},
        },
    }
    # the rule looks at the pairs, not at the name: conciseness whose pairs ignore length is summed
    swapped = reward_forms_of(RunSettings(), {"positivity": SHORTER_CHOSEN, "conciseness": EITHER})
    assert swapped.length_normalized_rewards == ["positivity"] and swapped.beta_r == [BETA_R_MEAN, BETA_R_SUM]


def test_forms_the_settings_give_are_kept():
    given = reward_forms_of(RunSettings(length_normalized_rewards=["none"]), DEFAULT_PAIRS)
    assert given.length_normalized_rewards == [] and given.beta_r == [BETA_R_SUM] * 2 and not given.chosen_from_pairs
    scaled = reward_forms_of(RunSettings(beta_r=[0.3]), DEFAULT_PAIRS)  # the forms from the pairs, the scale given
    assert scaled.length_normalized_rewards == ["conciseness"] and scaled.beta_r == [0.3]
    assert scaled.record()["objectives"]["positivity"]["beta_r"] == 0.3


def test_a_summed_reference_free_reward_on_pairs_that_follow_length_is_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="peft_pblora.pipeline"):
        reward_forms_of(RunSettings(length_normalized_rewards=["none"]), DEFAULT_PAIRS)
    assert len(caplog.records) == 1
    assert "conciseness's pairs follow length (length sign -0.50)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="peft_pblora.pipeline"):
        reward_forms_of(RunSettings(length_normalized_rewards=["none"], reference_free=False), DEFAULT_PAIRS)
        reward_forms_of(
            RunSettings(length_normalized_rewards=["none"], reference_relative_rewards=["conciseness"]), DEFAULT_PAIRS
        )
        reward_forms_of(RunSettings(), DEFAULT_PAIRS)
    assert not caplog.records  # relative to the starting model, or chosen by the rule: nothing to warn about


def test_rewards_relative_to_the_start_take_their_form_from_the_pairs_too(tmp_path):
    # the guide's recipe for objectives that do not steer: --no_reference_free, the forms left to the pairs
    settings = RunSettings(output_dir=str(tmp_path), reference_free=False)
    forms = reward_forms_of(settings, DEFAULT_PAIRS)
    assert forms.chosen_from_pairs and forms.length_normalized_rewards == ["conciseness"]
    names = ["positivity", "conciseness"]
    config = training.trainer_arguments(settings, forms, names, tmp_path)
    assert config.reference_relative_per_objective(names) == [True, True]
    assert config.length_normalized_per_objective(names) == [False, True]  # the mean log-ratio for conciseness
    assert config.beta_r_per_objective(2) == [BETA_R_SUM, BETA_R_MEAN]
    assert settings.guide_by_log_ratio  # guided by the log-ratio it was trained on


def test_settings_values_get_the_forms_only_where_they_leave_them_open():
    names = ["positivity", "conciseness"]
    open_values = {"length_normalized_rewards": None, "beta_r": None, "epochs": 1}
    settled = with_reward_forms(open_values, names, DEFAULT_PAIRS)
    assert settled == {"length_normalized_rewards": ["conciseness"], "beta_r": [0.1, 4.0], "epochs": 1}
    given = {"length_normalized_rewards": [], "beta_r": [0.2]}
    assert with_reward_forms(given, names, DEFAULT_PAIRS) == given
    assert with_reward_forms(open_values, names, None) == open_values  # no pairs yet
    assert with_reward_forms(open_values, ["positivity", "other"], DEFAULT_PAIRS) == open_values
    assert choose_reward_forms(names, None, [0.5, 0.5], DEFAULT_PAIRS).beta_r == [0.5, 0.5]
    scale_given = with_reward_forms({"length_normalized_rewards": None, "beta_r": [0.3]}, names, DEFAULT_PAIRS)
    assert scale_given == {"length_normalized_rewards": ["conciseness"], "beta_r": [0.3]}


def test_the_report_says_how_each_objective_was_rewarded_and_who_chose():
    chosen = reward_forms_section({"reward_forms": reward_forms_of(RunSettings(), DEFAULT_PAIRS).record()})
    assert chosen == [
        "Rewards in training: positivity summed log-probability (beta_r 0.1; length sign +0.00); conciseness mean "
        "log-probability per token (beta_r 4; length sign -0.50); chosen from the pairs: the mean where |length "
        "sign| >= 0.5."
    ]
    given = reward_forms_of(RunSettings(length_normalized_rewards=["none"]), DEFAULT_PAIRS).record()
    assert reward_forms_section({"reward_forms": given})[0].endswith(
        "as the settings' length_normalized_rewards says."
    )
    assert reward_forms_section({}) == []  # a metrics.json made before reward forms were recorded


def test_the_run_trains_with_the_forms_its_pairs_choose_and_fingerprints_them(tiny_run, monkeypatch):
    arguments: list = []
    trainer_arguments = training.trainer_arguments
    monkeypatch.setattr(
        training, "trainer_arguments", lambda *args: arguments.append(args[1]) or trainer_arguments(*args)
    )
    run = Run(RunSettings(**tiny_run))
    run.train()
    data = run.make_data()
    expected = choose_reward_forms(["count_w5", "conciseness"], None, None, data)
    assert arguments == [expected] and run.reward_forms == expected
    recorded = Fingerprints(run.path).read("train")["settings"]
    assert recorded["length_normalized_rewards"] == expected.length_normalized_rewards
    assert recorded["beta_r"] == expected.beta_r
    adapter = json.loads((run.path / "parm_adapter" / "adapter_config.json").read_text())
    assert adapter["beta_r"] == expected.beta_r
    assert json.loads((run.path / "settings.json").read_text())["length_normalized_rewards"] is None


def test_a_folder_that_named_the_forms_the_rule_gives_is_not_trained_again(tiny_run, trainings):
    started = trainings
    folder = Path(tiny_run["output_dir"])
    run_all(RunSettings(**tiny_run))
    forms = json.loads((folder / "metrics.json").read_text())["reward_forms"]["objectives"]
    named = [name for name, form in forms.items() if form["reward"] == "mean"]
    scales = [form["beta_r"] for form in forms.values()]
    # as a folder made when the settings named the forms: the same forms given by hand are the same training
    run_all(RunSettings(**tiny_run, length_normalized_rewards=named or ["none"], beta_r=scales))
    assert started == [1]
    shutil.rmtree(folder / "fingerprints")  # and one made before fingerprints, with the forms left open
    run_all(RunSettings(**tiny_run))
    assert started == [1]
    other = [name for name in forms if name not in named]
    run_all(RunSettings(**tiny_run, length_normalized_rewards=other or ["none"]))  # other forms: trained again
    assert started == [1, 1]


def test_a_folder_without_fingerprints_whose_settings_leave_the_forms_open_is_not_trained_again(tiny_run, trainings):
    Run(RunSettings(**tiny_run)).train()
    shutil.rmtree(Path(tiny_run["output_dir"]) / "fingerprints")  # its settings.json leaves the forms open
    Run(RunSettings(**tiny_run)).train()
    assert trainings == [1]
