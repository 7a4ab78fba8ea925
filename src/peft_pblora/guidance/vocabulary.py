"""Checks that a base model and a guide model can be combined token by token: one tokenizer, one id space."""

from __future__ import annotations

from typing import Any


def shared_vocabulary_size(
    base_vocab_size: int,
    guide_vocab_size: int,
    tokenizer: Any | None = None,
    guide_tokenizer: Any | None = None,
) -> int:
    """Return the number of leading token ids the base and the guide share, or raise a ValueError.

    Equal sizes are shared as they are. Sizes that differ only by padded rows (e.g. 32000 vs 32001, where the extra
    rows are no token of the tokenizer) share the common prefix; telling padding from real tokens needs the tokenizer.
    Two tokenizers must have the same vocabulary.
    """
    if guide_tokenizer is not None and tokenizer is not None and tokenizer.get_vocab() != guide_tokenizer.get_vocab():
        raise ValueError(
            "The base model's and the guide's tokenizers differ: guided decoding adds their log-probabilities token "
            "by token, so both models must share one tokenizer"
        )
    if base_vocab_size == guide_vocab_size:
        return base_vocab_size
    tokenizer = tokenizer if tokenizer is not None else guide_tokenizer
    if tokenizer is None:
        raise ValueError(
            f"The base model scores {base_vocab_size} tokens but the guide scores {guide_vocab_size}; pass the "
            "tokenizer so the extra rows can be checked to be padding rather than different tokens"
        )
    real_tokens = len(tokenizer)
    common = min(base_vocab_size, guide_vocab_size)
    if real_tokens > common:
        raise ValueError(
            f"The tokenizer has {real_tokens} tokens but the base model scores {base_vocab_size} and the guide "
            f"{guide_vocab_size}: the smaller model lacks rows for real tokens, so the vocabularies differ"
        )
    return common
