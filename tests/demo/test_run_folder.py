"""The demo of a run folder: it loads the run's base, PARM adapter, guidance settings and scorers, refuses a folder
it cannot serve with a clear message, and `peft-pblora demo` reaches it without Gradio in the other commands."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from dataclasses import asdict

import pytest

from peft_pblora.demo import Row
from peft_pblora.demo.errors import RunFolderError
from peft_pblora.demo.loading import load_session
from peft_pblora.pipeline import RunSettings
from peft_pblora.pipeline.cli import main as peft_pblora_main
from peft_pblora.pipeline.settings import SCORERS

from ..conftest import REPO, CountWord, make_peft_model, tiny_chat_tokenizer
from .conftest import PROMPT, tiny_demo_session


@pytest.fixture
def run_folder(tmp_path, monkeypatch):
    """A run folder as `peft-pblora train` leaves it: settings.json naming a local tiny base, and parm_adapter/."""
    monkeypatch.setitem(SCORERS, "count_w5", lambda: CountWord("w5"))
    monkeypatch.setitem(SCORERS, "count_w6", lambda: CountWord("w6"))
    parm, base = make_peft_model("llama", seed=0, lora_alpha=30, objective_names=["count_w5", "count_w6"])
    model_dir, run = tmp_path / "tiny-model", tmp_path / "run"
    base.save_pretrained(model_dir)
    tiny_chat_tokenizer().save_pretrained(model_dir)
    settings = RunSettings(
        output_dir=str(run), base_model=str(model_dir), objectives=["count_w5", "count_w6"], train_prompts=4,
        test_prompts=2, grid_step=0.5, sweep_tokens=8, guidance_beta=0.125, guide_by_log_ratio=True,
        show_progress=False,
    )  # fmt: skip
    run.mkdir()
    (run / "settings.json").write_text(json.dumps(asdict(settings)))
    parm.save_pretrained(run / "parm_adapter")
    return run


def set_setting(run, **values) -> None:
    path = run / "settings.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **values}))


def test_a_run_folder_is_served_with_its_own_guidance_settings(run_folder):
    session = load_session(run_folder, device="cpu")
    assert session.objectives == ["count_w5", "count_w6"]
    assert session.guidance_beta == 0.125 and session.default_strength == 8.0
    assert session.reference == "base"  # guide_by_log_ratio: the PARM's log-ratio to the base
    assert session.grid == [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]] and session.max_new_tokens == 8
    assert [scorer.name for scorer in session.scorers] == ["count_w5", "count_w6"]
    assert session.sweep is None
    rows = [Row(PROMPT, (1.0, 0.0), 8.0), Row(PROMPT, (0.0, 1.0), 8.0), session.unguided_row(PROMPT)]
    assert session.generate(rows) == tiny_demo_session(reference="base").generate(rows)  # the same models


def test_a_run_without_log_ratio_guidance_guides_by_log_probabilities(run_folder):
    set_setting(run_folder, guide_by_log_ratio=False)
    (run_folder / "sweep.json").write_text(json.dumps({"points": [], "base": {}}))
    session = load_session(run_folder, device="cpu", max_new_tokens=5)
    assert session.reference is None and session.max_new_tokens == 5 and session.sweep == {"points": [], "base": {}}


def test_a_folder_the_demo_cannot_serve_is_refused_with_what_to_do(run_folder, tmp_path):
    with pytest.raises(RunFolderError, match="is not a folder"):
        load_session(tmp_path / "missing")
    with pytest.raises(RunFolderError, match="no settings.json.*peft-pblora train"):
        load_session(tmp_path / "tiny-model")
    set_setting(run_folder, method="genarm")
    with pytest.raises(RunFolderError, match="--method genarm"):
        load_session(run_folder)
    set_setting(run_folder, method="parm")
    (run_folder / "parm_adapter" / "adapter_config.json").unlink()
    with pytest.raises(RunFolderError, match=r"no trained PARM adapter \(parm_adapter/adapter_config.json\)"):
        load_session(run_folder)


def test_peft_pblora_demo_exits_with_the_message_for_a_folder_without_an_adapter(run_folder, capsys):
    (run_folder / "parm_adapter" / "adapter_config.json").unlink()
    assert peft_pblora_main(["demo", "--output_dir", str(run_folder)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("peft-pblora demo: error:") and "no trained PARM adapter" in error
    with pytest.raises(SystemExit):
        peft_pblora_main(["demo", "--help"])
    assert "--max_batch_size" in capsys.readouterr().out


def test_gradio_is_imported_only_by_the_demo_page():
    code = (
        "import sys, peft_pblora, peft_pblora.pipeline.cli, peft_pblora.demo, peft_pblora.demo.loading\n"
        "assert 'gradio' not in sys.modules, 'gradio imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_space_entry_point_shows_why_a_folder_cannot_be_served(run_folder, monkeypatch):
    gradio = pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed")
    (run_folder / "parm_adapter" / "adapter_config.json").unlink()
    monkeypatch.setenv("PEFT_PBLORA_RUN", str(run_folder))
    space = runpy.run_path(str(REPO / "app.py"))
    page = space["demo"]
    assert isinstance(page, gradio.Blocks)
    messages = [block.value for block in page.blocks.values() if isinstance(block, gradio.Markdown)]
    assert any("no trained PARM adapter" in message for message in messages)
