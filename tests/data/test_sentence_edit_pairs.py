"""Sentence-edit pairs: an answer of the objective's pairs against itself without the sentence that earns its score."""

from __future__ import annotations

import random
import re

import pytest
from datasets import Dataset, DatasetDict

from peft_pblora.data import PairingOptions, build_preference_data, candidates, preference_pairs
from peft_pblora.data.length_following import length_sign
from peft_pblora.data.sentence_edit_pairs import (
    is_sentence_edit,
    one_sentence_removals,
    sentence_edit_rows,
    sentence_pieces,
    with_sentence_edit_pairs,
)


class SentenceShare:
    """The share of an answer's sentences holding `word`, as the steering benchmark's word-feature scorers count."""

    def __init__(self, word: str) -> None:
        self.name, self.word = f"share_{word}", re.compile(rf"\b{word}\b", re.IGNORECASE)

    def __call__(self, prompts, responses):
        shares = []
        for response in responses:
            sentences = [piece for piece in sentence_pieces(response) if piece.strip()]
            shares.append(sum(bool(self.word.search(piece)) for piece in sentences) / max(len(sentences), 1))
        return shares


class FewerSentences:
    """Prefers short answers: minus the number of sentences, so removing one always raises the score."""

    name = "fewer_sentences"

    def __call__(self, prompts, responses):
        return [-float(len(sentence_pieces(response))) for response in responses]


def pairs(prompts, chosen, rejected) -> Dataset:
    return Dataset.from_dict(
        {"prompt": prompts, "chosen": chosen, "rejected": rejected, "score_gap": [1.0] * len(prompts)}
    )


def test_sentence_pieces_join_to_the_text_and_removals_keep_the_last_sentence():
    words = ["a", "b", "warm", ".", "!", "?", " ", "\n", "1.", "x."]
    generator = random.Random(0)
    for _ in range(200):
        text = "".join(generator.choice(words) + generator.choice(["", " "]) for _ in range(generator.randint(0, 12)))
        assert "".join(sentence_pieces(text)) == text
    assert sentence_pieces("One. Two!\nThree") == ["One. ", "Two!\n", "Three"]
    assert one_sentence_removals("One. 2. Two! Three.") == ["2. Two! Three.", "One. 2. Three."]  # "2." is no sentence
    assert one_sentence_removals("Only one sentence.") == []


def test_each_prompt_gets_the_removal_that_lowers_the_score_most_below_the_whole_answer():
    made = pairs(
        ["p1", "p2", "p3"],
        ["It is warm. It rains. Go out.", "Go now. It is warm here. Stay. Fine.", "No feature. None."],
        ["It rains. Go out.", "It is cold. Go.", "Still none here."],
    )
    rows = sentence_edit_rows(made, SentenceShare("warm"))
    # p1: without "It is warm." the share falls from 1/3 to 0; without "It rains." it rises to 1/2
    # p2: only removing "It is warm here." lowers it (1/4 to 0); p3: no removal lowers a share of 0
    assert rows == {
        "prompt": ["p1", "p2"],
        "chosen": ["It is warm. It rains. Go out.", "Go now. It is warm here. Stay. Fine."],
        "rejected": ["It rains. Go out.", "Go now. Stay. Fine."],
        "score_gap": [pytest.approx(1 / 3), pytest.approx(1 / 4)],
    }
    assert all(map(is_sentence_edit, rows["chosen"], rows["rejected"]))
    assert sentence_edit_rows(made, FewerSentences())["prompt"] == []  # every removal raises its score


def test_the_rejected_answer_of_a_pair_gives_its_removal_where_it_drops_more():
    made = pairs(["p1"], ["A warm day. Yes. Yes. Yes."], ["It is warm. Cold. No."])
    rows = sentence_edit_rows(made, SentenceShare("warm"))
    # chosen: 1/4 -> 0 (drop 0.25); rejected: "It is warm." removed, 1/3 -> 0 (drop 1/3, the larger)
    assert rows["chosen"] == ["It is warm. Cold. No."] and rows["rejected"] == ["Cold. No."]


