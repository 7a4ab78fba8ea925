"""Guidance arguments every guided-decoding entry point checks the same way: beta, plausibility, reference, mask."""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import nn

MIN_BETA = 1e-30  # 1/beta times a log-probability must stay finite in float32 (max 3.4e38)


def validate_beta(beta: float) -> float:
    """Check the guidance temperature beta, a finite positive number: each guide's log-probabilities weigh 1/beta.

    Any real scalar is accepted: a Python or NumPy number, a 0-d NumPy array or tensor. Booleans, strings and
    tensors of more than one element are not numbers here.

    Args:
        beta (float): The temperature to check.

    Returns:
        float: `beta` as a float.

    Raises:
        ValueError: If `beta` is not a real scalar, or not finite, or below `MIN_BETA` (1e-30).

    Examples:
        >>> import numpy as np
        >>> import torch
        >>> from peft_pblora import validate_beta
        >>> validate_beta(2)
        2.0
        >>> validate_beta(np.float32(0.5)), validate_beta(torch.tensor(0.25))
        (0.5, 0.25)
        >>> validate_beta(0)
        Traceback (most recent call last):
        ...
        ValueError: beta must be a finite number > 0 (the guide's weight is 1/beta), got 0
    """
    value = real_scalar(beta)
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValueError(f"beta must be a finite number > 0 (the guide's weight is 1/beta), got {beta!r}")
    if value < MIN_BETA:
        raise ValueError(
            f"beta must be at least {MIN_BETA:g}: the guide's weight 1/beta must stay within float32's range, "
            f"got {beta!r}"
        )
    return value


def validate_plausibility(plausibility: float | None) -> float | None:
    """None, or the share (0, 1] of the base's top-token probability below which a token is not written."""
    if plausibility is None:
        return None
    value = real_scalar(plausibility)
    if value is None or not 0.0 < value <= 1.0:
        raise ValueError(
            f"plausibility must be None or a number in (0, 1] (keep tokens at least that share as likely as the "
            f"base's most likely one), got {plausibility!r}"
        )
    return value


def real_scalar(value: Any) -> float | None:
    """`value` as a float if it is one real number (not a bool), else None."""
    if isinstance(value, (bool, str, bytes)):
        return None
    if isinstance(value, torch.Tensor):
        if value.dim() != 0 or value.dtype == torch.bool or value.is_complex() or value.is_meta:
            return None
        return float(value.item())
    if hasattr(value, "dtype") and hasattr(value, "shape") and getattr(value, "shape", None) == ():
        kind = getattr(value.dtype, "kind", "")
        return float(value) if kind in ("i", "u", "f") else None  # a 0-d NumPy array or NumPy scalar
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return None
    return None


REFERENCE_BASE = "base"


def check_reference(reference: nn.Module | str | None) -> nn.Module | str | None:
    if reference is None or isinstance(reference, nn.Module) or reference == REFERENCE_BASE:
        return reference
    raise ValueError(
        f"reference must be None (the guides' log-probabilities are the reward), {REFERENCE_BASE!r} (their log-ratio "
        f"to the base model being guided) or a model (their log-ratio to it), got {reference!r}"
    )


def check_prompt_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    if attention_mask is None:
        return None
    if not isinstance(attention_mask, torch.Tensor) or attention_mask.dim() != 2:
        raise ValueError("attention_mask must be the (batch, prompt length) mask of the tokenized prompts")
    return attention_mask
