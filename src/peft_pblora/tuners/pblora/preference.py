"""Validation of preference vectors (points on the probability simplex), shared by the tuner, trainer and guidance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

PreferenceLike = Sequence[float] | Sequence[Sequence[float]] | torch.Tensor

SIMPLEX_TOLERANCE = 1e-4


def simplex_tolerance(dtype: torch.dtype, num_preferences: int) -> float:
    """How far a row sum may be from 1: `SIMPLEX_TOLERANCE`, or the rounding k weights of a coarse dtype can make.

    A bf16 or fp16 alpha cannot hold 1/3 exactly, so its rows may sum to 0.998 (bf16) though the caller meant 1.
    """
    if not dtype.is_floating_point:
        return SIMPLEX_TOLERANCE
    return max(SIMPLEX_TOLERANCE, num_preferences * torch.finfo(dtype).eps)


def validate_preference(
    preference: PreferenceLike,
    num_preferences: int,
    *,
    batch_size: int | None = None,
    name: str = "preference",
) -> torch.Tensor:
    """Check a preference and return it as a float32 tensor of shape (k,) or (rows, k).

    A preference is one vector for the whole batch, shape (k,), or one row per example, shape (rows, k). Every row
    must be finite, non-negative and sum to 1 within `SIMPLEX_TOLERANCE` (or k times the machine epsilon of a bf16 /
    fp16 input, whose weights cannot sum to 1 exactly). With `batch_size`, a 2-D preference must have 1 or
    `batch_size` rows. Raises a ValueError naming the problem; never changes or aliases the caller's object.

    Examples:
        >>> from peft_pblora import validate_preference
        >>> validate_preference([0.25, 0.75], num_preferences=2)
        tensor([0.2500, 0.7500])
        >>> validate_preference([[1, 0], [0.5, 0.5]], num_preferences=2, batch_size=2).shape
        torch.Size([2, 2])
        >>> validate_preference([0.5, 0.6], num_preferences=2)
        Traceback (most recent call last):
        ...
        ValueError: preference must sum to 1 (tolerance 0.0001); row sums are [1.1...]
    """
    kind = type(preference).__name__
    if preference is None or isinstance(preference, (str, bytes, Mapping)):
        raise ValueError(f"{name} must be a sequence of numbers or a tensor, got {kind}")
    try:
        tensor = torch.as_tensor(preference)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise ValueError(f"{name} must be a sequence of numbers or a tensor, got {kind}") from error
    if tensor.device.type == "meta" or tensor.layout != torch.strided:
        raise ValueError(f"{name} must be a dense tensor holding values, got a {tensor.device.type} {tensor.layout}")
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise ValueError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    tolerance = simplex_tolerance(tensor.dtype, num_preferences)
    tensor = tensor.detach().to(torch.float32, copy=True)  # never alias the caller's tensor
    if tensor.dim() not in (1, 2):
        raise ValueError(
            f"{name} must have shape (k,) or (batch, k) with k={num_preferences}, got shape {tuple(tensor.shape)}"
        )
    if tensor.shape[-1] != num_preferences:
        raise ValueError(
            f"{name} has {tensor.shape[-1]} weights per row but the adapter has num_preferences={num_preferences}"
        )
    if tensor.dim() == 2 and tensor.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    if torch.isnan(tensor).any():
        raise ValueError(f"{name} contains NaN: {tensor.tolist()}")
    if torch.isinf(tensor).any():
        raise ValueError(f"{name} contains an infinite weight: {tensor.tolist()}")
    if (tensor < 0).any():
        raise ValueError(f"{name} has a negative weight: {tensor.tolist()}; weights must lie on the simplex")
    sums = tensor.sum(dim=-1)
    off_simplex = (sums - 1).abs() > tolerance
    if off_simplex.any():
        raise ValueError(f"{name} must sum to 1 (tolerance {tolerance:g}); row sums are {sums.reshape(-1).tolist()}")
    if batch_size is not None and tensor.dim() == 2 and tensor.shape[0] not in (1, batch_size):
        raise ValueError(
            f"{name} has {tensor.shape[0]} rows but the batch has {batch_size} examples; "
            "pass one row per example or a single vector for the whole batch"
        )
    return tensor


def expand_preference_rows(preference: torch.Tensor, batch_size: int, name: str = "preference") -> torch.Tensor:
    """Return the preference for a batch of `batch_size` rows: a vector stays shared, rows are matched to the batch.

    generate() repeats every input row `num_beams` or `num_return_sequences` times next to itself
    (repeat_interleave), so a batch that is a whole multiple of the preference rows takes each row that many times.
    """
    if preference.dim() == 1:
        return preference
    rows = preference.shape[0]
    if rows == 1:
        return preference[0]
    if rows == batch_size:
        return preference
    if batch_size % rows == 0:
        return preference.repeat_interleave(batch_size // rows, dim=0)
    raise ValueError(
        f"{name} has {rows} rows but the layer received a batch of {batch_size}; "
        "pass one row per example or a single vector for the whole batch"
    )


def missing_preference_error(adapter_name: str) -> ValueError:
    """The error for a forward or generate call on a PBLoRA adapter that has no preference yet."""
    return ValueError(
        f"No preference is set for PBLoRA adapter '{adapter_name}': call model.set_preference(alpha) or pass "
        "preference=alpha to the forward or generate call"
    )
