"""peft-pblora: PARM multi-objective test-time alignment as a PEFT extension.

Importing this package registers the PBLoRA tuner with PEFT (`get_peft_model(model, PBLoraConfig(...))`).
"""

from .config import PBLoraConfig
from .data_loaders import load_hh_rlhf, load_pku_saferlhf
from .guidance import GenARMGuidance, PARMGuidance, guided_generate, validate_beta
from .guide_cache import CachedGuide
from .layer import BilinearPreferenceCore, PBLoraLayer, PBLoraLinear
from .model import PBLoraModel, pblora_layers, set_preference
from .parm_config import PARMConfig
from .parm_data import PARMDataCollator
from .parm_trainer import PARMTrainer
from .peft_type import PBLORA_PEFT_TYPE
from .preference import validate_preference
from .registration import register_pblora
from .vocabulary import shared_vocabulary_size

__version__ = "0.1.0"

register_pblora()

__all__ = [
    "PBLORA_PEFT_TYPE",
    "BilinearPreferenceCore",
    "CachedGuide",
    "GenARMGuidance",
    "PARMConfig",
    "PARMDataCollator",
    "PARMGuidance",
    "PARMTrainer",
    "PBLoraConfig",
    "PBLoraLayer",
    "PBLoraLinear",
    "PBLoraModel",
    "__version__",
    "guided_generate",
    "load_hh_rlhf",
    "load_pku_saferlhf",
    "pblora_layers",
    "register_pblora",
    "set_preference",
    "shared_vocabulary_size",
    "validate_beta",
    "validate_preference",
]
