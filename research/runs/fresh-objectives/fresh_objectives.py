"""Four more rule-based objectives written as a user would write their own, to test the library as it stands after
research log section 34 (score matching read from the candidates) on objectives no run has scored (section 35).
Fixed, with this file and the pairs below committed, before any run scored them; each returns a score in [0, 1] per
answer, higher is better, and imports nothing from peft_pblora (the sentence split is section 29's, from
`unseen_objectives`, so both folders go on PYTHONPATH). The pairs to run, seed 0 first, then seed 1:

    contractions against imperatives, paragraphs against word variety, contractions against paragraphs,
    imperatives against word variety

    PYTHONPATH=src:research/runs/fresh-objectives:research/runs/unseen-objectives \
        python scripts/steering_benchmark.py --preset cpu --test_prompts 48 --recipe log-ratio-forms-from-pairs \
        --pairs fresh_objectives:Contractions,fresh_objectives:Imperatives ...
"""

from __future__ import annotations

import re

from unseen_objectives import sentence_share

WORD = re.compile(r"[A-Za-z']+")
CONTRACTION = re.compile(r"\b[A-Za-z]+(?:n't|'re|'ve|'ll|'d|'m)\b|\blet's\b", re.IGNORECASE)
IMPERATIVE_VERBS = frozenset(
    "add avoid be begin check choose consider create do don't find follow get give go keep let look make "
    "note pick place practice put read remember remove set start stay take think track try turn use write".split()
)
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
FULL_SCORE_PARAGRAPHS = 4
VARIETY_WORDS = 40
VARIETY_AT_ZERO = 0.5


class Contractions:
    """Register: the share of sentences holding a contraction ("don't", "you're", "I'll", "let's"; a possessive
    "'s" does not count)."""

    name = "contractions"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, CONTRACTION.search) for answer in responses]


def opens_with_imperative(sentence: str) -> bool:
    """Whether the sentence's first word (list markers and markup skipped) is one of the common imperative verbs."""
    words = WORD.findall(sentence)
    return bool(words) and words[0].lower() in IMPERATIVE_VERBS


class Imperatives:
    """Instructional tone: the share of sentences that open with an imperative verb ("Try ...", "Use ...",
    "Remember ...")."""

    name = "imperatives"

    def __call__(self, prompts, responses):
        return [sentence_share(answer, opens_with_imperative) for answer in responses]


class Paragraphs:
    """Layout: paragraphs separated by a blank line, 0 for one paragraph (or none) rising to 1 at four or more."""

    name = "paragraphs"

    def __call__(self, prompts, responses):
        scores = []
        for answer in responses:
            paragraphs = [part for part in PARAGRAPH_BREAK.split(answer.strip()) if WORD.search(part)]
            scores.append(min(1.0, max(0, len(paragraphs) - 1) / (FULL_SCORE_PARAGRAPHS - 1)))
        return scores


class WordVariety:
    """Vocabulary: the share of distinct words among the answer's first 40 words, 0 at half of them distinct (or
    fewer, or no word) and 1 when every one is distinct; a repetitive answer scores low."""

    name = "word_variety"

    def __call__(self, prompts, responses):
        scores = []
        for answer in responses:
            words = [word.lower() for word in WORD.findall(answer)[:VARIETY_WORDS]]
            distinct = len(set(words)) / len(words) if words else 0.0
            scores.append(max(0.0, (distinct - VARIETY_AT_ZERO) / (1 - VARIETY_AT_ZERO)))
        return scores


__all__ = ["Contractions", "Imperatives", "Paragraphs", "WordVariety"]
