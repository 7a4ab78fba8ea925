"""peft-pblora: PARM multi-objective test-time alignment as a PEFT extension.

Importing this package registers the PBLoRA tuner with PEFT (`get_peft_model(model, PBLoraConfig(...))`).
"""

from .config import PBLoraConfig
from .data_loaders import load_hh_rlhf, load_pku_saferlhf
from .distillation import TextDistillationTrainer, distil_on_texts
from .evaluation import (
    hypervolume,
    linearly_supported,
    mean_inner_product,
    non_dominated,
    normalise,
    pareto_plot,
    preference_grid,
    spearman_over_resampled_prompts,
)
from .guidance import GenARMGuidance, PARMGuidance, guided_generate, validate_beta
from .guide_cache import CachedGuide
from .layer import (
    BilinearPreferenceCore,
    DiagonalPreferenceCore,
    PBLoraLayer,
    PBLoraLinear,
    PerObjectivePreferenceCore,
)
from .model import PBLoraModel, pblora_layers, set_preference
from .parm_config import PARMConfig
from .parm_data import PARMDataCollator
from .parm_trainer import PARMTrainer
from .peft_type import PBLORA_PEFT_TYPE
from .preference import validate_preference
from .registration import register_pblora
from .scorers import (
    Conciseness,
    PromptRelevance,
    Scorer,
    SequenceClassifierScorer,
    Thoroughness,
    VaderPositivity,
)
from .vocabulary import shared_vocabulary_size

__version__ = "0.1.0"

register_pblora()

__all__ = [
    "PBLORA_PEFT_TYPE",
    "BilinearPreferenceCore",
    "CachedGuide",
    "Conciseness",
    "DiagonalPreferenceCore",
    "GenARMGuidance",
    "PARMConfig",
    "PARMDataCollator",
    "PARMGuidance",
    "PARMTrainer",
    "PBLoraConfig",
    "PBLoraLayer",
    "PBLoraLinear",
    "PBLoraModel",
    "PerObjectivePreferenceCore",
    "PromptRelevance",
    "Scorer",
    "SequenceClassifierScorer",
    "TextDistillationTrainer",
    "Thoroughness",
    "VaderPositivity",
    "__version__",
    "distil_on_texts",
    "guided_generate",
    "hypervolume",
    "linearly_supported",
    "load_hh_rlhf",
    "load_pku_saferlhf",
    "mean_inner_product",
    "non_dominated",
    "normalise",
    "pareto_plot",
    "pblora_layers",
    "preference_grid",
    "register_pblora",
    "set_preference",
    "shared_vocabulary_size",
    "spearman_over_resampled_prompts",
    "validate_beta",
    "validate_preference",
]
