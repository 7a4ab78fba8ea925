"""Guided decoding: logits processors that steer a base model's `generate` with a PARM or GenARM's ARMs."""

from .arguments import validate_beta
from .fused import PARMGuidedModel
from .generate import guided_generate
from .guide_cache import CachedGuide
from .processors import GenARMGuidance, PARMGuidance
from .vocabulary import shared_vocabulary_size

__all__ = [
    "CachedGuide",
    "GenARMGuidance",
    "PARMGuidance",
    "PARMGuidedModel",
    "guided_generate",
    "shared_vocabulary_size",
    "validate_beta",
]
