"""Type and value checks of configuration fields, shared by PBLoraConfig and PARMConfig.

Each check raises a TypeError (wrong kind of value) or a ValueError (right kind, wrong value) whose message starts
with the field's name, and returns the value in its plain Python form (numpy scalars become int / float).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any


def check_int(value: Any, name: str, minimum: int) -> int:
    """An integer >= `minimum` (bools and floats such as 2.5 or 2.0 are refused, numpy integers accepted)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_optional_length(value: Any, name: str) -> int | None:
    """A token budget: None (no limit) or an integer >= 1; 0 and negative values are refused, not read as None."""
    if value is None:
        return None
    return check_int(value, name, minimum=1)


def check_real(value: Any, name: str, *, positive: bool = False) -> float:
    """A finite real number (bools and strings refused), strictly positive with `positive`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond float range
        finite = False
    if not finite:
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return float(value)


def check_finite(value: numbers.Real) -> float | None:
    """The value as a float, or None where it is NaN, infinite or an int beyond float range."""
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def check_positive_reals(value: Any, name: str) -> list[float]:
    """One positive finite number, or a non-empty list of them (a bare number becomes a one-value list)."""
    if isinstance(value, (str, bytes, bool)) or not isinstance(value, (numbers.Real, list, tuple)):
        raise TypeError(f"{name} must be a number or a list of numbers, got {type(value).__name__} {value!r}")
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"{name} must hold at least one value, got {value!r}")
    for item in values:
        if isinstance(item, bool) or not isinstance(item, numbers.Real):
            raise TypeError(f"{name} must hold numbers, got {type(item).__name__} {item!r} in {value!r}")
        if not item > 0 or check_finite(item) is None:
            raise ValueError(f"{name} must be positive and finite, got {values}")
    return [float(item) for item in values]


def check_bool(value: Any, name: str) -> bool:
    """True or False (numpy bools accepted); 0, 1 or 'yes' are refused."""
    if type(value).__name__ not in ("bool", "bool_"):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """One of the strings `choices`."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_names(value: Any, name: str, *, allow_str: bool = False) -> list[str]:
    """A list of distinct non-empty strings; a bare string is refused (it would split into letters) unless allowed,
    in which case it is one name."""
    if isinstance(value, str) and allow_str:
        value = [value]
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of strings, got {type(value).__name__} {value!r}")
    names = list(value)
    for item in names:
        if not isinstance(item, str):
            raise TypeError(f"{name} must hold strings, got {type(item).__name__} {item!r} in {names}")
        if not item:
            raise ValueError(f"{name} must hold non-empty strings, got {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"{name} must be distinct, got {names}")
    return names
