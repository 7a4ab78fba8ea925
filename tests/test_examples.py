"""The example scripts run end to end on tiny models."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_runs(capsys):
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "save/load exact: True" in printed
    assert "objectives in alpha order: ['helpful', 'harmless']" in printed
    gap = float(printed.split("max |merged - unmerged| = ")[1].split()[0])
    assert gap < 1e-4


def test_train_and_steer_separates_the_objectives_and_steers(capsys):
    runpy.run_path(str(EXAMPLES / "train_and_steer.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    accuracy = {
        line.split(":")[0]: {
            part.split()[0]: float(part.split()[1]) for part in line.split(": accuracy ")[1].split(", ")
        }
        for line in lines
        if ": accuracy " in line
    }
    assert accuracy["alpha=(1,0)"]["fives"] >= 0.75 and accuracy["alpha=(0,1)"]["sixes"] >= 0.75
    gaps = [float(line.split("= ")[1].split(";")[0]) for line in lines if line.startswith("guided at alpha=")]
    assert len(gaps) == 3 and gaps[0] > gaps[1] > gaps[2], f"guidance must shift towards w6 as alpha does: {gaps}"


def test_serving_many_preferences_in_one_batch_equals_one_call_per_user(capsys):
    runpy.run_path(str(EXAMPLES / "serve_many_preferences.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "one batch == one call per user: True" in printed
    assert printed.count(" alpha=") == 3


def test_merging_for_a_fixed_preference_gives_a_plain_model_with_the_adapter_outputs(capsys):
    runpy.run_path(str(EXAMPLES / "merge_for_fixed_preference.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "merged model type: LlamaForCausalLM" in printed
    assert float(printed.split("max |merged - adapter|")[1].split("]: ")[1].split()[0]) < 1e-4


def test_pareto_evaluation_example_writes_the_plot_and_beats_the_base(tmp_path, capsys):
    namespace = runpy.run_path(str(EXAMPLES / "pareto_evaluation.py"))
    namespace["main"](str(tmp_path / "pareto.png"))
    printed = capsys.readouterr().out
    assert (tmp_path / "pareto.png").stat().st_size > 0
    sweep_hv, base_hv = (
        float(part.split()[-1]) for part in printed.split("hypervolume: ")[1].split(" (")[0].split(",")
    )
    assert sweep_hv > base_hv


def test_genarm_example_reduces_to_one_arm_at_a_vertex(capsys):
    runpy.run_path(str(EXAMPLES / "genarm_baseline.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "alpha=(1, 0) equals the helpful ARM alone: True" in printed
    assert printed.count("alpha=[") == 3


def test_the_end_to_end_api_example_writes_every_artefact(capsys, monkeypatch):
    from peft_pblora.pipeline import settings

    monkeypatch.setattr(settings, "SCORERS", dict(settings.SCORERS))  # the example registers its own objectives
    runpy.run_path(str(EXAMPLES / "end_to_end_api.py"), run_name="__main__")
    printed = capsys.readouterr().out
    for artefact in ("parm_adapter", "preference_data", "report.md", "metrics.json", "pareto.png", "sweep.json"):
        assert f"'{artefact}'" in printed
    assert int(printed.split("trainable parameters: ")[1].split()[0]) > 0
