"""Fuzzing the run's settings (issue 19): any value of any setting either makes valid settings, on which the stages'
own checks pass, or raises a ValueError or TypeError naming that setting; nothing is written either way."""

from __future__ import annotations

import math
import os
import types
import typing
from dataclasses import asdict, fields
from pathlib import Path

import pytest
from datasets import Dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peft_pblora.evaluation import preference_grid
from peft_pblora.guidance.arguments import validate_beta
from peft_pblora.pipeline import RunSettings
from peft_pblora.pipeline.reward_forms import reward_forms_of
from peft_pblora.pipeline.settings import METHODS, SCORERS, SWEEP_DECODINGS, parm_cores
from peft_pblora.pipeline.training import trainer_arguments
from peft_pblora.trainer.loss import SCALARIZATIONS

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))  # more for a longer search
HINTS = typing.get_type_hints(RunSettings)
NAMES = [item.name for item in fields(RunSettings)]
# texts that load nothing: no '/' (a reward model's id), ':' (an import path) or '.' (a file)
PLAIN_TEXT = st.text(st.characters(blacklist_characters="/:.\\\0", blacklist_categories=("Cs",)), max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | PLAIN_TEXT
)
ANY_VALUE = SCALARS | st.lists(SCALARS, max_size=4) | st.dictionaries(PLAIN_TEXT, SCALARS, max_size=2)
CHOICES = {
    "method": list(METHODS),
    "core": parm_cores(),
    "scalarization": list(SCALARIZATIONS),
    "sweep_decoding": list(SWEEP_DECODINGS),
    "probe_decoding": list(SWEEP_DECODINGS),
    "preference_sampling": ["importance", "example", "batch"],
    "device": ["cpu", "cuda", "cuda:7", "meta"],
    "objectives": [*SCORERS, "none"],
}


def typed_values(name: str) -> st.SearchStrategy:
    """Values of the setting's own type, near and past its edges."""
    hint = HINTS[name]
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    strategies = []
    for option in options:
        if option is type(None):
            strategies.append(st.none())
        elif option is bool:
            strategies.append(st.booleans())
        elif option is int:
            strategies.append(st.integers(-3, 400))
        elif option is float:
            strategies.append(st.floats(-2, 2) | st.sampled_from([0.0, 0.25, 0.3, 1.0, math.inf, math.nan, 1e-9]))
        elif option is str:
            strategies.append(st.sampled_from(CHOICES.get(name, ["x"])) | PLAIN_TEXT)
        else:  # a list of texts or of numbers
            item = st.sampled_from(CHOICES.get(name, list(SCORERS)[:4] + ["none"])) | PLAIN_TEXT
            item = st.floats(-1, 5) | st.just(math.nan) if typing.get_args(option)[0] is float else item
            strategies.append(st.lists(item, max_size=4))
    return st.one_of(strategies)


def late_checks(made: RunSettings, tmp_path: Path) -> None:
    """What the stages would do with the settings before any model runs: the sweep's grid, the guidance strength,
    the trainer's arguments; valid settings must pass them."""
    names = made.objective_names
    assert preference_grid(len(names), made.grid_step)
    assert math.isfinite(1 / made.guidance_beta)
    validate_beta(made.guidance_beta)  # guided decoding takes every beta the settings take
    pair = Dataset.from_dict({"prompt": ["w3"], "chosen": ["w4 w5"], "rejected": ["w6"]})
    trainer_arguments(made, reward_forms_of(made, dict.fromkeys(names, pair)), names, tmp_path / "trainer")


@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_setting_is_valid_or_refused_by_name_and_nothing_is_written(tmp_path, data, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = data.draw(st.sampled_from([name for name in NAMES if name != "output_dir"]), label="setting")
    value = data.draw(typed_values(name) | ANY_VALUE, label="value")
    output_dir = tmp_path / "run"
    arguments = {"output_dir": str(output_dir), "device": "cpu", "show_progress": False, name: value}
    if name == "prompts" and isinstance(value, str) and value:
        arguments[name] = str(tmp_path / f"{value}.txt")  # a file that does not exist: never the Hub
    try:
        made = RunSettings(**arguments)
    except (ValueError, TypeError) as error:
        assert name in str(error), f"the error does not name {name}: {error}"
    else:
        late_checks(made, tmp_path)
        again = RunSettings(**{**asdict(made), "device": "cpu"})  # a saved settings.json makes the same settings
        assert asdict(again) == {**asdict(made), "device": "cpu"}
    assert not output_dir.exists()


@pytest.mark.parametrize("below", [False, True])
def test_an_output_dir_that_is_a_file_is_refused(tmp_path, below):
    a_file = tmp_path / "a-file"
    a_file.write_text("kept")
    with pytest.raises(ValueError, match="output_dir"):
        RunSettings(output_dir=str(a_file / "run" if below else a_file), device="cpu")
    assert a_file.read_text() == "kept"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("guidance_beta", 1e-31, "guidance_beta must be a finite number >= 1e-30"),
        ("learning_rate", 10**400, "learning_rate must be a finite number, got an int of 401 digits"),
        ("r2", 10**400, "r2 must be a finite number >= 1"),
        ("more_samples_if_few_pairs", 1, r"more_samples_if_few_pairs must be 0 \(never\) or at least 2"),
    ],
    ids=["beta_below_guidances_bound", "int_past_float_range", "int_setting_past_float_range", "one_more_sample"],
)
def test_a_number_past_what_the_run_can_use_is_refused_by_name(tmp_path, name, value, message):
    with pytest.raises(ValueError, match=message):
        RunSettings(output_dir=str(tmp_path / "run"), device="cpu", **{name: value})
    assert not (tmp_path / "run").exists()
