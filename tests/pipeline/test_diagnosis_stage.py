"""The diagnosis before the sweep: held-out pair accuracy from the trainer, the guided probe, flags in the run."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from datasets import Dataset, load_from_disk

from peft_pblora import PARMTrainer, PBLoraConfig
from peft_pblora.data.more_samples import more_samples_mask
from peft_pblora.data.pairing import cut_from_another
from peft_pblora.data.preference_pairs import pairing_record
from peft_pblora.evaluation import Conciseness, answer_nll
from peft_pblora.evaluation.steering_diagnosis import diagnose, pair_accuracy_at_vertices
from peft_pblora.evaluation.steering_flags import ADVICE
from peft_pblora.pipeline import Run, RunSettings, run_all, training
from peft_pblora.pipeline.cli import parse_settings, settings_of_existing_run
from peft_pblora.pipeline.diagnosis import choose_probe_prompts, held_out_prompts, split_pairs
from peft_pblora.pipeline.pairing_lines import pairing_section
from peft_pblora.pipeline.report import diagnosis_section
from peft_pblora.pipeline.settings import SCORERS

from ..conftest import parm_args, tiny_chat_tokenizer, tiny_llama, tiny_tokenizer


def word_prompts(count: int, seed: int) -> list[str]:
    generator = torch.Generator().manual_seed(seed)
    return [" ".join(f"w{int(t)}" for t in torch.randint(10, 90, (4,), generator=generator)) for _ in range(count)]


def signal_and_random_pairs(count: int, seed: int) -> dict[str, Dataset]:
    """'signal' always prefers the answer made of w5 over the one made of w6; 'random' prefers one of two random
    answers at random, so nothing it teaches carries over to other prompts."""
    generator = torch.Generator().manual_seed(seed + 100)
    prompts = word_prompts(count, seed)
    random_answers = [
        [" ".join(f"w{int(t)}" for t in torch.randint(10, 90, (3,), generator=generator)) for _ in range(2)]
        for _ in range(count)
    ]
    return {
        "signal": Dataset.from_dict(
            {"prompt": prompts, "chosen": ["w5 w5 w5"] * count, "rejected": ["w6 w6 w6"] * count}
        ),
        "random": Dataset.from_dict(
            {
                "prompt": prompts,
                "chosen": [answers[0] for answers in random_answers],
                "rejected": [answers[1] for answers in random_answers],
            }
        ),
    }


def test_held_out_pair_accuracy_flags_pairs_without_signal_and_passes_pairs_with_one(tmp_path):
    train, held_out = signal_and_random_pairs(32, seed=0), signal_and_random_pairs(16, seed=1)
    trainer = PARMTrainer(
        model=tiny_llama(seed=1),
        args=parm_args(tmp_path, per_device_train_batch_size=4, num_train_epochs=3, learning_rate=1e-2),
        train_dataset=train,
        eval_dataset=held_out,
        processing_class=tiny_tokenizer(),
        peft_config=PBLoraConfig(
            r1=0,
            r2=4,
            num_preferences=2,
            core="per_objective",
            lora_alpha=8,
            lora_dropout=0.0,
            target_modules=["q_proj", "v_proj"],
        ),  # fmt: skip
    )
    trainer.train()
    objectives = trainer.objectives
    accuracy = pair_accuracy_at_vertices(trainer.evaluate(), objectives)
    verdicts = {item.objective: item for item in diagnose(objectives, accuracy, dict.fromkeys(objectives, 16), {})}
    assert accuracy["signal"]["own"] > 0.9
    assert verdicts["signal"].flags == []
    assert "no_pair_signal" in verdicts["random"].flags


def test_held_out_prompts_and_probe_prompts_stay_out_of_the_split():
    train = [f"t{index}" for index in range(20)]
    held = held_out_prompts(train, 0.1, seed=0)
    assert len(held) == 2 and set(held) <= set(train)
    assert held == held_out_prompts(train, 0.1, seed=0) and held_out_prompts(train, 0.0, seed=0) == []
    assert len(held_out_prompts(train[:3], 0.01, seed=0)) == 1  # at least one, never all of them
    pool = train + [f"x{index}" for index in range(5)]
    probe = choose_probe_prompts(pool, train, 3, seed=0)
    assert len(probe) == 3 and not set(probe) & set(train)
    assert sorted(choose_probe_prompts(pool, train, 50, seed=0)) == sorted(pool[20:])
    pairs = signal_and_random_pairs(4, seed=0)
    kept, out = split_pairs(pairs, ["signal", "random"], pairs["signal"]["prompt"][:1])
    assert len(kept["signal"]) == 3 and len(out["signal"]) == 1 and out["random"]["prompt"] == out["signal"]["prompt"]


def even_numbered(word: str) -> bool:
    return word[1:].isdigit() and int(word[1:]) % 2 == 0


class FrozenAfterPairing:
    """An objective the sampled answers vary (how many of their words have an even number) but no guided answer
    can: once `frozen` is set, after the pairs are made, every answer scores 0.5. The probe must flag it."""

    name = "frozen"
    frozen = False

    def __call__(self, prompts, responses):
        if FrozenAfterPairing.frozen:
            return [0.5] * len(responses)
        return [
            float(sum(word[1:].isdigit() and int(word[1:]) % 2 == 0 for word in response.split()))
            for response in responses
        ]


@pytest.fixture
def tiny_settings(tmp_path, monkeypatch):
    model_dir = tmp_path / "tiny-model"
    tiny_llama(seed=2).save_pretrained(model_dir)
    tiny_chat_tokenizer().save_pretrained(model_dir)
    monkeypatch.setitem(SCORERS, "frozen", FrozenAfterPairing)
    monkeypatch.setattr(FrozenAfterPairing, "frozen", False)
    monkeypatch.setitem(SCORERS, "conciseness", lambda: Conciseness(max_words=8))
    return dict(
        output_dir=str(tmp_path / "run"), base_model=str(model_dir), objectives=["conciseness", "frozen"],
        train_prompts=10, test_prompts=2, samples_per_prompt=4, sample_tokens=8, sample_batch_size=8, epochs=1,
        batch_size=2, learning_rate=1e-3, grid_step=1.0, sweep_tokens=5, sweep_batch_size=8, max_length=64,
        target_modules=["q_proj", "v_proj"], show_progress=False, held_out_pair_share=0.2, probe_prompts=4,
        empty_answer_check_prompts=0,  # the empty-answer check has tests of its own, below
    )  # fmt: skip


def pairs_then_frozen(settings: dict) -> None:
    Run(RunSettings(**settings)).make_data()
    FrozenAfterPairing.frozen = True


def test_the_run_diagnoses_before_the_sweep_and_reports_it(tiny_settings, caplog):
    pairs_then_frozen(tiny_settings)
    metrics = run_all(RunSettings(**tiny_settings, reference_free=False))  # frozen summed log-ratio, conciseness mean
    run = RunSettings(**tiny_settings).path
    diagnosis = json.loads((run / "diagnosis.json").read_text())
    assert len(diagnosis["probe"]["prompts"]) == 4 and len(diagnosis["probe"]["vertices"]) == 2
    assert not set(diagnosis["probe"]["prompts"]) & set(json.loads((run / "sweep.json").read_text())["prompts"])
    frozen = next(item for item in diagnosis["objectives"] if item["objective"] == "frozen")
    assert frozen["probe_effect"] == 0.0 and "does_not_steer" in frozen["flags"]
    assert any("'frozen': does_not_steer" in record.message for record in caplog.records)
    evaluation = json.loads((run / "parm_adapter/held_out_evaluation.json").read_text())
    assert set(evaluation["pairs"]) == {"conciseness", "frozen"} and sum(evaluation["pairs"].values()) > 0
    assert frozen["held_out_pairs"] == evaluation["pairs"]["frozen"]
    assert frozen["pair_accuracy_at_own_vertex"] == evaluation["metrics"]["eval_frozen_accuracy@alpha=(0,1)"]
    assert metrics["steering_diagnosis"] == diagnosis["objectives"]
    logged = [entry["objective/frozen/margin"] for entry in json.loads((run / "train_log.json").read_text())
              if "objective/frozen/margin" in entry]  # fmt: skip
    last_third = logged[-max(1, len(logged) // 3) :]
    assert frozen["training_margin"] == pytest.approx(sum(map(float, last_third)) / len(last_third))
    assert diagnosis["training_margins"]["frozen"] == frozen["training_margin"]
    conciseness = next(item for item in diagnosis["objectives"] if item["objective"] == "conciseness")
    assert conciseness["training_margin"] is None and "not_learned" not in conciseness["flags"]  # a per-token margin
    assert ("not_learned" in frozen["flags"]) == (frozen["training_margin"] < 1.0)
    report = (run / "report.md").read_text()
    assert "Diagnosis before the sweep" in report and "does_not_steer" in report and "training margin" in report
    timings = json.loads((run / "timings.json").read_text())
    assert list(timings)[:4] == ["make-data", "train", "diagnose", "sweep"]


def test_stop_on_flags_stops_before_the_sweep(tiny_settings):
    pairs_then_frozen(tiny_settings)
    with pytest.raises(RuntimeError, match="stopped before the sweep .*'frozen': does_not_steer"):
        run_all(RunSettings(**tiny_settings, stop_on_flags=True))
    run = RunSettings(**tiny_settings).path
    assert (run / "diagnosis.json").is_file() and not (run / "sweep.json").exists()
    metrics = run_all(RunSettings(**tiny_settings))  # the same folder continues without the flag
    assert (run / "sweep.json").is_file() and metrics["steering_diagnosis"]


def test_diagnosis_settings_are_checked(tiny_settings):
    with pytest.raises(ValueError, match="held_out_pair_share"):
        RunSettings(**{**tiny_settings, "held_out_pair_share": 1.0})
    for probe_prompts in (-1, 1):
        with pytest.raises(ValueError, match="probe_prompts"):
            RunSettings(**{**tiny_settings, "probe_prompts": probe_prompts})


def test_held_out_pairs_stay_out_of_training(tiny_settings, monkeypatch):
    seen = {}

    class RecordingTrainer(training.PARMTrainer):
        def __init__(self, *args, train_dataset, eval_dataset, **kwargs):
            seen["train"], seen["eval"] = train_dataset, eval_dataset
            super().__init__(*args, train_dataset=train_dataset, eval_dataset=eval_dataset, **kwargs)

    monkeypatch.setattr(training, "PARMTrainer", RecordingTrainer)
    run = Run(RunSettings(**tiny_settings))
    run.train()
    held = set(held_out_prompts(run.train_prompts, 0.2, seed=0))
    assert len(held) == 2
    for name, pairs in seen["train"].items():
        assert not held & set(pairs["prompt"])
        assert set(seen["eval"][name]["prompt"]) <= held and len(seen["eval"][name])


def diagnosis_with_probe_answers(tiny_settings: dict, monkeypatch, frozen_vertex_answer: str) -> dict:
    """The diagnosis of a trained run whose probe answers "w6" at conciseness's vertex and `frozen_vertex_answer` at
    the other's; from then on the frozen objective counts even-numbered words."""
    pairs_then_frozen(tiny_settings)
    FrozenAfterPairing.frozen = False
    run = Run(RunSettings(**tiny_settings))
    run.train()

    def answers(rows, objective_strengths=None, sample=False):
        return [
            {"text": "w6" if alpha[0] == 1.0 else frozen_vertex_answer, "finished": True, "new_tokens": 6}
            for alpha, _ in rows
        ]

    monkeypatch.setattr(run, "_answers", answers)
    return {item["objective"]: item for item in run.diagnose()["objectives"]}


