"""Preference data: loaders for public datasets, building pairs from scored samples, relabelling, chat prompts.

The folder also holds the package's data files: the built-in prompts and the shipped SmolLM2 candidates.
"""

from .candidates import sample_and_score
from .loaders import load_hh_rlhf, load_pku_saferlhf
from .pairing import PairingOptions, best_and_worst_pairs, objectives_needing_whole_samples
from .preference_pairs import build_preference_data

__all__ = [
    "PairingOptions",
    "best_and_worst_pairs",
    "build_preference_data",
    "load_hh_rlhf",
    "load_pku_saferlhf",
    "objectives_needing_whole_samples",
    "sample_and_score",
]
