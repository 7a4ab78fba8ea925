"""Preference data building: sampling, scoring, best/worst pairing and the on-disk cache."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from peft_pblora.data import (
    PairingOptions,
    best_and_worst_pairs,
    build_preference_data,
    candidates,
    objectives_needing_whole_samples,
)
from peft_pblora.data import pairing as pairing_module
from peft_pblora.data.candidates import sample_responses, score_responses
from peft_pblora.data.pairing import objectives_carrying_others, side_shares

from ..conftest import CountWord, tiny_chat_tokenizer, tiny_llama


def test_sampling_gives_num_samples_responses_per_prompt():
    responses = sample_responses(
        tiny_llama(), tiny_chat_tokenizer(), ["w5 w6", "w7"], num_samples=3, max_new_tokens=4, batch_size=4,
        show_progress=False,
    )  # fmt: skip
    assert [len(samples) for samples in responses] == [3, 3]
    assert all(isinstance(text, str) and text for samples in responses for text in samples)
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        sample_responses(tiny_llama(), tiny_chat_tokenizer(), ["w5"], num_samples=1)


def test_best_and_worst_pairs_by_hand():
    prompts = ["p1", "p2"]
    responses = [["w5 w5", "w6", "w5"], ["w6 w6", "w6", "w5"]]
    scores = score_responses(prompts, responses, [CountWord("w5"), CountWord("w6")])
    assert scores == {"count_w5": [[2, 0, 1], [0, 0, 1]], "count_w6": [[0, 1, 0], [2, 1, 0]]}
    data = best_and_worst_pairs(prompts, responses, scores)
    assert data["count_w5"]["chosen"] == ["w5 w5", "w5"] and data["count_w5"]["rejected"] == ["w6", "w6 w6"]
    assert data["count_w6"]["chosen"] == ["w6", "w6 w6"] and data["count_w6"]["rejected"] == ["w5 w5", "w5"]
    narrow = best_and_worst_pairs(prompts, responses, scores, PairingOptions(min_gap=1.5))
    assert narrow["count_w5"]["prompt"] == ["p1"]
    with pytest.raises(ValueError, match="gave no pair"):
        best_and_worst_pairs(prompts, responses, scores, PairingOptions(min_gap=5))


def test_preference_data_is_cached_on_disk(tmp_path, monkeypatch):
    scorers = [CountWord("w5"), CountWord("w6")]
    settings = dict(num_samples=4, max_new_tokens=6, batch_size=8, show_progress=False)
    settings["pairing"] = PairingOptions(min_gap=-1.0)
    first = build_preference_data(
        tiny_llama(), tiny_chat_tokenizer(), ["w5 w6", "w7 w8"], scorers, tmp_path, **settings
    )
    assert sorted(first) == ["count_w5", "count_w6"]

    def no_sampling(*args, **kwargs):
        raise AssertionError("a cached run must not sample again")

    monkeypatch.setattr(candidates, "sample_responses", no_sampling)
    again = build_preference_data(
        tiny_llama(), tiny_chat_tokenizer(), ["w5 w6", "w7 w8"], scorers, tmp_path, **settings
    )
    assert again["count_w5"]["chosen"] == first["count_w5"]["chosen"]
    with pytest.raises(ValueError, match="remove it to rebuild"):
        build_preference_data(tiny_llama(), tiny_chat_tokenizer(), ["w5"], [CountWord("w7")], tmp_path, **settings)


def test_sentence_helpers():
    from peft_pblora.data.candidates import first_sentence, trim_to_last_sentence, with_first_sentence_variants

    assert trim_to_last_sentence("One. Two! Three is cut") == "One. Two!"
    assert trim_to_last_sentence("no sentence end") == "no sentence end"
    assert trim_to_last_sentence("Version 2.5 is out. More") == "Version 2.5 is out."
    assert first_sentence("Short answer. More detail here.") == "Short answer."
    assert first_sentence("Only one sentence.") is None
    variants = with_first_sentence_variants([["A. B.", "A. B.", "C. D. E."], ["single"]])
    assert variants == [["A. B.", "C. D. E.", "A.", "C."], ["single"]]


def test_sentence_variants_become_candidates(tmp_path, monkeypatch):
    samples = [["Long answer first. And more words follow here.", "Another long one. With detail."]]
    monkeypatch.setattr(candidates, "sample_responses", lambda *args, **kwargs: samples)

    class Shortness:
        name = "shortness"

        def __call__(self, prompts, responses):
            return [-float(len(response)) for response in responses]

    data = build_preference_data(
        None, None, ["p"], [Shortness()], tmp_path, sentence_variants=True, show_progress=False
    )
    assert data["shortness"]["chosen"] == ["Another long one."]
    assert data["shortness"]["rejected"] == ["Long answer first. And more words follow here."]


def test_length_matched_pairs_take_the_largest_gap_among_equally_long_answers():
    prompts = ["p"]
    responses = [["w5 w5 w5 w6 w6 w6", "w6", "w5 w6 w6 w6 w6 w6", "w5"]]
    scores = score_responses(prompts, responses, [CountWord("w5"), CountWord("w6")])
    free = best_and_worst_pairs(prompts, responses, scores)
    assert (free["count_w5"]["chosen"], free["count_w5"]["rejected"]) == (["w5 w5 w5 w6 w6 w6"], ["w6"])
    matched = best_and_worst_pairs(
        prompts, responses, scores, PairingOptions(length_matched=["count_w5"], max_length_ratio=1.5)
    )
    assert (matched["count_w5"]["chosen"], matched["count_w5"]["rejected"]) == (
        ["w5 w5 w5 w6 w6 w6"],
        ["w5 w6 w6 w6 w6 w6"],
    )
    assert matched["count_w6"]["chosen"] == free["count_w6"]["chosen"]  # objectives not named pair freely
    with pytest.raises(ValueError, match="not among the objectives"):
        best_and_worst_pairs(prompts, responses, scores, PairingOptions(length_matched=["brevity"]))
    with pytest.raises(ValueError, match="max_length_ratio must be >= 1"):
        PairingOptions(length_matched=["count_w5"], max_length_ratio=0.5)
    with pytest.raises(TypeError, match="a list of objective names, got the string 'count_w5'"):
        PairingOptions(length_matched="count_w5")


def test_score_matched_pairs_take_the_largest_gap_among_answers_alike_on_the_other_objectives():
    prompts = ["p"]
    responses = [["w5 w5 w5", "w6 w6", "w5 w5 w6 w6", "w7"]]
    scores = score_responses(prompts, responses, [CountWord("w5"), CountWord("w6")])
    assert scores == {"count_w5": [[3, 0, 2, 0]], "count_w6": [[0, 2, 2, 0]]}
    free = best_and_worst_pairs(prompts, responses, scores)
    assert (free["count_w5"]["chosen"], free["count_w5"]["rejected"]) == (["w5 w5 w5"], ["w6 w6"])
    matched = best_and_worst_pairs(
        prompts, responses, scores, PairingOptions(score_matched=["count_w5"], max_score_difference=0.5)
    )
    assert (matched["count_w5"]["chosen"], matched["count_w5"]["rejected"]) == (["w5 w5 w5"], ["w7"])
    assert matched["count_w6"]["chosen"] == free["count_w6"]["chosen"]  # objectives not named pair freely
    loose = best_and_worst_pairs(
        prompts, responses, scores, PairingOptions(score_matched=["count_w5"], max_score_difference=2)
    )
    assert loose["count_w5"]["rejected"] == free["count_w5"]["rejected"]
    with pytest.raises(ValueError, match=r"score_matched names \['brevity'\]"):
        best_and_worst_pairs(prompts, responses, scores, PairingOptions(score_matched=["brevity"]))
    with pytest.raises(ValueError, match="max_score_difference must be >= 0"):
        PairingOptions(score_matched=["count_w5"], max_score_difference=-1)


def test_several_pairs_per_prompt_share_no_answer_and_come_largest_gap_first():
    prompts = ["p", "q"]
    responses = [["w5 w5 w5 w5", "w5", "w5 w5 w5", "", "w5 w5", "w6 w6"], ["w5", "w6 w6"]]
    scores = score_responses(prompts, responses, [CountWord("w5"), CountWord("w6")])
    assert scores["count_w5"] == [[4, 1, 3, 0, 2, 0], [1, 0]]
    # by hand: 4 vs 0 (gap 4; the first answer without w5, ""), then 3 vs the other 0 ("w6 w6"), then 2 vs 1
    pairs = best_and_worst_pairs(prompts, responses, scores, PairingOptions(pairs_per_prompt=3))["count_w5"]
    assert pairs["chosen"] == ["w5 w5 w5 w5", "w5 w5 w5", "w5 w5", "w5"]
    assert pairs["rejected"] == ["", "w6 w6", "w5", "w6 w6"]
    assert pairs["score_gap"] == [4, 3, 1, 1] and pairs["prompt"] == ["p", "p", "p", "q"]
    two = best_and_worst_pairs(prompts, responses, scores, PairingOptions(pairs_per_prompt=2, min_gap=1.5))
    assert two["count_w5"]["score_gap"] == [4, 3]  # gaps must exceed min_gap: q's only gap (1) does not
    one = best_and_worst_pairs(prompts, responses, scores)["count_w5"]
    assert one["chosen"] == ["w5 w5 w5 w5", "w5"] and one["rejected"] == ["", "w6 w6"]
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="pairs_per_prompt must be an integer >= 1"):
            PairingOptions(pairs_per_prompt=bad)


def test_scored_candidates_are_cached_so_pairs_can_be_remade_without_sampling(tmp_path, monkeypatch):
    scorers = [CountWord("w5"), CountWord("w6")]
    samples = [["w5 w5 w5 w6 w6 w6", "w6", "w5 w6 w6 w6 w6 w6", "w5"]]
    monkeypatch.setattr(candidates, "sample_responses", lambda *args, **kwargs: samples)
    free = build_preference_data(None, None, ["p"], scorers, tmp_path / "free", show_progress=False)

    def no_sampling(*args, **kwargs):
        raise AssertionError("cached candidates must not be sampled again")

    monkeypatch.setattr(candidates, "sample_responses", no_sampling)
    (tmp_path / "matched").mkdir()
    (tmp_path / "free" / "candidates").rename(tmp_path / "matched" / "candidates")
    matched = build_preference_data(
        None, None, ["p"], scorers, tmp_path / "matched", show_progress=False,
        pairing=PairingOptions(length_matched=["count_w5"]),
    )  # fmt: skip
    assert free["count_w5"]["rejected"] == ["w6"] and matched["count_w5"]["rejected"] == ["w5 w6 w6 w6 w6 w6"]
    (tmp_path / "alike").mkdir()
    shutil.copytree(tmp_path / "matched" / "candidates", tmp_path / "alike" / "candidates")
    alike = build_preference_data(
        None, None, ["p"], scorers, tmp_path / "alike", show_progress=False,
        pairing=PairingOptions(score_matched=["count_w5"], max_score_difference=1),
    )  # fmt: skip
    assert (alike["count_w5"]["chosen"], alike["count_w5"]["rejected"]) == (["w5"], ["w6"])  # w6 counts 0 and 1
    with pytest.raises(ValueError, match="other prompts"):
        candidates.sample_and_score(None, None, ["q"], scorers, tmp_path / "matched" / "candidates")
    responses, rescored = candidates.sample_and_score(
        None, None, ["p"], [CountWord("w5"), CountWord("w7")], tmp_path / "matched" / "candidates"
    )  # cached answers, scored by the scorers given: a new objective needs no sampling
    assert responses == samples and rescored == {"count_w5": [[3.0, 0.0, 1.0, 1.0]], "count_w7": [[0.0] * 4]}


def test_system_prompts_add_candidates_sampled_after_that_system_turn(tmp_path, monkeypatch):
    calls = []

    def fake_sampling(model, tokenizer, prompts, num_samples, *args, seed=0, system_prompt=None, **kwargs):
        calls.append((system_prompt, seed))
        return [["plain answer.", "shared answer."]] if system_prompt is None else [["shared answer.", "warm answer!"]]

    monkeypatch.setattr(candidates, "sample_responses", fake_sampling)
    responses, scores = candidates.sample_and_score(
        None, None, ["p"], [CountWord("answer!")], tmp_path, num_samples=2, seed=3, system_prompts=["Be warm."]
    )
    assert calls == [(None, 3), ("Be warm.", 4)]
    assert responses == [["plain answer.", "shared answer.", "warm answer!"]]  # each distinct answer once
    assert scores == {"count_answer!": [[0.0, 0.0, 1.0]]}
    assert candidates.system_prompts_of_candidates(tmp_path) == [["", "", "Be warm."]]


def test_only_the_system_prompted_objectives_pair_system_prompted_candidates(tmp_path, monkeypatch):
    def fake_sampling(model, tokenizer, prompts, num_samples, *args, system_prompt=None, **kwargs):
        return [["plain answer.", "plain plain answer."]] if system_prompt is None else [["warm answer!", "warm."]]

    monkeypatch.setattr(candidates, "sample_responses", fake_sampling)
    scorers = [CountWord("answer!"), CountWord("plain")]
    settings = dict(show_progress=False, system_prompts=["Be warm."])
    everyone = build_preference_data(
        None, None, ["p"], scorers, tmp_path / "all", pairing=PairingOptions(min_gap=-1.0), **settings
    )
    assert everyone["count_plain"]["rejected"] == ["warm answer!"]  # the first of the zero-scored candidates
    only_tone = build_preference_data(
        None, None, ["p"], scorers, tmp_path / "tone", **settings,
        pairing=PairingOptions(min_gap=-1.0, system_prompted_objectives=["count_answer!"]),
    )  # fmt: skip
    assert only_tone["count_answer!"]["chosen"] == ["warm answer!"]
    assert only_tone["count_plain"]["chosen"] == ["plain plain answer."]
    assert only_tone["count_plain"]["rejected"] == ["plain answer."]  # the warm answers are not candidates here


def test_chat_texts_put_the_system_turn_first():
    from peft_pblora.data.chat import chat_texts

    tokenizer = tiny_chat_tokenizer()
    plain, with_system = chat_texts(tokenizer, ["w5"])[0], chat_texts(tokenizer, ["w5"], "w9 w9")[0]
    assert "w9 w9" not in plain and with_system.index("w9 w9") < with_system.index("w5")
    assert with_system.endswith(plain.split("w5", 1)[1])  # the same user turn and generation prompt follow


def test_whole_samples_only_leaves_first_sentence_variants_out_of_that_objectives_pairs():
    prompts = ["p"]
    responses = [["w5 w5. w6 w7.", "w5 w5.", "w6. w6 w7 w7.", "w6."]]  # two samples, then their first sentences
    scores = {"short_w5": [[1.0, 5.0, 0.0, -5.0]], "other": [[1.0, 5.0, 0.0, -5.0]]}
    free = best_and_worst_pairs(prompts, responses, scores)
    assert (free["short_w5"]["chosen"], free["short_w5"]["rejected"]) == (["w5 w5."], ["w6."])
    whole = best_and_worst_pairs(prompts, responses, scores, PairingOptions(whole_samples_only=["short_w5"]))
    assert (whole["short_w5"]["chosen"], whole["short_w5"]["rejected"]) == (["w5 w5. w6 w7."], ["w6. w6 w7 w7."])
    assert whole["other"]["chosen"] == ["w5 w5."]  # objectives not named keep every candidate
    with pytest.raises(ValueError, match="whole_samples_only names"):
        best_and_worst_pairs(prompts, responses, scores, PairingOptions(whole_samples_only=["tone"]))


def test_variants_are_left_out_for_objectives_whose_whole_samples_do_not_pair_by_length():
    prompts = ["p1", "p2"]
    responses = [  # per prompt: a sample, its first sentence, another sample, its first sentence
        ["w5 w5. w6 w7 w8.", "w5 w5.", "w6 w6. w7.", "w6 w6."],
        ["w6 w6. w5 w5 w5 w5.", "w6 w6.", "w5. w6.", "w5."],
    ]
    # tone's best whole sample is the longer one in p1 and the shorter in p2 (length sign 0), its extremes are the
    # first sentences; short (minus the words) prefers the shorter whole sample in both (length sign -1)
    scores = {
        "tone": [[0.6, 1.0, 0.2, -1.0], [0.2, -1.0, 0.6, 1.0]],
        "short": [[-5.0, -2.0, -3.0, -2.0], [-6.0, -2.0, -2.0, -1.0]],
    }
    assert objectives_needing_whole_samples(prompts, responses, scores, PairingOptions()) == ["tone"]
    read = best_and_worst_pairs(prompts, responses, scores, PairingOptions(whole_samples_only=None))
    assert read["tone"]["chosen"] == ["w5 w5. w6 w7 w8.", "w5. w6."]
    assert read["tone"]["rejected"] == ["w6 w6. w7.", "w6 w6. w5 w5 w5 w5."]
    assert read["short"]["chosen"] == ["w5 w5.", "w5."]  # its shortest answers are the variants, kept
    assert read["short"]["rejected"] == ["w5 w5. w6 w7 w8.", "w6 w6. w5 w5 w5 w5."]
    every_candidate = best_and_worst_pairs(prompts, responses, scores)
    assert every_candidate["tone"]["chosen"] == ["w5 w5.", "w5."]  # the one-sentence extremes


def test_an_objective_whose_whole_samples_give_no_pair_keeps_the_variants():
    responses = [["w5 w5. w6.", "w5 w5.", "w6 w6. w7.", "w6 w6."]]
    scores = {"flat": [[0.5, 1.0, 0.5, 0.0]], "short": [[-3.0, -2.0, -3.0, -2.0]]}
    assert objectives_needing_whole_samples(["p"], responses, scores, PairingOptions()) == []
    read = best_and_worst_pairs(["p"], responses, scores, PairingOptions(whole_samples_only=None))
    assert (read["flat"]["chosen"], read["flat"]["rejected"]) == (["w5 w5."], ["w6 w6."])


def test_without_first_sentence_variants_no_objective_is_named_and_array_masks_serve():
    responses = [["w5 w6.", "w6 w6 w7.", "w7."], ["w5 w6.", "w6 w6 w7.", "w7."]]
    scores = {"tone": [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]]}  # the longer chosen once, the shorter once: sign 0
    assert objectives_needing_whole_samples(["p1", "p2"], responses, scores, PairingOptions()) == []
    masks = np.array([[True, True, False], [True, True, False]])
    pairs = best_and_worst_pairs(["p1", "p2"], responses, scores, usable={"tone": masks})
    assert pairs["tone"]["chosen"] == ["w5 w6.", "w6 w6 w7."] and pairs["tone"]["rejected"] == ["w6 w6 w7.", "w5 w6."]


def test_pairing_options_are_checked_and_passed_by_keyword(tmp_path):
    options = PairingOptions(length_matched=["count_w5"], score_matched=("count_w6",))
    assert options.length_matched == ("count_w5",) and options.score_matched == ("count_w6",)
    assert options.system_prompted_objectives is None  # None: every objective may use system-prompted answers
    with pytest.raises(ValueError, match=r"system_prompted_objectives names \['tone'\]"):
        PairingOptions(system_prompted_objectives=["tone"]).check_objectives(["count_w5"])
    with pytest.raises(TypeError, match="positional"):
        build_preference_data(None, None, ["p"], [CountWord("w5")], tmp_path, 4)  # past cache_dir: keywords only


# Two prompts, three candidates each; a's pairs are (0, 1) and (1, 0), b's (0, 1) and (2, 0) (the first of equal gaps).
SIDE_RESPONSES = [["x0", "x1", "x2"], ["y0", "y1", "y2"]]
SIDE_SCORES = {"a": [[2, 0, 1], [0, 3, 1]], "b": [[1, 0, 0], [0, 0, 2]]}


def test_side_shares_by_hand():
    shares = side_shares(SIDE_RESPONSES, SIDE_SCORES, PairingOptions(whole_samples_only=[]))
    # a's own pairs gap 2 and 3 (mean 2.5), b's 1 and 2 (mean 1.5). On a's pairs b moves 1 - 0 and 0 - 0; on b's
    # pairs a moves 2 - 0 and 1 - 0.
    assert shares == {"a": {"b": pytest.approx(0.5 / 1.5)}, "b": {"a": pytest.approx(1.5 / 2.5)}}
    flat = {"a": SIDE_SCORES["a"], "b": [[1, 1, 1], [0, 0, 0]]}  # b gives no pair: nothing to raise
    assert side_shares(SIDE_RESPONSES, flat, PairingOptions(whole_samples_only=[]))["a"] == {"b": 0.0}


def test_an_objective_is_score_matched_where_its_pairs_carry_another_and_matching_keeps_half_of_them(monkeypatch):
    options = PairingOptions(whole_samples_only=[])
    # Both carry the other past a quarter; alike within 0.1 on a, b keeps none of its 2 pairs, a keeps both of its.
    assert objectives_carrying_others(SIDE_RESPONSES, SIDE_SCORES, options) == ["a"]
    loose = PairingOptions(whole_samples_only=[], max_score_difference=1)
    assert objectives_carrying_others(SIDE_RESPONSES, SIDE_SCORES, loose) == ["a", "b"]
    prompts = ["p", "q"]
    read = best_and_worst_pairs(prompts, SIDE_RESPONSES, SIDE_SCORES, PairingOptions(score_matched=None))
    free = best_and_worst_pairs(prompts, SIDE_RESPONSES, SIDE_SCORES, PairingOptions(score_matched=[]))
    assert read["a"]["chosen"] == ["x2", "y1"] and read["a"]["rejected"] == ["x1", "y0"]  # alike on b
    assert free["a"]["chosen"] == ["x0", "y1"] and free["a"]["rejected"] == ["x1", "y0"]
    assert read["b"]["chosen"] == free["b"]["chosen"] == ["x0", "y2"]  # b is left free
    monkeypatch.setattr(pairing_module, "MAX_SIDE_SHARE", 0.5)  # a's share, 1/3, is now below it; b's, 0.6, not
    assert objectives_carrying_others(SIDE_RESPONSES, SIDE_SCORES, loose) == ["b"]
