"""The page's preference controls mapped onto the simplex: one slider for two objectives, linked sliders for more."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import DemoInputError


def alpha_from_first_weight(first: float) -> list[float]:
    """Two objectives' alpha from the one slider (the first objective's weight): [w, 1 - w]."""
    first = float(first)
    if not 0.0 <= first <= 1.0:
        raise DemoInputError(f"The first objective's weight must be between 0 and 1, got {first:g}.")
    return [first, 1.0 - first]


def alpha_from_weights(weights: Sequence[float]) -> list[float]:
    """Any number of non-negative slider weights normalised to sum to 1 (the linked sliders of three or more)."""
    values = [float(weight) for weight in weights]
    if any(value < 0 for value in values):
        raise DemoInputError("Objective weights cannot be negative.")
    total = sum(values)
    if total <= 0:
        raise DemoInputError("Give at least one objective a weight above 0.")
    return [value / total for value in values]


def format_alpha(alpha: Sequence[float], objectives: Sequence[str]) -> str:
    """alpha as the page shows it: each objective's name and weight."""
    return ", ".join(f"{name} {weight:.2f}" for name, weight in zip(objectives, alpha, strict=True))
