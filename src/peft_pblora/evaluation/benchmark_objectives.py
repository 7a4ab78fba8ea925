"""Rule-based objectives of different kinds for the steering benchmark: layout, style and address.

With the built-in positivity (tone), conciseness (length) and relevance (content) they make six objectives whose
pairs test whether alpha steers on objectives nobody tuned the recipe for. Each scorer returns one score in [0, 1]
per response, higher is better, and needs no download.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .scorers import WORD, _check_lengths, sentences

LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d{1,2}[.)])\s+\S")
SECOND_PERSON = re.compile(r"\b(?:you|your|yours|yourself|yourselves)\b", re.IGNORECASE)


class ListFormat:
    """Layout, in [0, 1]: how many lines are list items (bullets or numbered), up to `full_list` items for 1."""

    name = "list_format"

    def __init__(self, full_list: int = 3) -> None:
        if full_list < 1:
            raise ValueError(f"full_list must be >= 1, got {full_list}")
        self.full_list = full_list

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        _check_lengths(prompts, responses)
        return [
            min(1.0, sum(1 for line in response.splitlines() if LIST_ITEM.match(line)) / self.full_list)
            for response in responses
        ]


class SecondPerson:
    """Address, in [0, 1]: the share of the response's sentences that speak to the user ("you", "your")."""

    name = "second_person"

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        _check_lengths(prompts, responses)
        scores = []
        for response in responses:
            parts = sentences(response)
            scores.append(sum(1 for part in parts if SECOND_PERSON.search(part)) / len(parts) if parts else 0.0)
        return scores


class PlainWords:
    """Style, in [0, 1]: the share of the response's words that are short (at most `max_letters` letters); an empty
    response scores 0."""

    name = "plain_words"

    def __init__(self, max_letters: int = 5) -> None:
        if max_letters < 1:
            raise ValueError(f"max_letters must be >= 1, got {max_letters}")
        self.max_letters = max_letters

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        _check_lengths(prompts, responses)
        scores = []
        for response in responses:
            words = WORD.findall(response)
            scores.append(sum(1 for word in words if len(word) <= self.max_letters) / len(words) if words else 0.0)
        return scores
