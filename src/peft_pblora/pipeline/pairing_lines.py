"""The report's lines on how the preference pairs were made: whole samples only, score matching, the extra answers
for objectives with few pairs and the pairs against the empty answer (from `preference_data/pairing.json`)."""

from __future__ import annotations

from ..data.pairing import MAX_SIDE_SHARE, MIN_MATCHED_SHARE
from ..data.word_choice_pairs import left_without_advice, objectives_left_without


def pairing_section(metrics: dict) -> list[str]:
    """Which objectives were paired on whole samples only (no first-sentence variants), which were score-matched, and
    who chose them; which paired the extra answers sampled for objectives with few pairs."""
    pairing = metrics.get("pairing")
    if not pairing:
        return []
    whole = ", ".join(pairing["whole_samples_only"]) or "none"
    chooser = (
        "read from the candidates: every objective whose pairs among whole samples do not follow length"
        if pairing["read_from_candidates"]
        else "as the settings' whole_samples_only says"
    )
    lines = [f"Pairs among whole samples only (first-sentence variants left out): {whole}; {chooser}."]
    if "score_matched" in pairing:  # folders made before score matching was recorded say nothing of it
        lines.append(score_matching_line(pairing))
    if pairing.get("more_samples_for"):
        share = pairing.get("more_samples_pair_share")  # folders paired before it was recorded do not say it
        covered = f"fewer than {share:.1%} of the prompts" if share is not None else "few of the prompts"
        lines.append(
            f"More answers for objectives with pairs on few prompts: {', '.join(pairing['more_samples_for'])} paired "
            f"{pairing['more_samples_per_prompt']} more answers per prompt, sampled because their pairs covered "
            f"{covered}; the other objectives' pairs are the first answers'."
        )
    if pairing.get("non_answer_pairs"):
        lines.append(
            "Pairs against the empty answer: per prompt, each objective's chosen answer against an empty one, where "
            "its scorer scores the empty answer lower." + pairs_added_text(pairing, "non_answer_pairs")
        )
    if pairing.get("sentence_edit_pairs"):
        lines.append(
            "Sentence-edit pairs: per prompt, each objective's answer against itself without the sentence whose "
            "removal lowers its score most, where one does." + pairs_added_text(pairing, "sentence_edit_pairs")
        )
    if pairing.get("word_choice_pairs"):
        lines.append(
            "Word-choice pairs: per answer, its beginning up to the word whose removal lowers the objective's score "
            "most, against the same beginning followed by the base's likeliest other word that scores lower; each at "
            f"loss weight {pairing['word_choice_pair_weight']:g}"
            + word_choice_share_text(pairing)
            + (
                ", unfinished: no end-of-answer token after the word."
                if pairing.get("word_choice_pairs_unfinished")
                else "."
            )
            + pairs_added_text(pairing, "word_choice_pairs")
            + word_choice_imbalance_text(pairing)
        )
    return lines


def word_choice_share_text(pairing: dict) -> str:
    """' (together at most S times an objective's other pairs: <objective> lowered to <weight>, ...)' where
    `--word_choice_weight_share` was set, naming the objectives whose pairs it weighed less; empty where unset."""
    share = pairing.get("word_choice_weight_share")
    if share is None:
        return ""
    lowered = {
        name: weight
        for name, weight in (pairing.get("word_choice_pair_weights") or {}).items()
        if weight < pairing["word_choice_pair_weight"]
    }
    named = ", ".join(f"{name} lowered to {weight:.3g}" for name, weight in lowered.items()) or "none lowered"
    return f" (together at most {share:g} times an objective's other pairs: {named})"


def word_choice_imbalance_text(pairing: dict) -> str:
    """' <advice>.' where some objectives got word-choice pairs and others none (`objectives_left_without`)."""
    left_without = objectives_left_without(pairing.get("pairs_added", {}).get("word_choice_pairs", {}))
    return f" {left_without_advice(left_without)}." if left_without else ""


def pairs_added_text(pairing: dict, rule: str) -> str:
    """' Added: <objective> <count>, ...', naming the length- or score-matched objectives the rule skips, so that a
    rule that added nothing to an objective says so; empty for folders made before the counts were recorded."""
    counts = pairing.get("pairs_added", {}).get(rule)
    if counts is None:
        return ""
    matched = set(pairing.get("matched", ()))
    added = ", ".join(
        f"{name} none (length- or score-matched)" if name in matched else f"{name} {count or 'none'}"
        for name, count in counts.items()
    )
    return f" Added: {added}."


def score_matching_line(pairing: dict) -> str:
    """The score-matched objectives, who chose them, and, read from the candidates, the other objectives each one's
    unmatched pairs raised by more than `MAX_SIDE_SHARE` of their own pairs' gap."""
    shares = pairing.get("side_shares", {})
    if not pairing["score_matching_read_from_candidates"]:
        matched = ", ".join(pairing["score_matched"]) or "none"
        return f"Score-matched pairs (alike on every other objective): {matched}; as the settings' score_matched says."
    described = []
    for name in pairing["score_matched"]:
        carried = [
            f"{other} by {share:.2f} of {other}'s own pairs' gap"
            for other, share in shares.get(name, {}).items()
            if share > MAX_SIDE_SHARE
        ]
        described.append(f"{name} (its unmatched pairs raise {', '.join(carried)})")
    return (
        f"Score-matched pairs (alike on every other objective): {'; '.join(described) or 'none'}; read from the "
        f"candidates: every objective whose pairs raise another by more than {MAX_SIDE_SHARE:g} of that one's own "
        f"pairs' gap, where matching keeps at least {MIN_MATCHED_SHARE:g} of its pairs."
    )
