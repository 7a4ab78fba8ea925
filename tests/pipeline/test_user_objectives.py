"""The user's own objectives, prompts and preference pairs in the end-to-end run (`peft-pblora run`), on tiny random
models saved to tmp_path: scorers by import path (tests/fixtures/own_scorers.py), a reward model folder, prompts
from .txt / .jsonl / .json / dataset folders, pairs per objective, and each error they can meet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from datasets import Dataset, DatasetDict
from transformers import LlamaConfig, LlamaForSequenceClassification

from peft_pblora.data import candidates
from peft_pblora.pipeline import Run, RunSettings, run_all
from peft_pblora.pipeline.cli import main, settings_of_existing_run
from peft_pblora.pipeline.objectives import BUILTIN, IMPORT_PATH, REWARD_MODEL, UserObjective, parse_spec
from peft_pblora.pipeline.prompts import shipped_candidates_fit, split_prompts
from peft_pblora.pipeline.reward_forms import reward_forms_of
from peft_pblora.pipeline.settings import SCORERS

from ..conftest import VOCAB_SIZE, cli_arguments, tiny_chat_tokenizer, tiny_llama, tiny_tokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(autouse=True)
def own_scorers_importable(monkeypatch):
    """`own_scorers` (tests/fixtures/own_scorers.py) importable, as a user's module on PYTHONPATH is."""
    monkeypatch.syspath_prepend(str(FIXTURES))


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny models run on one thread: more only wait on each other (ten times slower on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_base(tmp_path: Path) -> str:
    model_dir = tmp_path / "tiny-model"
    tiny_llama(seed=2).save_pretrained(model_dir)
    tiny_chat_tokenizer().save_pretrained(model_dir)
    return str(model_dir)


def tiny_reward_model(tmp_path: Path, name: str = "tiny-reward") -> str:
    """A random one-output LlamaForSequenceClassification whose config and tokenizer have no pad token."""
    torch.manual_seed(3)
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, num_labels=1, pad_token_id=None, eos_token_id=1, bos_token_id=2,
    )  # fmt: skip
    directory = tmp_path / name
    LlamaForSequenceClassification(config).save_pretrained(directory)
    tokenizer = tiny_tokenizer()
    tokenizer.pad_token = None
    tokenizer.save_pretrained(directory)
    return str(directory)


def word_prompts(count: int, start: int = 10) -> list[str]:
    """Prompts in the tiny vocabulary, each different."""
    return [f"w{start + index} w{start + index + 1} w{(start + 2 * index) % 80 + 10}" for index in range(count)]


def small_run(tmp_path: Path, **settings) -> dict:
    """Settings of a run that takes seconds on the tiny model."""
    return dict(
        output_dir=str(tmp_path / "run"), train_prompts=6, test_prompts=3, samples_per_prompt=3, sample_tokens=6,
        sample_batch_size=9, epochs=1, batch_size=2, grid_step=0.5, sweep_tokens=4, sweep_batch_size=6,
        max_length=48, target_modules=["q_proj", "v_proj"], show_progress=False, device="cpu",
    ) | settings  # fmt: skip


