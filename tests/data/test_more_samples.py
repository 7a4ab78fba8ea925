"""More answers sampled for the objectives whose pairs cover few prompts: who gets them, what the others keep."""

from __future__ import annotations

import json
import shutil

import pytest
from datasets import load_from_disk

from peft_pblora.data import PairingOptions, build_preference_data, candidates
from peft_pblora.data.more_samples import MORE_SAMPLES_COLUMN, more_samples_mask, more_samples_per_prompt

from ..conftest import CountWord

PROMPTS = [f"p{index}" for index in range(16)]
FIRST = [["w6", "w6 w6"] for _ in PROMPTS]  # count_w6 pairs on every prompt
FIRST[0] = ["w5 w6", "w6"]  # count_w5 only on p0: 1 prompt of 16, under an eighth
EXTRA = [["w5 w6 w6 w6", "w6 w6 w6"] for _ in PROMPTS]  # with these, count_w5 pairs on every prompt


class FakeSampler:
    """Answers by the call's seed: the first sampling (seed 0) gives FIRST, a later one EXTRA; calls are kept."""

    def __init__(self, first: list[list[str]] = FIRST) -> None:
        self.first, self.calls = first, []

    def __call__(self, model, tokenizer, prompts, num_samples, *args, seed=0, **kwargs):
        self.calls.append((num_samples, seed))
        return [list(row) for row in (self.first if seed == 0 else EXTRA)]


@pytest.fixture
def sampler(monkeypatch) -> FakeSampler:
    fake = FakeSampler()
    monkeypatch.setattr(candidates, "sample_responses", fake)
    return fake


SCORERS = [CountWord("w5"), CountWord("w6")]


MODEL = object()  # the fake sampler needs no model, but sampling the extras checks one is given


def build(cache_dir, more: int, model=MODEL, pairing: PairingOptions | None = None):
    return build_preference_data(
        model, None, PROMPTS, SCORERS, cache_dir, num_samples=2, show_progress=False, more_samples_if_few_pairs=more,
        pairing=pairing,
    )  # fmt: skip


def test_an_objective_with_few_pairs_pairs_the_extra_answers_and_the_other_keeps_its_pairs(tmp_path, sampler):
    without = build(tmp_path / "without", more=0)
    assert len(without["count_w5"]) == 1 and sampler.calls == [(2, 0)]
    data = build(tmp_path / "with", more=3)
    assert sampler.calls == [(2, 0), (2, 0), (3, 1)]  # the extras: their own count, the next seed
    assert data["count_w6"].to_dict() == without["count_w6"].to_dict()  # never the extras' "w6 w6 w6"
    assert data["count_w5"]["prompt"] == PROMPTS
    assert data["count_w5"]["chosen"] == ["w5 w6"] + ["w5 w6 w6 w6"] * 15
    assert data["count_w5"]["rejected"] == ["w6"] * 16  # the first answer scoring 0
    record = json.loads((tmp_path / "with" / "pairing.json").read_text())
    assert record["more_samples_for"] == ["count_w5"] and record["more_samples_per_prompt"] == 3
    candidates = tmp_path / "with" / "candidates"
    assert more_samples_per_prompt(candidates) == 3
    assert load_from_disk(str(candidates))["responses"][1] == ["w6", "w6 w6", "w5 w6 w6 w6", "w6 w6 w6"]
    assert more_samples_mask(candidates)[1] == [False, False, True, True]
    assert json.loads((tmp_path / "without" / "pairing.json").read_text())["more_samples_for"] == []


def test_cached_extras_are_reused_and_a_new_count_replaces_them(tmp_path, sampler):
    build(tmp_path / "first", more=3)
    calls = len(sampler.calls)
    shutil.copytree(tmp_path / "first" / "candidates", tmp_path / "again" / "candidates")
    again = build(tmp_path / "again", more=3)
    assert len(sampler.calls) == calls  # the cached extras serve
    assert len(again["count_w5"]) == 16
    shutil.copytree(tmp_path / "first" / "candidates", tmp_path / "other" / "candidates")
    build(tmp_path / "other", more=5)
    assert sampler.calls[calls:] == [(5, 1)]
    rows = load_from_disk(str(tmp_path / "other" / "candidates"))
    assert rows["responses"][1] == ["w6", "w6 w6", "w5 w6 w6 w6", "w6 w6 w6"]  # the old extras gone, not doubled
    assert rows[MORE_SAMPLES_COLUMN][1] == [False, False, True, True]
    shutil.copytree(tmp_path / "first" / "candidates", tmp_path / "off" / "candidates")
    off = build(tmp_path / "off", more=0)  # extras in the cache, but the option off: nobody pairs them
    assert len(off["count_w5"]) == 1 and len(sampler.calls) == calls + 1


