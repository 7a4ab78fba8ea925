"""PBLoRA, the preference-aware bilinear LoRA: config, preference cores, layer, model and its registration with PEFT.

Importing this package registers the PBLORA PEFT type, so `get_peft_model(model, PBLoraConfig(...))` and
`PeftModel.from_pretrained(...)` find the tuner.
"""

from .config import PBLoraConfig
from .cores import PREFERENCE_CORES, BilinearPreferenceCore, DiagonalPreferenceCore, PerObjectivePreferenceCore
from .layer import PBLoraLayer, PBLoraLinear
from .model import PBLoraModel, pblora_layers, set_preference
from .peft_type import PBLORA_PEFT_TYPE
from .preference import validate_preference
from .registration import register_pblora
from .strengths import scale_objective_strengths

__all__ = [
    "PBLORA_PEFT_TYPE",
    "PREFERENCE_CORES",
    "BilinearPreferenceCore",
    "DiagonalPreferenceCore",
    "PBLoraConfig",
    "PBLoraLayer",
    "PBLoraLinear",
    "PBLoraModel",
    "PerObjectivePreferenceCore",
    "pblora_layers",
    "register_pblora",
    "scale_objective_strengths",
    "set_preference",
    "validate_preference",
]

register_pblora()
