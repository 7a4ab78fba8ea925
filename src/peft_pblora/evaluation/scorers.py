"""Scorers: callables (prompts, responses) -> one score per response, higher is better.

Built in: offline programmatic scorers that need no download (VADER positivity, conciseness, thoroughness, prompt
relevance) and an adapter for Hugging Face sequence-classification reward models (Beaver reward/cost, gpt2-large
helpful/harmless...).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch

WORD = re.compile(r"[A-Za-z']+")
SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
STOPWORDS = frozenset(
    "a an the and or but if then else of to in on at for with by from as is are was were be been being it its this "
    "that these those i you he she we they me my your our their what which who whom how why when where can could "
    "would should will shall may might must do does did have has had not no so than too very just about into over "
    "please tell give some any all more most other such only own same also explain describe write list make help "
    "show suggest need want like know think".split()
)


@runtime_checkable
class Scorer(Protocol):
    """What an objective's scorer is: a callable (prompts, responses) -> one float per response, higher is better.

    Any object with a `name` (which labels the objective in reports) and this call signature is a scorer; the
    built-in ones need no download.

    Examples:
        >>> from peft_pblora import Scorer
        >>> class Politeness:
        ...     name = "politeness"
        ...     def __call__(self, prompts, responses):
        ...         return [float("please" in response.lower()) for response in responses]
        >>> isinstance(Politeness(), Scorer)
        True
        >>> Politeness()(["Pass the salt"], ["Please pass the salt."])
        [1.0]
    """

    name: str

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]: ...


def _check_lengths(prompts: Sequence[str], responses: Sequence[str]) -> None:
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses")


def sentences(text: str) -> list[str]:
    """The text's sentences and lines that hold words (list numbers and bare punctuation dropped)."""
    pieces = []
    for line in text.splitlines():
        start = 0
        for match in SENTENCE_END.finditer(line):
            pieces.append(line[start : match.end()])
            start = match.end()
        pieces.append(line[start:])
    return [piece.strip() for piece in pieces if WORD.search(piece)]


WARM_TONE_SYSTEM_PROMPT = (
    "You are a warm, cheerful and encouraging assistant. Answer with kindness, enthusiasm and positive words."
)


class VaderPositivity:
    """Tone of the response in [-1, 1]: VADER's compound score averaged over its sentences; offline.

    Per sentence, because the compound score of a whole text grows with the number of sentiment words: a long
    cheerful answer out-scores a short cheerful one, which ties positivity to length and so to conciseness (measured
    in research/log.md, section 4). An empty response scores 0. The lexicon ships with vaderSentiment.

    Attributes `eliciting_system_prompt` (a system turn under which a chat model answers more warmly at the same
    length, used to sample candidates that differ in tone, see `peft_pblora.data.sample_and_score`) and
    `sentence_averaged` (pairs should contrast answers of similar length) guide how preference data is made.

    Args:
        per_sentence (bool, optional):
            `False` scores the whole response at once (VADER's usual use, and the positivity of this project's
            earlier runs), named `"positivity_whole_text"` so the two are never mixed up. Defaults to `True`.

    Examples:
        >>> from peft_pblora import VaderPositivity
        >>> scorer = VaderPositivity()
        >>> scores = scorer(["Any tips?"] * 2, ["What a wonderful idea! I love it.", "That is a terrible plan."])
        >>> scorer.name, [round(score, 2) for score in scores]
        ('positivity', [0.62, -0.48])
    """

    eliciting_system_prompt = WARM_TONE_SYSTEM_PROMPT

    def __init__(self, per_sentence: bool = True) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()
        self.per_sentence = self.sentence_averaged = per_sentence
        self.name = "positivity" if per_sentence else "positivity_whole_text"

    def compound(self, text: str) -> float:
        return self.analyzer.polarity_scores(text)["compound"]

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        _check_lengths(prompts, responses)
        if not self.per_sentence:
            return [self.compound(response) for response in responses]
        scores = []
        for response in responses:
            parts = sentences(response)
            scores.append(sum(self.compound(part) for part in parts) / len(parts) if parts else 0.0)
        return scores


class WordCountScorer(ABC):
    """A score from each response's word count against a budget of `max_words` (`score_of_word_count`)."""

    name: str

    def __init__(self, max_words: int = 100) -> None:
        if max_words < 1:
            raise ValueError(f"max_words must be >= 1, got {max_words}")
        self.max_words = max_words

    @abstractmethod
    def score_of_word_count(self, words: int) -> float: ...

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        _check_lengths(prompts, responses)
        return [self.score_of_word_count(len(WORD.findall(response))) for response in responses]


class Conciseness(WordCountScorer):
    """Brevity in [0, 1]: 1 - words / max_words, floored at 0; an empty response scores 0 (nothing was said).

    Args:
        max_words (int, optional): The word budget at which the score reaches 0. Defaults to `100`.

    Examples:
        >>> from peft_pblora import Conciseness
        >>> Conciseness(max_words=10)(["q"] * 3, ["one two three", "", "word " * 12])
        [0.7, 0.0, 0.0]
    """

    name = "conciseness"

    def score_of_word_count(self, words: int) -> float:
        return 0.0 if words == 0 else max(0.0, 1.0 - words / self.max_words)