def write_jsonl(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return str(path)


def pairs_file(path: Path, prompts: list[str], chosen: str, rejected: str) -> str:
    return write_jsonl(path, [{"prompt": p, "chosen": chosen, "rejected": rejected, "note": "x"} for p in prompts])


# -- the spec rules --------------------------------------------------------------------------------------------------


def test_each_kind_of_spec_is_read_by_the_documented_rules(tmp_path):
    folder = tmp_path / "my-rm"
    folder.mkdir()
    spec = parse_spec("positivity", SCORERS)
    assert (spec.kind, spec.target, spec.rename) == (BUILTIN, "positivity", None)
    assert parse_spec("tone=positivity", SCORERS).rename == "tone"
    assert parse_spec("mypkg.scorers:formality", SCORERS).kind == IMPORT_PATH
    assert parse_spec("formal=mypkg.scorers:Formality.default", SCORERS).kind == IMPORT_PATH
    assert parse_spec("OpenAssistant/reward-model-deberta-v3-large-v2", SCORERS).kind == REWARD_MODEL
    assert parse_spec(str(folder), SCORERS).kind == REWARD_MODEL
    assert parse_spec(f"helpful={folder}", SCORERS) == parse_spec(f"helpful={folder}", SCORERS)
    assert parse_spec(f"helpful={folder}", SCORERS).target == str(folder)
    odd = tmp_path / "a=b"  # an existing folder is a folder, '=' or not
    odd.mkdir()
    assert (parse_spec(str(odd), SCORERS).kind, parse_spec(str(odd), SCORERS).rename) == (REWARD_MODEL, None)
    with pytest.raises(ValueError, match="unknown objective 'humour'.*module:attribute"):
        parse_spec("humour", SCORERS)
    with pytest.raises(ValueError, match="not an import path"):
        parse_spec("my-pkg:scorer", SCORERS)
    with pytest.raises(ValueError, match="empty"):
        parse_spec(" ", SCORERS)


def test_scorers_by_import_path_are_named_by_their_name_and_resolved_once():
    settings = RunSettings(
        objectives=["own_scorers:characters", "own_scorers:DigitSum", "own_scorers:make_count_w5", "tone=positivity"],
        device="cpu",
    )
    assert settings.objective_names == ["characters", "digit_sum", "count_w5", "tone"]
    scorers = settings.make_scorers()
    assert [scorer.name for scorer in scorers] == settings.objective_names
    assert all(a is b for a, b in zip(scorers, settings.make_scorers(), strict=True))  # resolved once
    assert scorers[0](["w3", "w4"], ["w5 w6", "w7"]) == [5.0, 2.0]
    assert settings.r2 == 16  # 4 per objective
    # the renamed built-in keeps what its scorer declares: per-sentence positivity is length-matched
    assert settings.length_matched == ["tone"] and settings.whole_samples_only is None
    assert settings.sampling_system_prompts == [SCORERS["positivity"]().eliciting_system_prompt]
    assert settings.system_prompted_objectives == ["tone"]
    brevity = RunSettings(objectives=["own_scorers:Brevity", "positivity"], device="cpu")
    shorter_chosen = Dataset.from_dict({"prompt": ["w3"] * 4, "chosen": ["w4"] * 4, "rejected": ["w5 w6 w7"] * 4})
    either = Dataset.from_dict({"prompt": ["w3"] * 2, "chosen": ["w4", "w5 w6"], "rejected": ["w7 w8", "w9"]})
    forms = reward_forms_of(brevity, {"brevity": shorter_chosen, "positivity": either})
    assert forms.length_normalized_rewards == ["brevity"] and forms.beta_r == [4.0, 0.1]
    # the other objective settings name objectives by their names, not their specs
    RunSettings(objectives=["own_scorers:characters", "positivity"], score_matched=["characters"], device="cpu")
    with pytest.raises(ValueError, match="score_matched names"):
        RunSettings(objectives=["own_scorers:characters", "positivity"], score_matched=["own_scorers:characters"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_anywhere:scorer", "cannot import module 'no_such_module_anywhere'"),
        ("own_scorers:missing", "has no attribute 'missing'"),
        ("own_scorers:not_a_scorer", "is a int, not a Scorer"),
        ("own_scorers:needs_a_word", "neither a Scorer .* nor callable without arguments"),
        ("own_scorers:builds_a_string", r"builds_a_string\(\) returned a str, not a Scorer"),
        ("own_scorers:TwoWordName", "named 'two words'.*rename it with name=spec"),
    ],
)
def test_a_scorer_that_cannot_be_used_fails_with_a_clear_error(spec, message):
    with pytest.raises(ValueError, match=message):
        RunSettings(objectives=["positivity", spec], device="cpu")


def test_a_renamed_scorer_and_duplicate_names():
    renamed = RunSettings(objectives=["positivity", "spaced=own_scorers:TwoWordName"], device="cpu")
    assert renamed.objective_names == ["positivity", "spaced"]
    with pytest.raises(ValueError, match=r"\['positivity'\] given twice"):  # found before anything is built
        RunSettings(objectives=["positivity", "positivity=own_scorers:characters"], device="cpu")
    with pytest.raises(ValueError, match=r"\['characters'\] given twice .*rename one with name=spec"):
        RunSettings(objectives=["own_scorers:characters", "own_scorers:Characters"], device="cpu")


def test_a_scorer_returning_the_wrong_number_of_scores_fails_at_first_use():
    settings = RunSettings(objectives=["positivity", "own_scorers:OneScoreOnly"], device="cpu")
    scorer = settings.make_scorers()[1]
    assert isinstance(scorer, UserObjective)
    with pytest.raises(ValueError, match=r"'one_score_only' \(own_scorers:OneScoreOnly\) returned 1 scores for 2"):
        scorer(["w3", "w4"], ["w5", "w6"])


def test_a_reward_model_folder_is_an_objective_named_after_it(tmp_path):
    reward_dir = tiny_reward_model(tmp_path)
    settings = RunSettings(objectives=["own_scorers:characters", reward_dir], device="cpu")
    assert settings.objective_names == ["characters", "tiny-reward"]
    reward = settings.make_scorers()[1]
    assert reward.tokenizer.pad_token == "</s>" and reward.model.config.pad_token_id == 1  # set where missing
    scores = reward(["w3 w4", "w5"], ["w6 w7 w8 w9", "w10"])  # two lengths: a padded batch
    alone = reward(["w5"], ["w10"])
    assert len(scores) == 2 and scores[1] == pytest.approx(alone[0], abs=1e-5)
    renamed = RunSettings(objectives=["positivity", f"helpful={reward_dir}"], device="cpu")
    assert renamed.objective_names == ["positivity", "helpful"]
    # settings made again while the run's scorer is in use (as the report does) reuse the loaded model
    again = RunSettings(objectives=["own_scorers:characters", reward_dir], device="cpu")
    assert again.make_scorers()[1].scorer is reward.scorer
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(ValueError, match="cannot load a sequence-classification reward model from"):
        RunSettings(objectives=["positivity", str(empty)], device="cpu")


# -- prompts ---------------------------------------------------------------------------------------------------------


def test_own_prompts_from_text_json_and_dataset_files(tmp_path, monkeypatch):
    prompts = word_prompts(12)
    text = tmp_path / "prompts.txt"
    text.write_text("\n".join([prompts[0], "", *prompts, "  "]) + "\n")  # blank and repeated prompts are dropped
    jsonl = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": prompt, "id": i} for i, prompt in enumerate(prompts)])
    (tmp_path / "prompts.json").write_text(json.dumps([{"prompt": prompt} for prompt in prompts]))
    saved = tmp_path / "saved"
    DatasetDict({"train": Dataset.from_dict({"prompt": prompts})}).save_to_disk(str(saved))
    splits = []
    for source in (str(text), jsonl, str(tmp_path / "prompts.json"), str(saved)):
        settings = RunSettings(**small_run(tmp_path, prompts=source))
        assert settings.own_prompts == prompts
        assert not shipped_candidates_fit(settings)
        splits.append(split_prompts(settings))
    assert all(split == splits[0] for split in splits)  # one seeded split of the same prompts
    train, test = splits[0]
    assert (len(train), len(test)) == (6, 3)
    assert set(train) | set(test) <= set(prompts) and not set(train) & set(test)
    assert RunSettings(**small_run(tmp_path, prompts=str(text), seed=1)).own_prompts == prompts

    def hub(name, split):
        assert (name, split) == ("someone/prompts", "validation")
        return Dataset.from_dict({"prompt": prompts})

    monkeypatch.setattr("datasets.load_dataset", hub)
    settings = RunSettings(**small_run(tmp_path, prompts="someone/prompts", prompts_split="validation"))
    assert settings.own_prompts == prompts


def test_own_prompts_errors(tmp_path):
    few = tmp_path / "few.txt"
    few.write_text("\n".join(word_prompts(8)))
    with pytest.raises(ValueError, match=r"--prompts .*few.txt hold 8 prompts, fewer than train_prompts \+ test"):
        RunSettings(**small_run(tmp_path, prompts=str(few)))
    with pytest.raises(ValueError, match="does not exist"):
        RunSettings(**small_run(tmp_path, prompts=str(tmp_path / "missing.txt")))
    no_field = write_jsonl(tmp_path / "questions.jsonl", [{"question": "w3"}])
    with pytest.raises(ValueError, match=r"no 'prompt' column \(columns: \['question'\]\)"):
        RunSettings(**small_run(tmp_path, prompts=no_field))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "w3"}\n{"prompt": \n')
    with pytest.raises(ValueError, match="cannot read prompts"):
        RunSettings(**small_run(tmp_path, prompts=str(broken)))
    assert not (tmp_path / "run").exists()  # nothing written


def test_make_data_samples_for_own_prompts_through_the_cli(tmp_path):
    prompts = word_prompts(10)
    (tmp_path / "prompts.txt").write_text("\n".join(prompts))
    settings = small_run(tmp_path, base_model=tiny_base(tmp_path), prompts=str(tmp_path / "prompts.txt"))
    settings["objectives"] = ["own_scorers:characters", "own_scorers:DigitSum"]
    assert main(["make-data", *cli_arguments(settings)]) == 0
    run = Path(settings["output_dir"])
    data = DatasetDict.load_from_disk(str(run / "preference_data"))
    assert sorted(data) == ["characters", "digit_sum"]
    assert set(data["characters"]["prompt"]) <= set(prompts)
    saved = json.loads((run / "settings.json").read_text())
    assert saved["objectives"] == settings["objectives"] and saved["prompts"] == settings["prompts"]  # as given
    restored = settings_of_existing_run(["--output_dir", str(run)])  # the folder continues as it was made
    assert restored["objectives"] == settings["objectives"] and restored["prompts_split"] == "train"


# -- preference pairs ------------------------------------------------------------------------------------------------


def test_own_pairs_and_reward_model_through_the_whole_run(tmp_path, monkeypatch):
    pair_prompts = word_prompts(6, start=40)
    characters = pairs_file(tmp_path / "characters.jsonl", pair_prompts, "w50 w51 w52", "w5")
    helpful_dir = tmp_path / "helpful_pairs"  # a saved dataset folder
    Dataset.from_dict(
        {"prompt": pair_prompts, "chosen": ["w7 w7"] * 6, "rejected": ["w8 w9"] * 6, "score": [1.0] * 6}
    ).save_to_disk(str(helpful_dir))
    test_prompts = word_prompts(4, start=10)
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": p} for p in test_prompts + pair_prompts[:2]])
    reward_dir = tiny_reward_model(tmp_path)
    settings = small_run(tmp_path, base_model=str(tmp_path / "no-model-here"), prompts=prompts)
    settings["objectives"] = ["own_scorers:characters", f"helpful={reward_dir}"]
    settings["preference_pairs"] = [f"helpful={helpful_dir}", f"characters={characters}"]
    # make-data writes the pairs without loading a model (the base model does not even exist)
    assert main(["make-data", *cli_arguments(settings)]) == 0
    data = DatasetDict.load_from_disk(str(tmp_path / "run" / "preference_data"))
    assert sorted(data) == ["characters", "helpful"]
    assert data["characters"].column_names == ["prompt", "chosen", "rejected"]
    assert list(data["helpful"]["prompt"]) == pair_prompts and data["helpful"][0]["chosen"] == "w7 w7"
    made = RunSettings(**settings)
    assert not shipped_candidates_fit(made)
    run = Run(made)
    assert run.train_prompts == pair_prompts
    assert len(run.test_prompts) == 3 and set(run.test_prompts) <= set(test_prompts)  # prompts no pair uses

    def no_sampling(*args, **kwargs):
        raise AssertionError("the user's pairs need no sampling")

    monkeypatch.setattr(candidates, "sample_responses", no_sampling)
    whole = {**settings, "base_model": tiny_base(tmp_path), "output_dir": str(tmp_path / "whole")}
    metrics = run_all(RunSettings(**whole))
    folder = Path(whole["output_dir"])
    assert metrics["objectives"] == ["characters", "helpful"]
    assert set(metrics["spearman_score_vs_weight"]) == {"characters", "helpful"}
    sweep = json.loads((folder / "sweep.json").read_text())
    assert sweep["objectives"] == ["characters", "helpful"] == list(sweep["base"]["scores"])
    adapter = json.loads((folder / "parm_adapter" / "adapter_config.json").read_text())
    assert adapter["objective_names"] == ["characters", "helpful"]
    # characters' chosen answers are the longer ones, helpful's as long as the rejected: one mean reward, one summed
    assert adapter["beta_r"] == [4.0, 0.1]
    forms = metrics["reward_forms"]["objectives"]
    assert (forms["characters"]["reward"], forms["characters"]["length_sign"]) == ("mean", 1.0)
    assert (forms["helpful"]["reward"], forms["helpful"]["length_sign"]) == ("summed", 0.0)
    report = (folder / "report.md").read_text()
    assert "helpful" in report and "characters mean log-probability per token (beta_r 4; length sign +1.00)" in report
    assert json.loads((folder / "settings.json").read_text())["objectives"] == settings["objectives"]


def test_own_pairs_from_csv_json_and_conversations(tmp_path):
    prompts = word_prompts(3, start=60)
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text("prompt,chosen,rejected\n" + "".join(f"{p},w5,w6\n" for p in prompts))
    conversational = [
        {
            "prompt": [{"role": "user", "content": p}],
            "chosen": [{"role": "assistant", "content": "w7"}],
            "rejected": [{"role": "assistant", "content": "w8"}],
        }
        for p in prompts
    ]
    (tmp_path / "pairs.json").write_text(json.dumps(conversational))
    settings = RunSettings(
        **small_run(tmp_path, test_prompts=2),
        objectives=["own_scorers:characters", "positivity"],
        preference_pairs=[f"characters={csv_path}", f"positivity={tmp_path / 'pairs.json'}"],
    )
    pairs = settings.own_preference_pairs
    assert list(pairs["characters"]["prompt"]) == prompts and pairs["characters"][0]["rejected"] == "w6"
    assert pairs["positivity"][1] == {"prompt": prompts[1], "chosen": "w7", "rejected": "w8"}


def test_own_pairs_keep_a_weight_column_as_numbers(tmp_path):
    prompts = word_prompts(3, start=60)
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text(
        "prompt,chosen,rejected,weight\n" + "".join(f"{p},w5,w6,{w}\n" for p, w in zip(prompts, "213", strict=True))
    )
    unweighted = pairs_file(tmp_path / "unweighted.jsonl", prompts, "w7", "w8")
    settings = RunSettings(
        **small_run(tmp_path, test_prompts=2),
        objectives=["own_scorers:characters", "positivity"],
        preference_pairs=[f"characters={csv_path}", f"positivity={unweighted}"],
    )
    pairs = settings.own_preference_pairs
    assert pairs["characters"]["weight"] == [2.0, 1.0, 3.0]
    assert pairs["positivity"].column_names == ["prompt", "chosen", "rejected"]  # no weight column: none made up


def test_own_pairs_keep_an_unfinished_column_as_true_or_false(tmp_path):
    prompts = word_prompts(3, start=60)
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text(
        "prompt,chosen,rejected,unfinished\n"
        + "".join(f"{p},w5,w6,{flag}\n" for p, flag in zip(prompts, ["True", "false", "TRUE"], strict=True))
    )
    records = [{"prompt": p, "chosen": "w7", "rejected": "w8", "unfinished": p == prompts[0]} for p in prompts]
    settings = RunSettings(
        **small_run(tmp_path, test_prompts=2),
        objectives=["own_scorers:characters", "positivity"],
        preference_pairs=[f"characters={csv_path}", f"positivity={write_jsonl(tmp_path / 'own.jsonl', records)}"],
    )
    pairs = settings.own_preference_pairs
    assert pairs["characters"]["unfinished"] == [True, False, True]
    assert pairs["positivity"]["unfinished"] == [True, False, False]
    wrong = write_jsonl(tmp_path / "wrong.jsonl", [{**records[0], "unfinished": "maybe"}])
    with pytest.raises(ValueError, match=r"wrong.jsonl\) pair 0: column 'unfinished' must hold True or False"):
        RunSettings(
            **small_run(tmp_path, test_prompts=2),
            objectives=["own_scorers:characters", "positivity"],
            preference_pairs=[f"characters={csv_path}", f"positivity={wrong}"],
        )


def test_own_pairs_errors(tmp_path):
    prompts = word_prompts(3, start=60)
    good = pairs_file(tmp_path / "good.jsonl", prompts, "w5", "w6")
    objectives = ["own_scorers:characters", "positivity"]

    def settings(pairs, **overrides):
        return RunSettings(**small_run(tmp_path, **overrides), objectives=objectives, preference_pairs=pairs)

    with pytest.raises(ValueError, match=r"no pairs for objective\(s\) \['positivity'\]"):
        settings([f"characters={good}"])
    with pytest.raises(ValueError, match=r"pairs for \['helpful'\], which are not objectives"):
        settings([f"characters={good}", f"positivity={good}", f"helpful={good}"])
    with pytest.raises(ValueError, match="not objective=FILE"):
        settings([good])
    no_rejected = write_jsonl(tmp_path / "no_rejected.jsonl", [{"prompt": "w3", "chosen": "w5", "answer": "w6"}])
    with pytest.raises(ValueError, match=r"'positivity' \(.*no_rejected.jsonl\) have no column\(s\) \['rejected'\]"):
        settings([f"characters={good}", f"positivity={no_rejected}"])
    with pytest.raises(ValueError, match="does not exist"):
        settings([f"characters={good}", f"positivity={tmp_path / 'missing.jsonl'}"])
    with pytest.raises(ValueError, match="not a .jsonl, .json or .csv file"):
        settings([f"characters={good}", f"positivity={tmp_path / 'pairs.parquet'}"])
    records = [
        {"prompt": p, "chosen": "w5", "rejected": "w6", "weight": w} for p, w in zip(prompts, [1, -2, 1], strict=True)
    ]
    negative = write_jsonl(tmp_path / "negative.jsonl", records)
    with pytest.raises(ValueError, match=r"negative.jsonl\) pair 1: column 'weight' must hold a finite number >= 0"):
        settings([f"characters={good}", f"positivity={negative}"])
    few = tmp_path / "few.txt"
    few.write_text("\n".join(prompts + ["w90"]))  # one prompt no pair uses
    with pytest.raises(ValueError, match=r"hold 1 prompts that no preference pair uses, fewer than test_prompts"):
        settings([f"characters={good}", f"positivity={good}"], prompts=str(few))
    assert not (tmp_path / "run").exists()
