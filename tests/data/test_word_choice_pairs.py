"""Pairs that differ by one word: the answer up to the word that earns its score against the base's alternative."""

from __future__ import annotations

import json

import pytest
import torch
from datasets import Dataset, DatasetDict

from peft_pblora.data import (
    PairingOptions,
    added_pairs,
    build_preference_data,
    candidates,
    preference_pairs,
    word_choice_pairs,
)
from peft_pblora.data.word_choice_pairs import (
    ALTERNATIVES,
    WORD_CHOICE_PAIR_WEIGHT,
    NextTokens,
    bounded_pair_weight,
    left_without_advice,
    objectives_left_without,
    with_word_choice_pairs,
    word_choice_pair_weights,
    word_choice_rows,
)
from peft_pblora.pipeline import RunSettings
from peft_pblora.pipeline.cli import parse_settings
from peft_pblora.pipeline.pairing_lines import pairing_section, word_choice_imbalance_text
from peft_pblora.trainer.preference_data import PreferenceTokenizer, build_grouped_dataset

from ..conftest import CountWord, tiny_chat_tokenizer, tiny_llama, tiny_tokenizer


class FixedRanking(NextTokens):
    """Stands in for the base: the same next-token ranking after any beginning, and the beginnings it was asked."""

    def __init__(self, ranking: list[int], tokenizer=None) -> None:
        self.tokenizer = tokenizer or tiny_tokenizer()
        self.rendering, self.chat_prompts = PreferenceTokenizer(self.tokenizer, None, None), False
        self.ranking_ids, self.asked = ranking, []

    def ranking(self, before) -> list[int]:
        self.asked.append(before.text)
        return self.ranking_ids