def test_with_sentence_edit_pairs_appends_them_skips_matched_objectives_and_needs_every_scorer():
    data = DatasetDict(
        {
            "share_warm": pairs(["p1"], ["It is warm. It rains. Go."], ["Go."]),
            "fewer_sentences": pairs(["p1"], ["Go."], ["It is warm. It rains. Go."]),
        }
    )
    extended = with_sentence_edit_pairs(data, [FewerSentences(), SentenceShare("warm")])
    assert extended["share_warm"]["rejected"] == ["Go.", "It rains. Go."]
    assert extended["share_warm"].features == data["share_warm"].features
    assert extended["fewer_sentences"].to_dict() == data["fewer_sentences"].to_dict()
    matched = with_sentence_edit_pairs(data, [FewerSentences(), SentenceShare("warm")], matched=["share_warm"])
    assert matched["share_warm"].to_dict() == data["share_warm"].to_dict()
    with pytest.raises(ValueError, match=r"no scorer for objective\(s\) \['fewer_sentences'\]"):
        with_sentence_edit_pairs(data, [SentenceShare("warm")])


def test_the_length_sign_leaves_sentence_edits_out_where_they_were_added_but_not_first_sentence_variants():
    chosen, rejected = ["It is warm. It rains. Go.", "Go."], ["It rains. Go.", "Go on. Stay."]
    assert length_sign(chosen, rejected, sentence_edits_added=True) == -1.0
    assert length_sign(chosen, rejected) == 0.0  # without them, a pair that looks like one is a made pair
    assert length_sign(["Go on. Stay."], ["Go on."], sentence_edits_added=True) == 1.0  # its sample's beginning
    assert not is_sentence_edit("Go on. Stay.", "Go on.")
    with pytest.raises(ValueError, match="no pairs of two non-empty answers"):
        length_sign(chosen[:1], rejected[:1], sentence_edits_added=True)


def test_each_answer_and_each_removal_is_scored_once():
    scored: list[str] = []

    class Counting(SentenceShare):
        def __call__(self, prompts, responses):
            scored.extend(responses)
            return super().__call__(prompts, responses)

    made = pairs(["p1", "p1"], ["It is warm. Go on. Stay.", "It is warm. Go on. Stay."], ["No. Go.", "Yes. Go."])
    rows = sentence_edit_rows(made, Counting("warm"))
    assert rows["rejected"] == ["Go on. Stay."]
    assert sorted(scored) == sorted(
        ["It is warm. Go on. Stay.", "No. Go.", "Yes. Go.", "Go on. Stay.", "It is warm. Stay.", "Go.", "Go."]
    )


def test_build_preference_data_adds_them_after_the_made_pairs_and_records_it(tmp_path, monkeypatch):
    samples = [["It is warm. It rains. Go.", "Go on. Stay."], ["Warm. Cold. Yes.", "No."]]
    monkeypatch.setattr(candidates, "sample_responses", lambda *args, **kwargs: samples)
    scorers = [SentenceShare("warm"), FewerSentences()]
    options = PairingOptions(sentence_edit_pairs=True)
    data = build_preference_data(None, None, ["p1", "p2"], scorers, tmp_path, show_progress=False, pairing=options)
    assert data["share_warm"]["chosen"] == ["It is warm. It rains. Go.", "Warm. Cold. Yes."] * 2
    assert data["share_warm"]["rejected"] == ["Go on. Stay.", "No.", "It rains. Go.", "Cold. Yes."]
    assert len(data["fewer_sentences"]) == 2
    assert preference_pairs.pairing_record(tmp_path)["sentence_edit_pairs"] is True
    with pytest.raises(TypeError, match="sentence_edit_pairs must be True or False"):
        PairingOptions(sentence_edit_pairs=1)
