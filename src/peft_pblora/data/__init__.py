"""Preference data: loaders for public datasets, building pairs from scored samples, relabelling, chat prompts.

The folder also holds the package's data files: the built-in prompts and the shipped SmolLM2 candidates.
"""

from .loaders import load_hh_rlhf, load_pku_saferlhf

__all__ = ["load_hh_rlhf", "load_pku_saferlhf"]