def sentencepiece_tokenizer():
    """A SentencePiece-style BPE built locally ('▁' marks a space; a lone token decodes without it): 'We don't know'
    is '▁We', '▁don', "'t", '▁know'."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    merges = [("▁", "W"), ("▁W", "e"), ("▁", "d"), ("▁d", "o"), ("▁do", "n"), ("'", "t"), ("▁", "k"), ("n", "o"),
              ("▁k", "no"), ("▁kno", "w")]  # fmt: skip
    vocab = {text: index for index, text in enumerate(["<pad>", "</s>", "▁", "W", "e", "d", "o", "n", "'", "t", "k",
                                                       "w", "\n"])}  # fmt: skip
    for first, second in merges:
        vocab[first + second] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>")


def pairs(prompts, chosen, rejected) -> Dataset:
    return Dataset.from_dict(
        {"prompt": prompts, "chosen": chosen, "rejected": rejected, "score_gap": [1.0] * len(prompts)}
    )


def test_the_word_whose_removal_lowers_the_score_most_against_the_first_alternative_that_scores_lower():
    made = pairs(["p1", "p2"], ["w7 w5 w5 w8", "w9 w8"], ["w7 w8", "w9 w5"])
    # the base's likeliest token is the word itself (id 5), skipped; the next, w6, after the beginning scores 0 < 1
    base = FixedRanking([5, 6, 10])
    rows = word_choice_rows(made, CountWord("w5"), base)
    # "w7 w5 w5 w8": removing either w5 lowers the count by 1; the first of them is the word
    assert rows == {
        "prompt": ["p1", "p2"],
        "chosen": ["w7 w5", "w9 w5"],
        "rejected": ["w7 w6", "w9 w6"],
        "score_gap": [1.0, 1.0],
    }
    # answers with no word whose removal lowers the count ("w7 w8", "w9 w8") ask the base nothing
    assert base.asked == ["w7", "w9"]


def test_the_end_of_the_answer_is_no_alternative_to_the_word():
    made = pairs(["p1"], ["w7 w5"], ["w7 w8"])
    eos, pad = tiny_tokenizer().eos_token_id, tiny_tokenizer().pad_token_id
    rows = word_choice_rows(made, CountWord("w5"), FixedRanking([eos, pad, 6]))
    assert rows["rejected"] == ["w7 w6"], "EOS and the other special tokens are skipped"
    assert word_choice_rows(made, CountWord("w5"), FixedRanking([eos]))["prompt"] == []


class SpacedTokens:
    """Stands in for a byte-level tokenizer: tokens that carry their spaces, one of them only spaces."""

    texts = {3: "\n\n", 4: " w", 5: " w5", 6: " w6", 7: " w7"}
    all_special_ids = [1]

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        by_text = {value: key for key, value in self.texts.items()}
        return {"input_ids": [by_text[" " + word] for word in text.split()]}

    def decode(self, ids: list[int]) -> str:
        return "".join(self.texts[index] for index in ids)


def test_alternatives_are_decoded_in_context_and_are_other_words():
    tokenizer = sentencepiece_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    made = pairs(["p1"], ["We don't know"], ["We know"])
    # the word's own first token, then its beginning (" do", a space only in context), then another word
    base = FixedRanking([ids("▁don"), ids("▁do"), ids("▁know")], tokenizer)
    rows = word_choice_rows(made, CountWord("don't"), base)
    assert base.asked == ["We"]
    assert rows["chosen"] == ["We don't"] and rows["rejected"] == ["We know"], "not 'Wedon' nor 'We do'"
    base.ranking_ids = [ids("▁do")]
    assert word_choice_rows(made, CountWord("don't"), base)["prompt"] == []


def test_the_base_is_asked_after_the_line_breaks_before_the_word_as_training_tokenizes_them():
    tokenizer = sentencepiece_tokenizer()
    made = pairs(["p1"], ["We\n\ndon't"], ["We"])
    base = FixedRanking([tokenizer.convert_tokens_to_ids("d"), tokenizer.convert_tokens_to_ids("▁know")], tokenizer)
    rows = word_choice_rows(made, CountWord("don't"), base)
    assert base.asked == ["We\n\n"], "the answer's own tokens up to the word: '▁We', '\\n', '\\n'"
    assert rows["rejected"] == ["We\n\n know"]


def test_an_answer_gets_no_pair_without_a_word_that_earns_its_score_or_an_alternative_to_it():
    made = pairs(["p1"], ["w7 w5"], ["w7 w8"])
    rows = word_choice_rows(made, CountWord("w5"), FixedRanking([5]))  # the only alternative: the word
    assert rows["prompt"] == []
    rows = word_choice_rows(made, ConstantScore(), FixedRanking([6]))  # no word earns the score
    assert rows["prompt"] == []


class ConstantScore:
    """A scorer no removal changes: no word earns the score."""

    name = "constant"

    def __call__(self, prompts, responses):
        return [1.0] * len(responses)


@pytest.mark.parametrize("chat", [False, True])
def test_the_ranking_is_the_base_models_on_the_prompt_and_beginning_as_training_renders_them(chat):
    model = tiny_llama(seed=3).eval()
    tokenizer = tiny_chat_tokenizer() if chat else tiny_tokenizer()
    next_tokens = NextTokens(model, tokenizer, chat_prompts=chat)
    before = next_tokens.before_word("w10 w11", "w7 w8 w9", start=6)
    assert (before.answer_ids, before.text, before.word_first_id) == ([7, 8], "w7 w8", 9)
    ranking = next_tokens.ranking(before)
    prompt_ids = [10, 11, 4] if chat else [10, 11]  # the chat template: the user's words, then w4
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt_ids + [7, 8]])).logits[0, -1]
    assert ranking == logits.topk(ALTERNATIVES).indices.tolist()


def test_added_pairs_carry_their_weight_and_the_others_weigh_1_and_matched_objectives_get_none():
    data = DatasetDict(
        {
            "count_w5": pairs(["p1"], ["w7 w5"], ["w7 w8"]),
            "count_w6": pairs(["p1"], ["w7 w6"], ["w7 w8"]),
        }
    )
    model, tokenizer = tiny_llama(seed=1).eval(), tiny_tokenizer()
    extended = with_word_choice_pairs(
        data, [CountWord("w5"), CountWord("w6")], model, tokenizer, weight=4.0, matched=["count_w6"]
    )
    assert extended["count_w6"].to_dict() == {**data["count_w6"].to_dict(), "weight": [1.0]}
    assert extended["count_w5"]["chosen"][:1] == ["w7 w5"] and extended["count_w5"]["weight"][0] == 1.0
    added = extended["count_w5"][1:]
    assert added["chosen"] == ["w7 w5"] and added["weight"] == [4.0]
    assert added["rejected"][0].startswith("w7") and added["rejected"][0] != "w7w5"
    with pytest.raises(ValueError, match="weight must be a finite number >= 0, got -1"):
        with_word_choice_pairs(data, [CountWord("w5"), CountWord("w6")], model, tokenizer, weight=-1.0)


def test_unfinished_pairs_are_marked_so_and_train_with_no_eos_after_the_word():
    data = DatasetDict({"count_w5": pairs(["p1"], ["w7 w5"], ["w7 w8"])})
    model, tokenizer = tiny_llama(seed=1).eval(), tiny_tokenizer()
    ended = with_word_choice_pairs(data, [CountWord("w5")], model, tokenizer)
    assert "unfinished" not in ended["count_w5"].column_names, "ended pairs keep the data as it was"
    extended = with_word_choice_pairs(data, [CountWord("w5")], model, tokenizer, unfinished=True)
    assert extended["count_w5"]["unfinished"] == [False, True]
    assert extended["count_w5"][1]["chosen"] == "w7 w5"
    rows = build_grouped_dataset(extended, ["count_w5"], None, PreferenceTokenizer(tokenizer, None, None))
    eos = tokenizer.eos_token_id
    assert rows[0]["first_input_ids"] == [[7, 5, eos]] and rows[0]["second_input_ids"] == [[7, 8, eos]]
    assert rows[1]["first_input_ids"] == [[7, 5]], "the word is the chosen side's last token"
    assert eos not in rows[1]["second_input_ids"][0]
    with pytest.raises(TypeError, match="unfinished must be True or False, got 'yes'"):
        with_word_choice_pairs(data, [CountWord("w5")], model, tokenizer, unfinished="yes")


def test_a_rule_adding_pairs_after_unfinished_ones_adds_whole_answers():
    made = pairs(["p1"], ["w7 w5"], ["w7 w8"]).add_column("unfinished", [True])
    extended = added_pairs.with_added_pairs(
        DatasetDict({"count_w5": made}),
        [CountWord("w5")],
        lambda pairs, scorer: {"prompt": ["p2"], "chosen": ["w5"], "rejected": [""], "score_gap": [1.0]},
        "test pairs",
    )
    assert extended["count_w5"]["unfinished"] == [True, False]


def test_build_preference_data_adds_them_last_with_the_base_and_records_it(tmp_path, monkeypatch):
    samples = [["w7 w5 w5", "w7 w6", "w7"], ["w8 w5", "w8 w6 w6", "w8"]]
    monkeypatch.setattr(candidates, "sample_responses", lambda *args, **kwargs: samples)
    scorers = [CountWord("w5"), CountWord("w6")]
    options = PairingOptions(word_choice_pairs=True, word_choice_pair_weight=2.0)
    model, tokenizer = tiny_llama(seed=2).eval(), tiny_tokenizer()
    with pytest.raises(ValueError, match="word-choice pairs need the base model"):
        build_preference_data(None, None, ["p1", "p2"], scorers, tmp_path / "none", show_progress=False,
                              pairing=options, load_model=lambda: (None, None))  # fmt: skip
    loaded = []

    def load_model():
        loaded.append(1)
        return model, tokenizer

    data = build_preference_data(None, None, ["p1", "p2"], scorers, tmp_path / "made", show_progress=False,
                                 pairing=options, load_model=load_model)  # fmt: skip
    plain = build_preference_data(model, tokenizer, ["p1", "p2"], scorers, tmp_path / "plain", show_progress=False)
    for name in ("count_w5", "count_w6"):
        made = len(plain[name])
        assert data[name][:made]["chosen"] == plain[name]["chosen"] and data[name][:made]["weight"] == [1.0] * made
        assert len(data[name]) > made and set(data[name][made:]["weight"]) == {2.0}
    assert loaded, "the model loads for the word-choice pairs"
    record = json.loads((tmp_path / "made" / preference_pairs.PAIRING_RECORD).read_text())
    assert (record["word_choice_pairs"], record["word_choice_pair_weight"]) == (True, 2.0)
    assert record["word_choice_pairs_unfinished"] is False
    counts = {name: len(data[name]) - len(plain[name]) for name in ("count_w5", "count_w6")}
    assert record["pairs_added"] == {"word_choice_pairs": counts} and record["matched"] == []
    line = pairing_section({"pairing": record})[-1]
    assert line.startswith("Word-choice pairs: per answer") and "loss weight 2." in line
    assert line.endswith(f"Added: count_w5 {counts['count_w5']}, count_w6 {counts['count_w6']}.")


def test_a_matched_objective_gets_none_and_the_run_says_so(tmp_path, monkeypatch, caplog):
    samples = [["w7 w5 w5", "w7 w6", "w8 w5"], ["w8 w5", "w8 w6", "w8"]]
    monkeypatch.setattr(candidates, "sample_responses", lambda *args, **kwargs: samples)
    options = PairingOptions(word_choice_pairs=True, length_matched=["count_w6"])
    model, tokenizer = tiny_llama(seed=2).eval(), tiny_tokenizer()
    with caplog.at_level("WARNING", logger=added_pairs.__name__):
        data = build_preference_data(model, tokenizer, ["p1", "p2"], [CountWord("w5"), CountWord("w6")],
                                     tmp_path / "made", show_progress=False, pairing=options)  # fmt: skip
    assert set(data["count_w6"]["weight"]) == {1.0}, "a length-matched objective gets no word-choice pair"
    record = json.loads((tmp_path / "made" / preference_pairs.PAIRING_RECORD).read_text())
    assert record["pairs_added"]["word_choice_pairs"]["count_w6"] == 0 and record["matched"] == ["count_w6"]
    added = record["pairs_added"]["word_choice_pairs"]["count_w5"]
    assert added == data["count_w5"]["weight"].count(WORD_CHOICE_PAIR_WEIGHT) > 0
    line = pairing_section({"pairing": record})[-1]
    advice = left_without_advice(["count_w6"])
    assert line.endswith(f"Added: count_w5 {added}, count_w6 none (length- or score-matched). {advice}.")
    assert advice.startswith("count_w6 got no word-choice pair while the other objectives did")
    assert "word_choice_pairs: none for ['count_w6'], length- or score-matched" in caplog.text
    assert f"{advice}." in caplog.messages, "make-data warns of an objective left without them"
    assert "count_w5" not in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger=added_pairs.__name__):
        added_pairs.warn_of_objectives_without_added_pairs({"word_choice_pairs": {"a": 0, "b": 3}}, matched=[])
    assert caplog.messages == ["word_choice_pairs: none found for ['a']; their pairs are the sampled ones only"]


def test_an_unfinished_run_records_it_and_the_report_says_so(tmp_path, monkeypatch):
    samples = [["w7 w5 w5", "w7 w6", "w7"], ["w8 w5", "w8 w6 w6", "w8"]]
    monkeypatch.setattr(candidates, "sample_responses", lambda *args, **kwargs: samples)
    options = PairingOptions(word_choice_pairs=True, word_choice_pairs_unfinished=True)
    model, tokenizer = tiny_llama(seed=2).eval(), tiny_tokenizer()
    data = build_preference_data(model, tokenizer, ["p1", "p2"], [CountWord("w5"), CountWord("w6")],
                                 tmp_path / "made", show_progress=False, pairing=options)  # fmt: skip
    weights, unfinished = data["count_w5"]["weight"], data["count_w5"]["unfinished"]
    assert unfinished == [weight == WORD_CHOICE_PAIR_WEIGHT for weight in weights] and any(unfinished)
    record = json.loads((tmp_path / "made" / preference_pairs.PAIRING_RECORD).read_text())
    assert record["word_choice_pairs_unfinished"] is True
    assert "unfinished: no end-of-answer token after the word." in pairing_section({"pairing": record})[-1]


def test_objectives_left_without_are_named_only_where_another_got_some():
    assert objectives_left_without({"conciseness": 0, "emphasis": 5, "positivity": 0}) == ["conciseness", "positivity"]
    assert objectives_left_without({"conciseness": 0, "positivity": 0}) == []  # none got any: nothing is uneven
    assert objectives_left_without({"emphasis": 5, "relevance": 141}) == []
    assert word_choice_imbalance_text({"pairs_added": {"word_choice_pairs": {"a": 3, "b": 3}}}) == ""
    assert word_choice_imbalance_text({}) == ""  # folders made before the counts were recorded


def test_the_run_option_and_its_refusals(tmp_path):
    cli = parse_settings(
        ["--output_dir", str(tmp_path / "cli"), "--word_choice_pairs", "--word_choice_pair_weight", "5"]
    )
    assert cli.pairing().word_choice_pairs and cli.pairing().word_choice_pair_weight == 5.0
    assert not cli.pairing().word_choice_pairs_unfinished
    unfinished = parse_settings(
        ["--output_dir", str(tmp_path / "unfinished"), "--word_choice_pairs", "--word_choice_pairs_unfinished"]
    )
    assert unfinished.pairing().word_choice_pairs_unfinished
    with pytest.raises(ValueError, match="word_choice_pairs_unfinished says how the word-choice pairs end: set"):
        RunSettings(output_dir=str(tmp_path / "alone"), word_choice_pairs_unfinished=True)
    with pytest.raises(TypeError, match="word_choice_pairs_unfinished must be True or False, got 1"):
        PairingOptions(word_choice_pairs=True, word_choice_pairs_unfinished=1)
    assert (
        RunSettings(output_dir=str(tmp_path / "default")).pairing().word_choice_pair_weight == WORD_CHOICE_PAIR_WEIGHT
    )
    with pytest.raises(ValueError, match="word_choice_pairs adds to the pairs the run makes"):
        RunSettings(output_dir=str(tmp_path / "own"), word_choice_pairs=True, preference_pairs=["pairs.jsonl"])
    for weight in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="word_choice_pair_weight must be a finite number >= 0"):
            RunSettings(output_dir=str(tmp_path / "weight"), word_choice_pairs=True, word_choice_pair_weight=weight)
    with pytest.raises(ValueError, match="word_choice_pair_weight must be a finite number >= 0"):
        PairingOptions(word_choice_pairs=True, word_choice_pair_weight=-2.0)


def test_a_weight_share_lowers_the_weight_only_where_the_pairs_would_outweigh_it():
    assert bounded_pair_weight(10.0, 95.0, 141, 10.0) == pytest.approx(10.0 * 95 / 141)  # 141 x 6.74 = 10 x 95
    assert bounded_pair_weight(10.0, 44.0, 40, 10.0) == 10.0, "40 pairs x 10 stay under 10 x 44"
    assert bounded_pair_weight(10.0, 95.0, 141, None) == 10.0 and bounded_pair_weight(10.0, 5.0, 0, 1.0) == 10.0
    # one objective with many answers, one with a single made pair: only the first's pairs are lowered
    data = DatasetDict(
        {
            "count_w5": pairs(["p1", "p2"], ["w7 w5", "w9 w5"], ["w7 w8", "w9 w8"]),
            "count_w6": pairs(["p1"], ["w7 w6"], ["w7 w8"]),
        }
    )
    model, tokenizer = tiny_llama(seed=1).eval(), tiny_tokenizer()
    scorers = [CountWord("w5"), CountWord("w6")]
    extended = with_word_choice_pairs(data, scorers, model, tokenizer, weight=4.0, weight_share=1.5)
    assert extended["count_w5"]["weight"] == [1.0, 1.0, 1.5, 1.5], "two pairs at 4 would weigh 8 > 1.5 x 2"
    assert extended["count_w6"]["weight"] == [1.0, 1.5], "one pair at 4 would weigh 4 > 1.5 x 1"
    assert word_choice_pair_weights(extended, {"count_w5": 2, "count_w6": 1}) == {"count_w5": 1.5, "count_w6": 1.5}
    roomy = with_word_choice_pairs(data, scorers, model, tokenizer, weight=4.0, weight_share=3.0)
    assert roomy["count_w5"]["weight"] == [1.0, 1.0, 3.0, 3.0] and roomy["count_w6"]["weight"] == [1.0, 3.0]
    for share in (0.0, -1.0, float("nan"), "2"):
        with pytest.raises(ValueError, match="word_choice_weight_share must be None or a finite number > 0"):
            with_word_choice_pairs(data, scorers, model, tokenizer, weight_share=share)
    # whole-number weights of the user's own (an int column) keep a fractional bound
    whole = DatasetDict({name: pairs.add_column("weight", [1] * len(pairs)) for name, pairs in data.items()})
    assert whole["count_w5"].features["weight"].dtype == "int64"
    kept = with_word_choice_pairs(whole, scorers, model, tokenizer, weight=4.0, weight_share=0.75)
    assert kept["count_w5"]["weight"] == [1.0, 1.0, 0.75, 0.75]


def test_a_weight_share_over_pairs_that_weigh_nothing_warns_that_the_word_choice_pairs_train_nothing(caplog):
    made = pairs(["p1"], ["w7 w5"], ["w7 w8"])
    data = DatasetDict({"count_w5": made.add_column("weight", [0.0]), "count_w6": pairs(["p1"], ["w7 w6"], ["w7"])})
    model, tokenizer = tiny_llama(seed=1).eval(), tiny_tokenizer()
    with caplog.at_level("WARNING", logger=word_choice_pairs.__name__):
        extended = with_word_choice_pairs(
            data, [CountWord("w5"), CountWord("w6")], model, tokenizer, weight=4.0, weight_share=2.0
        )
    assert extended["count_w5"]["weight"] == [0.0, 0.0] and extended["count_w6"]["weight"] == [1.0, 2.0]
    assert caplog.messages == [
        "word_choice_weight_share: count_w5's other pairs weigh 0.0 in total, so its word-choice pairs (1) weigh 0 "
        "and train nothing"
    ]
    caplog.clear()
    with caplog.at_level("WARNING", logger=word_choice_pairs.__name__):
        unbounded = with_word_choice_pairs(data, [CountWord("w5"), CountWord("w6")], model, tokenizer, weight=4.0)
    assert unbounded["count_w5"]["weight"] == [0.0, 4.0] and caplog.messages == [], "no share: nothing is lowered"


def test_a_weight_share_run_records_the_weights_and_the_report_names_the_lowered(tmp_path, monkeypatch):
    samples = [["w7 w5 w5", "w7 w6", "w7"], ["w8 w5", "w8 w6 w6", "w8"]]
    monkeypatch.setattr(candidates, "sample_responses", lambda *args, **kwargs: samples)
    options = PairingOptions(word_choice_pairs=True, word_choice_weight_share=0.5)
    model, tokenizer = tiny_llama(seed=2).eval(), tiny_tokenizer()
    data = build_preference_data(model, tokenizer, ["p1", "p2"], [CountWord("w5"), CountWord("w6")],
                                 tmp_path / "made", show_progress=False, pairing=options)  # fmt: skip
    record = json.loads((tmp_path / "made" / preference_pairs.PAIRING_RECORD).read_text())
    assert record["word_choice_weight_share"] == 0.5
    weights = record["word_choice_pair_weights"]
    for name, added in record["pairs_added"]["word_choice_pairs"].items():
        made = len(data[name]) - added
        assert weights[name] == pytest.approx(min(WORD_CHOICE_PAIR_WEIGHT, 0.5 * made / added))
        assert data[name]["weight"] == [1.0] * made + [weights[name]] * added
    line = pairing_section({"pairing": record})[-1]
    lowered = ", ".join(f"{name} lowered to {weight:.3g}" for name, weight in weights.items())
    assert f"loss weight 10 (together at most 0.5 times an objective's other pairs: {lowered})." in line
    unbounded = {**record, "word_choice_weight_share": None}
    assert "together at most" not in pairing_section({"pairing": unbounded})[-1]
    roomy = {**record, "word_choice_weight_share": 1000.0, "word_choice_pair_weights": dict.fromkeys(weights, 10.0)}
    assert (
        "(together at most 1000 times an objective's other pairs: none lowered)."
        in pairing_section({"pairing": roomy})[-1]
    ), "a share that lowers nothing is still named"
    off = build_preference_data(model, tokenizer, ["p1", "p2"], [CountWord("w5"), CountWord("w6")],
                                tmp_path / "off", show_progress=False)  # fmt: skip
    assert "weight" not in off["count_w5"].column_names
    record_off = json.loads((tmp_path / "off" / preference_pairs.PAIRING_RECORD).read_text())
    assert record_off["word_choice_weight_share"] is None and record_off["word_choice_pair_weights"] is None


def test_the_weight_share_option_and_its_refusals(tmp_path):
    cli = parse_settings(
        ["--output_dir", str(tmp_path / "cli"), "--word_choice_pairs", "--word_choice_weight_share", "10"]
    )
    assert cli.pairing().word_choice_weight_share == 10.0
    assert RunSettings(output_dir=str(tmp_path / "default")).pairing().word_choice_weight_share is None
    with pytest.raises(ValueError, match="word_choice_weight_share bounds the word-choice pairs: set word_choice_"):
        RunSettings(output_dir=str(tmp_path / "alone"), word_choice_weight_share=10.0)
    for share in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="word_choice_weight_share must be a finite number > 0"):
            RunSettings(output_dir=str(tmp_path / "share"), word_choice_pairs=True, word_choice_weight_share=share)
