"""peft-pblora: PARM multi-objective test-time alignment as a PEFT extension.

Importing this package registers the PBLoRA tuner with PEFT (`get_peft_model(model, PBLoraConfig(...))`).
"""

from .data import load_hh_rlhf, load_pku_saferlhf
from .evaluation import (
    Conciseness,
    PromptRelevance,
    Scorer,
    SequenceClassifierScorer,
    Thoroughness,
    VaderPositivity,
    hypervolume,
    linearly_supported,
    mean_inner_product,
    non_dominated,
    normalise,
    pareto_plot,
    preference_grid,
    spearman_over_resampled_prompts,
)
from .guidance import (
    CachedGuide,
    GenARMGuidance,
    PARMGuidance,
    PARMGuidedModel,
    guided_generate,
    shared_vocabulary_size,
    validate_beta,
)
from .trainer import PARMConfig, PARMDataCollator, PARMTrainer, TextDistillationTrainer, distil_on_texts
from .tuners.pblora import (
    PBLORA_PEFT_TYPE,
    BilinearPreferenceCore,
    DiagonalPreferenceCore,
    PBLoraConfig,
    PBLoraLayer,
    PBLoraLinear,
    PBLoraModel,
    PerObjectivePreferenceCore,
    pblora_layers,
    register_pblora,
    scale_objective_strengths,
    set_preference,
    validate_preference,
)

__version__ = "0.1.0"

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
    "PARMGuidedModel",
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
    "scale_objective_strengths",
    "set_preference",
    "shared_vocabulary_size",
    "spearman_over_resampled_prompts",
    "validate_beta",
    "validate_preference",
]