class Thoroughness(WordCountScorer):
    """Thoroughness in [0, 1]: (words / max_words) squared, capped at 1: each extra word is worth more than the last.

    With `Conciseness` (1 - words / max_words) it makes an objective pair whose Pareto front, the curve
    (1 - x, x^2) over answer lengths x, is not convex: an answer of middle length scores below the line between the
    two extremes, so no linear weighting of the two scores picks it (the Tchebycheff comparison in docs/results.md).

    Args:
        max_words (int, optional): The word count at which the score reaches 1. Defaults to `100`.

    Examples:
        >>> from peft_pblora import Thoroughness
        >>> Thoroughness(max_words=10)(["q"] * 2, ["one two three", "word " * 12])
        [0.09, 1.0]
    """

    name = "thoroughness"

    def score_of_word_count(self, words: int) -> float:
        return min(1.0, words / self.max_words) ** 2


def content_words(text: str) -> set[str]:
    return {word for word in (match.lower() for match in WORD.findall(text)) if len(word) > 2} - STOPWORDS


class PromptRelevance:
    """Staying on topic, in [0, 1]: the share of the prompt's content words that the response uses.

    Content words are words of three or more letters that are not stopwords, compared case-insensitively; a prompt
    without any scores 0.

    Examples:
        >>> from peft_pblora import PromptRelevance
        >>> scores = PromptRelevance()(["How do I bake sourdough bread?"], ["Feed the starter, then bake the bread."])
        >>> [round(score, 3) for score in scores]  # 'bake' and 'bread' of 'bake', 'sourdough', 'bread'
        [0.667]
    """

    name = "relevance"

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        _check_lengths(prompts, responses)
        scores = []
        for prompt, response in zip(prompts, responses, strict=True):
            asked = content_words(prompt)
            scores.append(len(asked & content_words(response)) / len(asked) if asked else 0.0)
        return scores


class SequenceClassifierScorer:
    """A Hugging Face sequence-classification reward model as a scorer (Beaver reward / cost, gpt2 helpful...).

    Scores the logit `label_index` of `template.format(prompt=..., response=...)`. Score models whose output has
    `end_scores` instead of logits (safe-rlhf's Beaver reward and cost models) are read the same way.

    Args:
        model (PreTrainedModel): The sequence-classification model; put in eval mode.
        tokenizer (PreTrainedTokenizerBase): Its tokenizer; it needs a pad token.
        name (str, optional): The objective's name in reports. Defaults to `"reward"`.
        template (str, optional): How a pair becomes the model's text. Defaults to `"{prompt}{response}"`.
        label_index (int, optional): Which output logit is the score. Defaults to `0`.
        sign (float, optional): Multiplies the score; `-1` turns a cost model into a reward. Defaults to `1.0`.
        batch_size (int, optional): Texts scored per forward. Defaults to `8`.
        max_length (int, optional): Tokens kept per text. Defaults to `1024`.

    Raises:
        ValueError: If the tokenizer has no pad token.

    Examples:
        >>> import torch
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast
        >>> from peft_pblora import SequenceClassifierScorer
        >>> _ = torch.manual_seed(0)
        >>> model = LlamaForSequenceClassification(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, num_labels=1, pad_token_id=0))
        >>> vocab = {"<pad>": 0, **{f"w{i}": i for i in range(1, 64)}}
        >>> backend = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
        >>> backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>")
        >>> reward = SequenceClassifierScorer(model, tokenizer, name="helpful", template="{prompt} {response}")
        >>> cost = SequenceClassifierScorer(model, tokenizer, name="harmless", template="{prompt} {response}", sign=-1)
        >>> prompts, responses = ["w3 w4", "w5"], ["w6 w7 w8", "w9"]
        >>> rewards, costs = reward(prompts, responses), cost(prompts, responses)
        >>> len(rewards), [round(r + c, 6) for r, c in zip(rewards, costs)]
        (2, [0.0, 0.0])
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        name: str = "reward",
        template: str = "{prompt}{response}",
        label_index: int = 0,
        sign: float = 1.0,
        batch_size: int = 8,
        max_length: int = 1024,
    ) -> None:
        self.model, self.tokenizer, self.name = model.eval(), tokenizer, name
        self.template, self.label_index, self.sign = template, label_index, sign
        self.batch_size, self.max_length = batch_size, max_length
        if tokenizer.pad_token_id is None:
            raise ValueError("The reward model's tokenizer has no pad token: set tokenizer.pad_token first")

    @torch.no_grad()
    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        _check_lengths(prompts, responses)
        texts = [self.template.format(prompt=p, response=r) for p, r in zip(prompts, responses, strict=True)]
        device = next(self.model.parameters()).device
        scores: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            encoded = self.tokenizer(
                texts[start : start + self.batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
            ).to(device)
            output = self.model(**encoded)
            end_scores = getattr(output, "end_scores", None)
            logits = (end_scores if end_scores is not None else output.logits)[:, self.label_index]
            scores.extend((self.sign * logits.float()).tolist())
        return scores