def test_the_probe_scores_each_vertex_with_its_own_answers(tiny_settings, monkeypatch):
    """Answers that name their vertex: one word at conciseness's, six at the other's (six different even-numbered
    words: no phrase repeated). A swapped vertex order would give both objectives negative effects."""
    effects = diagnosis_with_probe_answers(tiny_settings, monkeypatch, "w2 w4 w6 w8 w10 w12")
    assert effects["conciseness"]["probe_effect"] == pytest.approx((1 - 1 / 8) - (1 - 6 / 8))
    assert effects["frozen"]["probe_effect"] == pytest.approx(6 - 1)
    assert effects["conciseness"]["steers"] and effects["frozen"]["steers"]  # margin flags, if any, are advice
    assert effects["frozen"]["degenerate_share_at_vertex"] == 0.0


def test_a_probe_whose_answers_repeat_themselves_at_a_vertex_flags_that_objective(tiny_settings, monkeypatch):
    effects = diagnosis_with_probe_answers(tiny_settings, monkeypatch, "w6 w6 w6 w6 w6 w6")
    assert effects["frozen"]["probe_effect"] == pytest.approx(6 - 1)  # it rises at its vertex, by repeating itself
    assert "degenerate_at_vertex" in effects["frozen"]["flags"] and not effects["frozen"]["steers"]
    assert "degenerate_at_vertex" not in effects["conciseness"]["flags"]


