"""What the baselines need beyond the PARM's stages: their adapters' ranks and core, and Rewarded Soups' weight
interpolation.

GenARM and Rewarded Soups train one single-objective ARM per objective, of rank r2 / k, so that the k ARMs' A and B
matrices hold as many parameters as the PARM's; SVD-LoRA (Panacea) is a PARM whose core is diag(sigma_1..sigma_r,
c alpha_1..c alpha_k), with r chosen so that it has the PARM's r1 + r2 directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .settings import RunSettings

ARM_CORE = "bilinear"  # an ARM is a PBLoRA adapter with one objective (k = 1) and PBLoRA's own core


def arm_rank(settings: RunSettings) -> int:
    """r2 of each single-objective ARM: r2 / k, the PARM's A and B budget shared by the k ARMs."""
    return max(1, settings.r2 // len(settings.objectives))


def svd_lora_rank(settings: RunSettings) -> int:
    """r1 of the SVD-LoRA adapter (its learnable singular values): with one direction per objective, r1 + k
    directions in all, the PARM's r1 + r2."""
    return max(1, settings.r1 + settings.r2 - len(settings.objectives))


def weight_soup(model: Any, weights: Sequence[dict], alpha: Sequence[float]) -> Any:
    """A copy of `model` whose floating-point weights are sum_i alpha_i weights_i (Rewarded Soups' interpolation)."""
    soup = type(model)(model.config)
    mixed = {}
    for key, value in weights[0].items():
        if value.is_floating_point():
            mixed[key] = sum(float(weight) * state[key] for weight, state in zip(alpha, weights, strict=True))
        else:
            mixed[key] = value
    soup.load_state_dict(mixed)
    return soup.to(next(model.parameters()).device).eval()
