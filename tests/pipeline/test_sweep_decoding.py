"""The sweep's decoding (`sweep_decoding`): greedy, or sampled from the whole guided distribution from the run's seed;
a change of it redoes the sweep alone, and the report says which. The probe's (`probe_decoding`) likewise, for the
diagnosis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from peft_pblora.evaluation import answer_nll
from peft_pblora.pipeline import Run, RunSettings, run_all
from peft_pblora.pipeline.decoding import decoded_answers
from peft_pblora.pipeline.report import options_other_than_defaults

from ..conftest import tiny_chat_tokenizer, tiny_llama


def sweep_texts(folder: Path) -> list[list[str]]:
    sweep = json.loads((folder / "sweep.json").read_text())
    return [point["texts"] for point in [*sweep["points"], sweep["base"]]]


def test_a_sampled_sweep_redoes_the_sweep_alone_and_the_report_says_so(tiny_run, trainings):
    folder = Path(tiny_run["output_dir"])
    run_all(RunSettings(**tiny_run))
    diagnosis, greedy = (folder / "diagnosis.json").read_bytes(), sweep_texts(folder)
    assert "; greedy, 5 new tokens" in (folder / "report.md").read_text()
    assert json.loads((folder / "metrics.json").read_text())["sweep_decoding"] == "greedy"
    run_all(RunSettings(**tiny_run, sweep_decoding="sample"))
    assert trainings == [1] and (folder / "diagnosis.json").read_bytes() == diagnosis  # the probe is still greedy
    sampled = sweep_texts(folder)
    assert sampled != greedy
    sweep = json.loads((folder / "sweep.json").read_text())
    assert sweep["decoding"]["sweep_decoding"] == "sample"
    assert json.loads((folder / "metrics.json").read_text())["sweep_decoding"] == "sample"  # read by the advice
    assert "; sampled at temperature 1, 5 new tokens" in (folder / "report.md").read_text()
    (folder / "sweep.json").unlink()  # decoded again from the same seed: the same answers
    run_all(RunSettings(**tiny_run, sweep_decoding="sample"))
    assert sweep_texts(folder) == sampled
    run_all(RunSettings(**tiny_run))
    assert sweep_texts(folder) == greedy and trainings == [1]


def test_sampled_answers_draw_from_the_whole_distribution_and_leave_the_global_generator_alone(tiny_run):
    settings = RunSettings(**{**tiny_run, "sweep_batch_size": 64})
    model, tokenizer = tiny_llama(seed=3), tiny_chat_tokenizer()
    rows = [(None, "w7 w8")] * 256
    state = torch.get_rng_state()
    first = decoded_answers(settings, model, tokenizer, rows, None, max_new_tokens=1, sample=True)
    assert torch.equal(torch.get_rng_state(), state)
    # a near-uniform tiny model over 97 tokens: greedy gives one answer, generate's default top-k would give 50 at most
    assert len({answer["text"] for answer in first}) > 60
    greedy = decoded_answers(settings, model, tokenizer, rows, None, max_new_tokens=1)
    assert len({answer["text"] for answer in greedy}) == 1
    assert decoded_answers(settings, model, tokenizer, rows, None, max_new_tokens=1, sample=True) == first
    other_seed = RunSettings(**{**tiny_run, "sweep_batch_size": 64, "seed": 1})
    assert decoded_answers(other_seed, model, tokenizer, rows, None, max_new_tokens=1, sample=True) != first


def test_the_fused_path_samples_the_separate_paths_answers(tiny_run, monkeypatch):
    strong = {**tiny_run, "learning_rate": 5e-2, "lora_alpha": 64.0, "reference_free": False}
    run = Run(RunSettings(**strong))
    rows = [(alpha, prompt) for alpha in ([1.0, 0.0], [0.0, 1.0]) for prompt in run.test_prompts]
    fused = run._answers(rows, sample=True)
    monkeypatch.setattr(Run, "guidance_path", property(lambda self: "separate"))
    assert run._answers(rows, sample=True) == fused
    assert run._answers(rows) != fused, "sampling must change the answers, or the comparison proves nothing"


def probe_texts(folder: Path) -> list[list[str]]:
    diagnosis = json.loads((folder / "diagnosis.json").read_text())
    return [vertex["texts"] for vertex in diagnosis["probe"]["vertices"]]


def test_a_sampled_probe_redoes_the_diagnosis_and_draws_its_answers_from_the_runs_seed(
    tiny_run, trainings, monkeypatch
):
    folder = Path(tiny_run["output_dir"])
    Run(RunSettings(**tiny_run)).diagnose()
    greedy = probe_texts(folder)
    calls, answers = [], Run._answers

    def recorded_answers(self, rows, objective_strengths=None, max_new_tokens=None, sample=False):
        calls.append((max_new_tokens, sample))
        return answers(self, rows, objective_strengths, max_new_tokens, sample)

    monkeypatch.setattr(Run, "_answers", recorded_answers)
    sampled_run = Run(RunSettings(**tiny_run, probe_decoding="sample"))
    sampled_run.diagnose()
    sampled = probe_texts(folder)
    assert trainings == [1] and sampled != greedy
    assert set(calls) == {(None, True), (sampled_run.empty_check_tokens, True)}  # probe and check
    (folder / "diagnosis.json").unlink()
    Run(RunSettings(**tiny_run, probe_decoding="sample")).diagnose()
    assert probe_texts(folder) == sampled  # drawn again from the run's seed: the same answers
    assert "--probe_decoding sample" in " ".join(options_other_than_defaults(sampled_run.settings))


@pytest.mark.parametrize("setting", ["sweep_decoding", "probe_decoding"])
def test_an_unknown_decoding_is_refused_before_any_work(tiny_run, setting):
    with pytest.raises(ValueError, match=f"unknown {setting} 'beam'; choose one of"):
        RunSettings(**tiny_run, **{setting: "beam"})
    assert not Path(tiny_run["output_dir"]).exists()


def test_the_sweep_measures_each_points_answers_under_the_base_and_the_report_shows_it(tiny_run, trainings):
    run_all(RunSettings(**tiny_run))
    folder = Path(tiny_run["output_dir"])
    sweep = json.loads((folder / "sweep.json").read_text())
    base = tiny_llama(seed=2).eval()  # the run's base model (tiny_run saved this one)
    tokenizer = tiny_chat_tokenizer()
    for point in [*sweep["points"], sweep["base"]]:
        values = [
            nll for nll in answer_nll(base, tokenizer, sweep["prompts"], point["texts"], batch_size=1) if nll == nll
        ]
        expected = sum(values) / len(values) if values else None
        assert point["quality"]["base_nll"] == pytest.approx(expected, abs=1e-4)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["base_nll_unguided"] == sweep["base"]["quality"]["base_nll"]
    assert metrics["base_nll_at_vertex"]["count_w5"] == sweep["points"][0]["quality"]["base_nll"]  # alpha (1, 0)
    report = (folder / "report.md").read_text()
    assert "| empty | unfinished | repetitive | base NLL / token |" in report
    assert f"| {sweep['base']['quality']['base_nll']:.2f} |" in report.split("base, unguided")[1].splitlines()[0]
    assert sweep["decoding"]["base_likelihood_seconds"] > 0
    assert (folder / "scores.csv").read_text().splitlines()[0].endswith(",empty,unfinished,repetitive,base_nll")
