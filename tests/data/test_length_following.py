"""The length sign of an objective's pairs and the rule that reads it: by hand on small pairs, and on the built-in
objectives' pairs from the shipped candidates, where it must pick the scorers that follow length and no other once
the pairs of the others leave the first-sentence variants out."""

from __future__ import annotations

from importlib.resources import files

import pytest
from datasets import load_from_disk

from peft_pblora.data.candidates import score_responses
from peft_pblora.data.length_following import LENGTH_FOLLOWING_SIGN, follows_length, length_sign, length_signs
from peft_pblora.data.pairing import PairingOptions, best_and_worst_pairs
from peft_pblora.pipeline.objectives import resolve_objectives
from peft_pblora.pipeline.settings import SCORERS


def test_the_length_sign_counts_longer_minus_shorter_chosen_answers():
    chosen = ["a b c", "a", "a b", "x y z w"]
    rejected = ["a", "a b", "c d", "x"]
    # longer, shorter, as long, longer: (2 - 1) / 4
    assert length_sign(chosen, rejected) == pytest.approx(0.25)
    assert length_sign(rejected, chosen) == pytest.approx(-0.25)
    assert length_signs({"one": {"chosen": ["a b"], "rejected": ["a"]}}) == {"one": 1.0}
    assert length_sign(["extraordinarily"], ["a b c"]) == -1.0  # words, not characters


def test_the_rule_takes_three_pairs_in_four_on_one_side():
    assert LENGTH_FOLLOWING_SIGN == 0.5
    assert follows_length(0.5) and follows_length(-0.5) and follows_length(-1.0)
    assert not follows_length(0.49) and not follows_length(0.0)
    # three longer chosen answers of four
    assert follows_length(length_sign(["a b", "a b", "a b", "a"], ["a", "a", "a", "a b"]))


def test_a_length_sign_needs_as_many_rejected_as_chosen_answers():
    with pytest.raises(ValueError, match="2 chosen answers but 1 rejected ones"):
        length_sign(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="no pairs"):
        length_sign([], [])


def test_the_rule_picks_exactly_the_built_in_objectives_whose_pairs_follow_length():
    candidates = load_from_disk(str(files("peft_pblora.data") / "smollm2_candidates"))
    prompts, responses = list(candidates["prompt"]), [list(row) for row in candidates["responses"]]
    scorers = resolve_objectives(list(SCORERS), SCORERS, "cpu")
    scores = score_responses(prompts, responses, scorers)
    every_candidate = length_signs(best_and_worst_pairs(prompts, responses, scores, PairingOptions()))
    # with the first sentences in their pairs, a whole answer against its first sentence passes for length:
    # relevance's rejected answer is the shorter, and whole-text VADER's longer answer is the more extreme
    following = sorted(name for name, sign in every_candidate.items() if follows_length(sign))
    assert following == ["conciseness", "positivity_whole_text", "relevance", "thoroughness"], every_candidate
    read = length_signs(best_and_worst_pairs(prompts, responses, scores, PairingOptions(whole_samples_only=None)))
    following = sorted(name for name, sign in read.items() if follows_length(sign))
    assert following == ["conciseness", "thoroughness"], read  # the others, paired on whole samples, do not
    assert read["conciseness"] < 0 < read["thoroughness"]  # the short answer chosen, and the long one