# count_w5 pairs on p0 and p1 (an eighth of the 16 prompts, not under), or on p0 to p6 (under half, not an eighth)
TWO = [FIRST[0], ["w5", "w6"], *FIRST[2:]]
SEVEN = [["w5 w6 w6", "w6"] if index < 7 else ["w6", "w6 w6"] for index in range(16)]


@pytest.mark.parametrize(("first", "sampled"), [(TWO, False), (SEVEN, False), (FIRST, True)])
def test_extras_are_sampled_only_where_an_objective_has_pairs_on_under_an_eighth_of_the_prompts(
    tmp_path, monkeypatch, first, sampled
):
    sampler = FakeSampler(first)
    monkeypatch.setattr(candidates, "sample_responses", sampler)
    build(tmp_path / "run", more=3)
    assert (sampler.calls == [(2, 0), (3, 1)]) is sampled
    assert json.loads((tmp_path / "run" / "pairing.json").read_text())["more_samples_for"] == (
        ["count_w5"] if sampled else []
    )
    assert any(more_samples_mask(tmp_path / "run" / "candidates")[8]) is sampled


@pytest.mark.parametrize(("held_out", "sampled"), [(["p0", "p2"], True), (["p0"], False), ([], False)])
def test_the_share_of_prompts_with_pairs_leaves_out_the_held_out_prompts_where_training_does(
    tmp_path, monkeypatch, held_out, sampled
):
    sampler = FakeSampler(TWO)  # count_w5 pairs on p0 and p1, count_w6 on p1 to p15
    monkeypatch.setattr(candidates, "sample_responses", sampler)
    build_preference_data(
        MODEL, None, PROMPTS, SCORERS, tmp_path, num_samples=2, show_progress=False, more_samples_if_few_pairs=3,
        prompts_held_out=held_out,
    )  # fmt: skip
    # p0 and p2 held out: both objectives have a held-out pair, so the split stands and count_w5 trains on 1 of 14
    # prompts, under an eighth. p0 alone: count_w6 has no held-out pair, so every pair trains, and count_w5's 2 of 16
    # are an eighth, as with nothing held out
    assert (sampler.calls == [(2, 0), (3, 1)]) is sampled
    assert json.loads((tmp_path / "pairing.json").read_text())["more_samples_for"] == (["count_w5"] if sampled else [])


def test_sampling_more_without_the_model_names_the_objectives_before_any_pairing(tmp_path, sampler, monkeypatch):
    def first_only(model, tokenizer, prompts, num_samples, *args, seed=0, **kwargs):
        if model is None and seed != 0:
            raise AssertionError("the extras must not be sampled without a model")
        return [list(row) for row in FIRST]

    build(tmp_path / "first", more=0)
    shutil.copytree(tmp_path / "first" / "candidates", tmp_path / "cached" / "candidates")
    monkeypatch.setattr(candidates, "sample_responses", first_only)
    with pytest.raises(ValueError, match=r"\['count_w5'\] have pairs on fewer than 12\.5% of the prompts.*the model"):
        build(tmp_path / "cached", more=3, model=None)
    assert not (tmp_path / "cached" / "dataset_dict.json").exists()


def test_the_other_objectives_are_paired_as_if_the_extras_did_not_exist(tmp_path, monkeypatch):
    first = [["w5 w6", "w7 w6"]] + [["w6 w6", "w7 w6"] for _ in PROMPTS[1:]]  # no answer begins another
    monkeypatch.setattr(candidates, "sample_responses", FakeSampler(first))
    whole = PairingOptions(whole_samples_only=["count_w6"])  # an answer another begins with is left out of its pairs
    without = build(tmp_path / "without", more=0, pairing=whole)
    data = build(tmp_path / "with", more=3, pairing=whole)
    # the extra "w6 w6 w6" begins with "w6 w6": seen by count_w6, it would leave that answer out and its pairs with it
    assert data["count_w6"].to_dict() == without["count_w6"].to_dict() and len(data["count_w6"]) == 15
    assert len(without["count_w5"]) == 1 and len(data["count_w5"]) == 16
