"""What a sweep's answers are like besides their scores: empty (no content word), repetitive (a loop), and, at each
objective's vertex, the share of such answers and their likelihood under the base. A score reached by degenerate text
is one that neither the Spearman nor the steering effect shows."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence


def content_words(text: str) -> list[str]:
    """The words of `text` that hold a letter, lower-cased and stripped of markup: list numbers, bullets, bold marks
    and punctuation are not content."""
    stripped = (re.sub(r"[^\w'-]", "", token).strip("_'-").lower() for token in text.split())
    return [word for word in stripped if re.search(r"[^\W\d_]", word)]


def is_wordless(text: str) -> bool:
    """Whether `text` has no content word: empty, or only numbers and markup ("1.\n2.\n3.")."""
    return not content_words(text)


def is_repetitive(text: str) -> bool:
    """Whether a 3-gram of `text`'s content words occurs three times or more: a loop, not a list's repeated markup."""
    words = content_words(text)
    trigrams = [tuple(words[index : index + 3]) for index in range(len(words) - 2)]
    return bool(trigrams) and max(trigrams.count(trigram) for trigram in set(trigrams)) >= 3


def text_quality(texts: Sequence[str]) -> dict[str, float]:
    """Shares of `texts` that are empty (no content word: nothing, or only numbers and markup) or repetitive
    (`is_repetitive`): what the texts alone tell of a point's quality, so kept answers can be measured again."""
    total = max(1, len(texts))
    return {
        "empty": sum(is_wordless(text) for text in texts) / total,
        "repetitive": sum(is_repetitive(text) for text in texts) / total,
    }


def response_quality(responses: Sequence[dict]) -> dict[str, float]:
    """Shares of responses that are empty (`is_wordless`), unfinished (stopped by the token limit, so cut mid-thought
    or mid-word) or repetitive (`is_repetitive`)."""
    total = max(1, len(responses))
    unfinished = sum(1 for response in responses if not response["finished"])
    shares = text_quality([response["text"] for response in responses])
    return {"empty": shares["empty"], "unfinished": unfinished / total, "repetitive": shares["repetitive"]}


def degenerate_share(quality: Mapping[str, float]) -> float:
    """The share of a point's answers that are empty or repetitive, from its `response_quality` (an empty answer has
    no words to repeat, so the two shares never overlap)."""
    return float(quality.get("empty", 0.0)) + float(quality.get("repetitive", 0.0))


def vertex_point(sweep: dict, index: int) -> dict | None:
    """The sweep's first point whose preference gives objective `index` all the weight (its vertex), or None."""
    return next((point for point in sweep["points"] if point["alpha"][index] == 1.0), None)


def degenerate_shares_at_vertices(sweep: dict) -> dict[str, float]:
    """Per objective, the share of the sweep's answers at its own vertex that are empty or repetitive: a score reached
    by degenerate text, which neither its Spearman nor its steering effect shows. Objectives whose vertex was not
    swept, or whose points hold no quality, are left out.

    Args:
        sweep (dict): A preference sweep (the pipeline's sweep.json): `objectives`, and `points` each with its
            `alpha` and the `quality` of its answers (`response_quality`).

    Returns:
        dict[str, float]: The empty plus repetitive share at each objective's vertex.

    Examples:
        >>> from peft_pblora.evaluation.answer_quality import degenerate_shares_at_vertices
        >>> points = [{"alpha": [1.0, 0.0], "quality": {"empty": 0.25, "unfinished": 1.0, "repetitive": 0.5}}]
        >>> points.append({"alpha": [0.0, 1.0], "quality": {"empty": 0.0, "unfinished": 0.0, "repetitive": 0.0}})
        >>> degenerate_shares_at_vertices({"objectives": ["tone", "length"], "points": points})
        {'tone': 0.75, 'length': 0.0}
    """
    return quality_at_vertices(sweep, lambda quality: degenerate_share(quality) if quality else None)


def base_nll_at_vertices(sweep: dict) -> dict[str, float]:
    """Per objective, the base's mean negative log-likelihood per token of the answers at its own vertex
    (`quality["base_nll"]`, `base_likelihood.answer_nll`): word salad scores high on a word-counting objective without
    being empty or repetitive. Objectives whose vertex was not swept or not measured (older sweeps) are left out.

    Examples:
        >>> from peft_pblora.evaluation.answer_quality import base_nll_at_vertices
        >>> points = [{"alpha": [1.0, 0.0], "quality": {"base_nll": 6.5}}, {"alpha": [0.0, 1.0], "quality": {}}]
        >>> base_nll_at_vertices({"objectives": ["caution", "length"], "points": points})
        {'caution': 6.5}
    """
    return quality_at_vertices(sweep, lambda quality: quality.get("base_nll"))


def quality_at_vertices(sweep: dict, value_of: Callable[[dict], float | None]) -> dict[str, float]:
    """Per objective, `value_of` the quality of the sweep's answers at its own vertex (`{}` where none is recorded);
    objectives whose vertex was not swept, or whose value is None, are left out."""
    values = {}
    for index, name in enumerate(sweep["objectives"]):
        vertex = vertex_point(sweep, index)
        value = value_of(vertex.get("quality") or {}) if vertex is not None else None
        if value is not None:
            values[name] = value
    return values