def answers_by_strength(run: Run, decoded_at: list) -> Callable:
    """Stand-in answers: "w6" at conciseness's vertex; at the frozen objective's, a repeated phrase above strength
    0.25, six even-numbered words at 0.25 and five even and one odd at 0.125 (what the frozen scorer, which counts
    even-numbered words, ranks below 0.25's)."""

    def answers(rows, objective_strengths=None, sample=False):
        strengths = run.objective_strengths if objective_strengths is None else objective_strengths
        decoded_at.append(list(strengths))
        frozen_answer = {0.25: "w2 w4 w6 w8 w10 w12", 0.125: "w2 w4 w6 w8 w10 w13"}.get(strengths[1], "w6 " * 6)
        return [
            {"text": "w6" if alpha[0] == 1.0 else frozen_answer.strip(), "finished": True, "new_tokens": 6}
            for alpha, _ in rows
        ]

    return answers


def test_an_objective_whose_probe_degenerates_at_its_vertex_is_weakened(tiny_settings, monkeypatch):
    """The frozen objective's vertex answers repeat themselves above strength 0.25; conciseness's never do: the
    diagnosis probes every vertex at 1, 0.5, 0.25 and 0.125 and the sweep guides at (1, 0.25), the strongest
    combination without a degenerate vertex (0.125 ties with it on the t statistic: both rises have no spread), the
    strengths its fingerprint and report name."""
    pairs_then_frozen(tiny_settings)
    settings = RunSettings(**tiny_settings, weaker_objective_strengths=[0.5, 0.25, 0.125])
    run = Run(settings)
    run.train()
    decoded_at = []
    monkeypatch.setattr(run, "_answers", answers_by_strength(run, decoded_at))
    metrics = run.report()
    diagnosis = json.loads((settings.path / "diagnosis.json").read_text())
    tried = {tuple(entry["objective_strengths"].values()): entry for entry in diagnosis["strengths_tried"]}
    assert len(tried) == 16 and tried[(1.0, 0.5)]["degenerate_at_vertex"] == ["frozen"]
    assert tried[(0.125, 0.125)]["degenerate_at_vertex"] == []
    assert diagnosis["objective_strengths"] == {"conciseness": 1.0, "frozen": 0.25}
    levels = [[1.0, 1.0], [0.5, 0.5], [0.25, 0.25], [0.125, 0.125]]
    assert decoded_at == [*levels, [1.0, 0.25]]  # one probe per strength, then the sweep
    assert [probed["strength"] for probed in diagnosis["probe_at_strength"]] == [1.0, 0.5, 0.25, 0.125]
    frozen = next(item for item in diagnosis["objectives"] if item["objective"] == "frozen")
    assert "degenerate_at_vertex" not in frozen["flags"]  # the flags are the chosen strengths'
    assert json.loads((settings.path / "sweep.json").read_text())["objective_strengths"] == [1.0, 0.25]
    assert metrics["objective_strengths"] == [1.0, 0.25]
    report = (settings.path / "report.md").read_text()
    assert "(frozen x0.25: the strengths the probe found steer best)" in report
    again = Run(settings)
    assert again._is_current("diagnose") and again._is_current("sweep")

    def odd_words(self, prompts, responses):  # the frozen scorer changes: odd-numbered words now
        return [float(sum(int(word[1:]) % 2 for word in response.split())) for response in responses]

    monkeypatch.setattr(FrozenAfterPairing, "__call__", odd_words)
    decoded_again = []
    rescored = Run(settings)
    monkeypatch.setattr(rescored, "_answers", answers_by_strength(rescored, decoded_again))
    assert rescored.report()["objective_strengths"] == [1.0, 0.125]  # chosen again from the kept answers
    assert decoded_again == [[1.0, 0.125]]  # no probe decoded again; the sweep redone at the new strengths
    kept = json.loads((settings.path / "diagnosis.json").read_text())
    chosen = next(entry for entry in kept["strengths_tried"] if entry["objective_strengths"]["frozen"] == 0.125
                  and entry["objective_strengths"]["conciseness"] == 1.0)  # fmt: skip
    assert chosen["probe_t_statistics"] == {"conciseness": None, "frozen": None}  # rises without spread: +inf
    assert kept["probe"]["effects"]["frozen"]["effect"] == pytest.approx(1.0)


@pytest.mark.parametrize("weaker", [[0.5], []])
def test_an_objective_the_probe_cannot_judge_is_guided_at_a_stronger_strength(tiny_settings, monkeypatch, weaker):
    """The frozen objective (now counting even-numbered words) shows at its own vertex on the first probe prompt only,
    at every strength: the probe cannot judge it at full strength, so it probes 2 as well (and the weaker strengths
    given), and the sweep guides frozen at 2, the strongest, while conciseness, which the probe judges, stays at full
    strength; with no weaker strength given too."""
    pairs_then_frozen(tiny_settings)
    FrozenAfterPairing.frozen = False
    settings = RunSettings(**tiny_settings, weaker_objective_strengths=weaker, stronger_objective_strengths=[2.0])
    run = Run(settings)
    run.train()
    decoded_at = []

    def answers(rows, objective_strengths=None, sample=False):
        decoded_at.append(list(run.objective_strengths if objective_strengths is None else objective_strengths))
        rare = {(1.0, 0.0): "w6", (0.0, 1.0): "w6 w1 w3 w5 w7 w9"}
        shown = "w6 w8 w1 w3 w5 w7"
        texts = [shown if alpha[1] == 1.0 and prompt == run.probe_prompts[0] else rare[tuple(alpha)] for alpha, prompt
                 in rows] if all(tuple(alpha) in rare for alpha, _ in rows) else ["w6"] * len(rows)  # fmt: skip
        return [{"text": text, "finished": True, "new_tokens": 6} for text in texts]

    monkeypatch.setattr(run, "_answers", answers)
    metrics = run.report()
    diagnosis = json.loads((settings.path / "diagnosis.json").read_text())
    frozen = next(item for item in diagnosis["objectives"] if item["objective"] == "frozen")
    assert frozen["flags"] == ["probe_cannot_tell"]
    levels = [1.0, *weaker, 2.0]
    assert [probed["strength"] for probed in diagnosis["probe_at_strength"]] == levels
    assert diagnosis["objective_strengths"] == {"conciseness": 1.0, "frozen": 2.0}
    assert decoded_at[:-1] == [[level, level] for level in levels] and decoded_at[-1] == [1.0, 2.0]
    assert metrics["objective_strengths"] == [1.0, 2.0]
    assert "(frozen x2: the strengths the probe found steer best)" in (settings.path / "report.md").read_text()


def greedy_answer_by_hand(model, tokenizer, prompt: str, new_tokens: int) -> str:
    """One prompt's greedy answer, unpadded (every token attended, the tiny vocabulary's unknown words too, whose id is
    the pad token's), rendered as a user turn."""
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)  # fmt: skip
    ids = torch.tensor([tokenizer(rendered, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        generated = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                   max_new_tokens=new_tokens, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    tokens = generated[0, ids.shape[1] :]
    return tokenizer.decode(tokens, skip_special_tokens=True).strip()


def mean_of_answers_with_tokens(values: list[float]) -> float | None:
    kept = [value for value in values if value == value]
    return sum(kept) / len(kept) if kept else None


def test_the_probe_reads_its_vertices_likelihood_under_the_base_against_the_bases_own_answers(tiny_settings):
    """The diagnosis keeps the base's own greedy answers to the probe prompts (each decoded again here alone,
    unpadded) and its likelihood of them; each vertex's `base_nll` is the base's likelihood of that vertex's answers,
    recomputed one answer at a time, and its off-language share counts those 3 nats a token above the reference."""
    settings = RunSettings(**tiny_settings)
    record = Run(settings).diagnose()
    base = tiny_llama(seed=2).eval()  # the run's base model (tiny_settings saved this one)
    tokenizer = tiny_chat_tokenizer()
    prompts = record["probe"]["prompts"]
    unguided = record["probe"]["unguided"]
    assert unguided["texts"] == [greedy_answer_by_hand(base, tokenizer, prompt, 5) for prompt in prompts]
    reference = mean_of_answers_with_tokens(answer_nll(base, tokenizer, prompts, unguided["texts"], batch_size=1))
    assert unguided["base_nll"] == pytest.approx(reference, abs=1e-4) and unguided["seconds"] > 0
    for vertex in record["probe"]["vertices"]:
        values = answer_nll(base, tokenizer, prompts, vertex["texts"], batch_size=1)
        assert vertex["quality"]["base_nll"] == pytest.approx(mean_of_answers_with_tokens(values), abs=1e-4)
        off = sum(value >= reference + 3.0 for value in values if value == value) / len(values)
        assert vertex["quality"]["off_language"] == pytest.approx(off)
    gaps = {item["objective"]: item["base_nll_gap_at_vertex"] for item in record["objectives"]}
    for name, vertex in zip(settings.objective_names, record["probe"]["vertices"], strict=True):
        if vertex["quality"]["base_nll"] is not None:
            assert gaps[name] == pytest.approx(vertex["quality"]["base_nll"] - unguided["base_nll"])


def test_an_objective_whose_probe_answers_leave_the_bases_language_is_weakened(tiny_settings, monkeypatch):
    """Stand-in likelihoods: the base finds an answer with "w14" 6 nats a token unlikely, every other 0.7. The frozen
    objective's vertex writes it above strength 0.25 (its probe rises there, repeating nothing): flagged
    off_language_at_vertex at full strength, it is guided at 0.25, the strongest strength where its vertex stays in
    the base's language; conciseness keeps full strength."""
    pairs_then_frozen(tiny_settings)
    settings = RunSettings(**tiny_settings, weaker_objective_strengths=[0.5, 0.25])
    run = Run(settings)
    run.train()

    def answers(rows, objective_strengths=None, sample=False):
        strengths = run.objective_strengths if objective_strengths is None else objective_strengths
        frozen_answer = "w2 w4 w6 w8 w10 w12" if strengths[1] <= 0.25 else "w2 w4 w6 w8 w10 w12 w14"
        return [
            {"text": "w6" if alpha[0] == 1.0 else frozen_answer, "finished": True, "new_tokens": 6}
            for alpha, _ in rows
        ]

    def likelihoods(prompts, texts):
        return [6.0 if "w14" in text.split() else 0.7 for text in texts]

    monkeypatch.setattr(run, "_answers", answers)
    monkeypatch.setattr(run, "_answers_nll", likelihoods)
    record = run.diagnose()
    tried = {tuple(entry["objective_strengths"].values()): entry for entry in record["strengths_tried"]}
    assert tried[(1.0, 1.0)]["degenerate_at_vertex"] == ["frozen"] and tried[(1.0, 0.25)]["degenerate_at_vertex"] == []
    assert record["objective_strengths"] == {"conciseness": 1.0, "frozen": 0.25}
    at_full = next(probed for probed in record["probe_at_strength"] if probed["strength"] == 1.0)
    frozen_vertex = at_full["vertices"][1]["quality"]
    assert frozen_vertex["base_nll"] == 6.0 and frozen_vertex["off_language"] == 1.0
    frozen = next(item for item in record["objectives"] if item["objective"] == "frozen")
    assert frozen["base_nll_gap_at_vertex"] == pytest.approx(0.0) and "off_language_at_vertex" not in frozen["flags"]
    flagged = {**frozen, "base_nll_gap_at_vertex": 5.3, "flags": ["off_language_at_vertex"],
               "advice": [ADVICE["off_language_at_vertex"]]}  # fmt: skip
    section = diagnosis_section({"steering_diagnosis": [flagged]})
    assert "| base NLL / token above its own | flags |" in section[2]
    assert "| +5.30 | off_language_at_vertex |" in section[4]


def test_a_probe_whose_answers_have_no_token_reads_no_likelihood_and_flags_nothing(tiny_settings, monkeypatch):
    """Every answer empty to the likelihood (NaN each, as `answer_nll` gives an answer with no token): the base's
    reference and every vertex's mean are None, no off-language share is recorded and nothing is flagged."""
    run = Run(RunSettings(**tiny_settings))
    monkeypatch.setattr(run, "_answers_nll", lambda prompts, texts: [math.nan] * len(texts))
    record = run.diagnose()
    assert record["probe"]["unguided"]["base_nll"] is None
    for vertex in record["probe"]["vertices"]:
        assert vertex["quality"]["base_nll"] is None and "off_language" not in vertex["quality"]
    for item in record["objectives"]:
        assert item["base_nll_gap_at_vertex"] is None and "off_language_at_vertex" not in item["flags"]


def test_a_diagnosis_made_before_the_probe_read_its_answers_likelihood_is_redone(tiny_settings, monkeypatch):
    """A folder diagnosed before the probe measured its answers' likelihood under the base (its fingerprint without
    the probe's measures) is diagnosed again, the record then with the base's own answers; a current one is kept."""
    settings = RunSettings(**tiny_settings)

    def made_before(record: dict) -> dict:  # the diagnosis as it was written before the measure
        del record["probe"]["unguided"]
        for vertex in record["probe"]["vertices"]:
            del vertex["quality"]["base_nll"], vertex["quality"]["off_language"]
        return record

    record, decoded = diagnosed_again_without(settings, monkeypatch, "probe_measures", made_before)
    assert len(decoded) == 1 and "base_nll" in record["probe"]["unguided"]
    assert all("base_nll" in vertex["quality"] for vertex in record["probe"]["vertices"])


def test_a_diagnosis_made_by_an_earlier_strength_search_is_redone(tiny_settings, monkeypatch):
    """A folder whose strengths were searched before the search probed half the weakest strength (its fingerprint
    without `strength_search`) is probed again, not only re-ranked from its stored probe points; a folder with no
    search does not record it."""
    settings = RunSettings(**tiny_settings, weaker_objective_strengths=[0.5])
    record, decoded = diagnosed_again_without(settings, monkeypatch, "strength_search")
    assert decoded and "objective_strengths" in record
    unsearched = RunSettings(**{**tiny_settings, "output_dir": str(settings.path.parent / "unsearched")})
    Run(unsearched).diagnose()
    inputs = json.loads((unsearched.path / "fingerprints" / "diagnose.json").read_text())["inputs"]
    assert "strength_search" not in inputs and "probe_measures" in inputs


def diagnosed_again_without(
    settings: RunSettings, monkeypatch, fingerprint_input: str, as_written_then: Callable[[dict], dict] = lambda r: r
) -> tuple[dict, list]:
    """A diagnosed folder whose diagnose fingerprint lacks `fingerprint_input` (made before it was an input) and
    whose diagnosis.json is `as_written_then` its current one, diagnosed again: the new record and the decoding calls
    it made. A diagnosis current after that is kept without decoding."""
    Run(settings).diagnose()
    diagnosis_path = settings.path / "diagnosis.json"
    diagnosis_path.write_text(json.dumps(as_written_then(json.loads(diagnosis_path.read_text()))))
    fingerprint_path = settings.path / "fingerprints" / "diagnose.json"
    recorded = json.loads(fingerprint_path.read_text())
    del recorded["inputs"][fingerprint_input]
    fingerprint_path.write_text(json.dumps(recorded))
    decoded = []
    run = Run(settings)
    answers = run._answers
    monkeypatch.setattr(run, "_answers", lambda *args, **kwargs: decoded.append(args) or answers(*args, **kwargs))
    record = run.diagnose()
    kept = Run(settings)
    monkeypatch.setattr(kept, "_answers", lambda *args, **kwargs: pytest.fail("a current diagnosis decoded again"))
    assert kept.diagnose()["objectives"] == record["objectives"]
    return record, decoded


def test_an_objective_degenerate_at_every_strength_stays_at_full_strength_with_its_flag(tiny_settings, monkeypatch):
    effects = diagnosis_with_probe_answers(
        {**tiny_settings, "weaker_objective_strengths": [0.5]}, monkeypatch, "w6 w6 w6 w6 w6 w6"
    )
    assert "degenerate_at_vertex" in effects["frozen"]["flags"]
    record = json.loads((RunSettings(**tiny_settings).path / "diagnosis.json").read_text())
    assert record["objective_strengths"] == {"conciseness": 1.0, "frozen": 1.0}
    # 1, 0.5 and, frozen's vertex still degenerate, half the weakest (0.25): 3 x 3 combinations
    assert len(record["strengths_tried"]) == 9


def test_the_empty_answer_check_weakens_an_objective_whose_vertex_ends_answers_empty(tiny_settings, monkeypatch):
    """Both objectives rise in the probe at every strength; the empty-answer check ends 4 of its 16 prompts empty at
    conciseness's vertex at full strength and none at 0.5: the flag probes strength 0.5, and the sweep guides
    conciseness at 0.5. Each probe is followed by the check, its few tokens (here the sweep's 5) at the same
    strengths. (The "frozen" objective stays unfrozen here: it counts even-numbered words, and its vertex's answers
    have six.)"""
    settings = RunSettings(**{**tiny_settings, "empty_answer_check_prompts": 16}, weaker_objective_strengths=[0.5])
    run = Run(settings)
    run.train()
    assert len(run.empty_check_prompts) == 16
    assert not set(run.empty_check_prompts) & set(run.train_prompts + run.test_prompts)
    decoded = []

    def answers(rows, objective_strengths=None, max_new_tokens=None, sample=False):
        strengths = run.objective_strengths if objective_strengths is None else objective_strengths
        decoded.append((list(strengths), max_new_tokens, len(rows)))
        texts = []
        for index, (alpha, _) in enumerate(rows):
            if max_new_tokens is not None:  # the check: rows are vertex-major, 16 prompts each
                ends_empty = alpha[0] == 1.0 and strengths[0] == 1.0 and index % 16 < 4
                texts.append("" if ends_empty else "w6 w8")
            else:
                texts.append("w6" if alpha[0] == 1.0 else "w2 w4 w6 w8 w10 w12")
        return [{"text": text, "finished": True, "new_tokens": 2} for text in texts]

    monkeypatch.setattr(run, "_answers", answers)
    run.report()
    diagnosis = json.loads((settings.path / "diagnosis.json").read_text())
    assert diagnosis["objective_strengths"] == {"conciseness": 0.5, "frozen": 1.0}
    full = next(probed for probed in diagnosis["probe_at_strength"] if probed["strength"] == 1.0)
    checks = [vertex["empty_answer_check"] for vertex in full["vertices"]]
    assert checks == [
        {"prompts": 16, "new_tokens": 5, "empty": 0.25, "wordless": 0.25},
        {"prompts": 16, "new_tokens": 5, "empty": 0.0, "wordless": 0.0},
    ]
    tried = {tuple(entry["objective_strengths"].values()): entry for entry in diagnosis["strengths_tried"]}
    assert (
        tried[(1.0, 1.0)]["degenerate_at_vertex"] == ["conciseness"]
        and tried[(0.5, 1.0)]["degenerate_at_vertex"] == []
    )
    assert decoded == [
        ([1.0, 1.0], None, 8), ([1.0, 1.0], 5, 32), ([0.5, 0.5], None, 8), ([0.5, 0.5], 5, 32), ([0.5, 1.0], None, 4)
    ]  # fmt: skip
    assert json.loads((settings.path / "sweep.json").read_text())["objective_strengths"] == [0.5, 1.0]
    assert all(not item["flags"] for item in diagnosis["objectives"])


def test_the_empty_answer_check_decodes_the_first_tokens_of_the_guided_answers(tiny_settings):
    """The check's answers are the guided greedy answers cut at its few new tokens: each is the start of the same
    row's longer answer."""
    pairs_then_frozen(tiny_settings)
    run = Run(RunSettings(**{**tiny_settings, "empty_answer_check_prompts": 3, "sweep_tokens": 12}))
    rows = [([1.0, 0.0], prompt) for prompt in run.empty_check_prompts]
    short, long = run._answers(rows, [1.0, 1.0], max_new_tokens=3), run._answers(rows, [1.0, 1.0])
    assert all(answer["new_tokens"] <= 3 for answer in short) and max(a["new_tokens"] for a in long) > 3
    for cut, whole in zip(short, long, strict=True):
        assert whole["text"].startswith(cut["text"])
        assert cut["finished"] == (whole["finished"] and whole["new_tokens"] <= 3)


def test_the_empty_answer_check_counts_per_vertex_the_answers_with_no_word(tiny_settings, monkeypatch):
    """Four check prompts per vertex, vertex-major: at the first, an empty answer and a bare "1." that ended, and
    markup cut by the token limit ("1. **1.1.1", no word: wordless, not ended); at the second, one that ended empty
    and a word cut by the token limit."""
    run = Run(RunSettings(**{**tiny_settings, "empty_answer_check_prompts": 4}))
    answers = [("", True), ("1.", True), ("1. **1.1.1", False), ("w5 w6", True)]
    answers += [("w7", True), ("", True), ("1. **Water", False), ("w8", False)]
    calls = []

    def stand_in(rows, objective_strengths=None, max_new_tokens=None, sample=False):
        calls.append((len(rows), list(objective_strengths), max_new_tokens, sample))
        return [{"text": text, "finished": ended, "new_tokens": 1} for text, ended in answers]

    monkeypatch.setattr(run, "_answers", stand_in)
    assert run._empty_answer_shares([[1.0, 0.0], [0.0, 1.0]], [1.0, 0.5]) == [
        {"empty": 2 / 4, "wordless": 3 / 4}, {"empty": 1 / 4, "wordless": 1 / 4}
    ]  # fmt: skip
    assert calls == [(8, [1.0, 0.5], 5, False)]  # at most the sweep's 5 tokens, below the check's 8; greedy


def test_a_diagnosis_whose_check_counted_only_answers_that_ended_is_redone(tiny_settings, monkeypatch):
    """A folder diagnosed when the empty-answer check counted only the answers that ended with no word (its
    fingerprint without the check's count) is diagnosed again: the probe and the check decoded anew, the check's
    record now with its wordless share. A current diagnosis is kept without decoding."""
    settings = RunSettings(**{**tiny_settings, "empty_answer_check_prompts": 4})
    record, decoded = diagnosed_again_without(settings, monkeypatch, "empty_answer_check")
    assert len(decoded) == 2  # the probe, then the check
    assert all("wordless" in vertex["empty_answer_check"] for vertex in record["probe"]["vertices"])


def test_objective_strengths_reach_the_guiding_parm(tiny_settings):
    """At the first objective's vertex with its strength 0 the adapter is switched off, so guidance by its log-ratio
    to the base adds nothing: the guided answers are the base's own greedy answers."""
    pairs_then_frozen(tiny_settings)
    strong = {**tiny_settings, "learning_rate": 5e-2, "guidance_beta": 0.02}
    run = Run(RunSettings(**strong, reference_free=False, weaker_objective_strengths=[0.5]))
    run.train()
    prompts = run.probe_prompts[:2]
    switched_off = run._answers([([1.0, 0.0], prompt) for prompt in prompts], objective_strengths=[0.0, 1.0])
    full = run._answers([([1.0, 0.0], prompt) for prompt in prompts], objective_strengths=[1.0, 1.0])
    base, tokenizer = run.base()
    unguided = run._generate(base, tokenizer, [(None, prompt) for prompt in prompts], None)
    assert switched_off == unguided and full != unguided


def test_weaker_objective_strengths_must_decrease_below_one_and_need_a_parm(tiny_settings):
    for weaker in ([1.0], [0.5, 0.5], [0.25, 0.5], [0.0], [-0.5]):
        with pytest.raises(ValueError, match="weaker_objective_strengths must"):
            RunSettings(**tiny_settings, weaker_objective_strengths=weaker)
    with pytest.raises(ValueError, match="--method parm only, got 'genarm'"):
        RunSettings(**tiny_settings, method="genarm", weaker_objective_strengths=[0.5])
    six = ["conciseness", "positivity", "relevance", "list_format", "second_person", "plain_words"]
    # 1, the three given and half the weakest where a vertex stays degenerate: 5^6 = 15625, under 16384
    RunSettings(**{**tiny_settings, "objectives": six}, weaker_objective_strengths=[0.5, 0.25, 0.125])
    with pytest.raises(ValueError, match="5 strengths for 6 objectives give up to 117649 combinations"):
        RunSettings(**{**tiny_settings, "objectives": six}, weaker_objective_strengths=[0.5, 0.4, 0.3, 0.2, 0.1])


def test_stronger_objective_strengths_must_increase_above_one_and_need_a_parm(tiny_settings):
    for stronger in ([1.0], [2.0, 2.0], [3.0, 2.0], [0.5], [float("inf")]):
        with pytest.raises(ValueError, match="stronger_objective_strengths must"):
            RunSettings(**tiny_settings, stronger_objective_strengths=stronger)
    with pytest.raises(ValueError, match="stronger_objective_strengths scale .* --method parm only, got 'genarm'"):
        RunSettings(**tiny_settings, method="genarm", stronger_objective_strengths=[2.0])
    six = ["conciseness", "positivity", "relevance", "list_format", "second_person", "plain_words"]
    RunSettings(
        **{**tiny_settings, "objectives": six},
        weaker_objective_strengths=[0.5, 0.25],
        stronger_objective_strengths=[2.0],
    )
    with pytest.raises(ValueError, match="4 strengths for 6 objectives give up to 46656 combinations"):
        RunSettings(
            **{**tiny_settings, "objectives": six},
            weaker_objective_strengths=[0.5, 0.25],
            stronger_objective_strengths=[2.0, 4.0],
        )


def test_fixed_objective_strengths_guide_the_probe_and_the_sweep_without_a_search(tiny_settings, monkeypatch):
    """The frozen objective fixed at 0.25: the probe answers once at (1, 0.25), where frozen's vertex does not repeat
    itself as it would at full strength, the sweep guides at the same strengths, and the report names them; another
    fixed strength redoes the diagnosis and the sweep."""
    pairs_then_frozen(tiny_settings)
    settings = RunSettings(**tiny_settings, fixed_objective_strengths=["frozen=0.25"])
    run = Run(settings)
    run.train()
    decoded_at = []
    monkeypatch.setattr(run, "_answers", answers_by_strength(run, decoded_at))
    metrics = run.report()
    assert decoded_at == [[1.0, 0.25], [1.0, 0.25]]  # the probe, then the sweep: no strength searched
    diagnosis = json.loads((settings.path / "diagnosis.json").read_text())
    assert diagnosis["objective_strengths"] == {"conciseness": 1.0, "frozen": 0.25} and diagnosis["strengths_fixed"]
    assert [entry["objective_strengths"] for entry in diagnosis["strengths_tried"]] == [
        {"conciseness": 1.0, "frozen": 0.25}
    ]
    frozen = next(item for item in diagnosis["objectives"] if item["objective"] == "frozen")
    assert "degenerate_at_vertex" not in frozen["flags"]  # the flags of the strengths the sweep guides at
    assert json.loads((settings.path / "sweep.json").read_text())["objective_strengths"] == [1.0, 0.25]
    assert metrics["objective_strengths"] == [1.0, 0.25]
    assert "(frozen x0.25: fixed_objective_strengths)" in (settings.path / "report.md").read_text()
    assert Run(settings)._is_current("sweep")
    changed = Run(RunSettings(**tiny_settings, fixed_objective_strengths=["frozen=0.125"]))
    assert not changed._is_current("diagnose") and not changed._is_current("sweep")
    assert changed._is_current("train")  # the report's trial on the same folder keeps the trained adapter


def test_fixed_objective_strengths_are_checked_before_any_work(tiny_settings, tmp_path):
    refusals = {
        "frozen": "takes NAME=STRENGTH entries, got 'frozen'",
        "tone=0.5": "names 'tone', which is not an objective",
        "frozen=half": "frozen's strength must be a number, got 'half'",
        "frozen=0": r"fixed_objective_strengths \(frozen\) must be a finite number > 0, got 0.0",
        "frozen=inf": r"fixed_objective_strengths \(frozen\) must be a finite number > 0, got inf",
    }
    for entry, message in refusals.items():
        with pytest.raises(ValueError, match=message):
            RunSettings(**tiny_settings, fixed_objective_strengths=[entry])
    with pytest.raises(ValueError, match="gives 'frozen' twice"):
        RunSettings(**tiny_settings, fixed_objective_strengths=["frozen=0.5", "frozen=0.25"])
    with pytest.raises(ValueError, match="give one or the other"):
        RunSettings(**tiny_settings, fixed_objective_strengths=["frozen=0.5"], weaker_objective_strengths=[0.5])
    with pytest.raises(ValueError, match="fixed_objective_strengths scale .* --method parm only, got 'genarm'"):
        RunSettings(**tiny_settings, method="genarm", fixed_objective_strengths=["frozen=0.5"])
    fixed = RunSettings(**tiny_settings, fixed_objective_strengths=["frozen=2"]).fixed_strengths_by_objective()
    assert fixed == {"conciseness": 1.0, "frozen": 2.0}
    options = ["--output_dir", str(tmp_path / "cli"), "--fixed_objective_strengths", "positivity=0.5"]
    assert parse_settings(options).fixed_strengths_by_objective() == {"conciseness": 1.0, "positivity": 0.5}
    spelled = RunSettings(**tiny_settings, fixed_objective_strengths=["frozen=.50", "conciseness=1"])
    assert spelled.fixed_objective_strengths == ["frozen=0.5"]  # one spelling, so one fingerprint, per choice
    assert RunSettings(**tiny_settings, fixed_objective_strengths=["none"]).fixed_objective_strengths == []


def test_a_folder_switches_between_fixed_strengths_and_the_strength_search(tiny_settings):
    searched = RunSettings(**tiny_settings, weaker_objective_strengths=[0.5], stronger_objective_strengths=[2.0])
    Run(searched)  # settings.json of a run with the search
    folder = ["--output_dir", str(searched.path)]
    fixed = parse_settings([*folder, "--fixed_objective_strengths", "frozen=0.5"])
    assert (fixed.weaker_objective_strengths, fixed.stronger_objective_strengths) == ([], [])
    assert fixed.fixed_objective_strengths == ["frozen=0.5"]
    Run(fixed)
    assert parse_settings(folder).fixed_objective_strengths == ["frozen=0.5"]  # kept when not given
    back = parse_settings([*folder, "--weaker_objective_strengths", "0.5"])
    assert (back.weaker_objective_strengths, back.fixed_objective_strengths) == ([0.5], [])


def test_a_folder_made_before_the_held_out_split_continues_without_it(tiny_settings):
    settings = RunSettings(**tiny_settings)
    Run(settings)
    saved = json.loads((settings.path / "settings.json").read_text())
    del saved["held_out_pair_share"]
    (settings.path / "settings.json").write_text(json.dumps(saved))
    assert settings_of_existing_run(["--output_dir", str(settings.path)])["held_out_pair_share"] == 0.0


class OnFirstPromptOnly:
    """An objective only the first prompt it scores varies (by answer length): it gets one pair."""

    name = "first_prompt_only"
    prompt: str | None = None

    def __call__(self, prompts, responses):
        if OnFirstPromptOnly.prompt is None:
            OnFirstPromptOnly.prompt = prompts[0]
        return [float(len(answer)) if prompt == OnFirstPromptOnly.prompt else 0.0 for prompt, answer in
                zip(prompts, responses, strict=True)]  # fmt: skip


def test_an_objective_with_pairs_on_a_handful_of_prompts_is_warned_of_before_training_and_flagged(
    tiny_settings, monkeypatch, caplog
):
    monkeypatch.setitem(SCORERS, "first_prompt_only", OnFirstPromptOnly)
    monkeypatch.setattr(OnFirstPromptOnly, "prompt", None)
    settings = RunSettings(**{**tiny_settings, "objectives": ["conciseness", "first_prompt_only"],
                              "held_out_pair_share": 0.0, "train_prompts": 16, "pairs_per_prompt": 2})  # fmt: skip
    run = Run(settings)
    data = run.make_data()
    prompts = {name: len(set(data[name]["prompt"])) for name in ("conciseness", "first_prompt_only")}
    assert len(data["first_prompt_only"]) == 2 and prompts["first_prompt_only"] == 1  # two pairs, one prompt
    assert prompts["conciseness"] >= 8
    caplog.clear()
    run.train()
    warnings = [record.message for record in caplog.records if "few_pairs" in record.message]
    assert warnings == [
        f"objective 'first_prompt_only': few_pairs (training pairs on 1 of 16 prompts): {ADVICE['few_pairs']}"
    ]
    diagnosis = run.diagnose()
    assert diagnosis["prompts_with_pairs"] == prompts and diagnosis["pair_prompts"] == 16
    flags = {item["objective"]: item["flags"] for item in diagnosis["objectives"]}
    assert flags["first_prompt_only"][0] == "few_pairs" and "few_pairs" not in flags["conciseness"]
    report = "\n".join(diagnosis_section({"steering_diagnosis": diagnosis["objectives"]}))
    assert "| objective | prompts with training pairs |" in report and "| first_prompt_only | 1 of 16 |" in report


def test_the_prompts_the_pairs_are_made_from_leave_out_the_held_out_ones(tiny_settings):
    settings = RunSettings(**{**tiny_settings, "held_out_pair_share": 0.2})
    run = Run(settings)
    data = run.make_data()
    held_out = held_out_prompts(run.train_prompts, 0.2, settings.seed)
    prompts_with_pairs, pair_prompts = run._pair_coverage()
    assert len(held_out) == 2 and pair_prompts == len(run.train_prompts) - 2 == 8
    assert prompts_with_pairs == {
        name: len(set(data[name]["prompt"]) - set(held_out)) for name in settings.objective_names
    }


def test_an_objective_with_pairs_on_a_handful_of_prompts_gets_more_samples_and_the_others_keep_their_pairs(
    tiny_settings, monkeypatch
):
    monkeypatch.setitem(SCORERS, "first_prompt_only", OnFirstPromptOnly)
    monkeypatch.setattr(OnFirstPromptOnly, "prompt", None)
    common = {**tiny_settings, "objectives": ["conciseness", "first_prompt_only"], "held_out_pair_share": 0.0,
              "train_prompts": 16}  # fmt: skip
    without_dir = str(RunSettings(**common).path.with_name("without-more-samples"))
    without = Run(RunSettings(**{**common, "output_dir": without_dir, "more_samples_if_few_pairs": 0})).make_data()
    run = Run(RunSettings(**common, more_samples_if_few_pairs=3))
    data = run.make_data()
    assert data["conciseness"].to_dict() == without["conciseness"].to_dict()
    record = pairing_record(run.path / "preference_data")
    assert record["more_samples_for"] == ["first_prompt_only"] and record["more_samples_per_prompt"] == 3
    assert pairing_section({"pairing": record})[-1].startswith(
        "More answers for objectives with pairs on few prompts: first_prompt_only paired 3 more answers per prompt"
    )
    assert "covered fewer than 12.5% of the prompts;" in pairing_section({"pairing": record})[-1]
    recorded_before_the_share = {key: value for key, value in record.items() if key != "more_samples_pair_share"}
    assert "covered few of the prompts;" in pairing_section({"pairing": recorded_before_the_share})[-1]
    assert pairing_record(Path(without_dir) / "preference_data")["more_samples_for"] == []
    candidates = load_from_disk(str(run.path / "preference_data" / "candidates"))
    row = list(candidates["prompt"]).index(OnFirstPromptOnly.prompt)
    answers, extra = candidates["responses"][row], candidates["more_samples"][row]
    assert any(extra) and not any(map(any, more_samples_mask(Path(without_dir) / "preference_data" / "candidates")))
    allowed = [
        answer
        for answer in answers
        if "first_prompt_only" not in record["whole_samples_only"] or not cut_from_another(answer, answers)
    ]
    chosen, rejected = data["first_prompt_only"]["chosen"][0], data["first_prompt_only"]["rejected"][0]
    assert len(chosen) == max(map(len, allowed)) and len(rejected) == min(map(len, allowed))  # fmt: skip
