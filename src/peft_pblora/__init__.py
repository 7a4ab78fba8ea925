"""peft-pblora: PARM multi-objective test-time alignment as a PEFT extension.

Importing this package registers the PBLoRA tuner with PEFT (`get_peft_model(model, PBLoraConfig(...))`).
"""

from .config import PBLoraConfig
from .layer import BilinearPreferenceCore, PBLoraLayer, PBLoraLinear
from .model import PBLoraModel, pblora_layers, set_preference
from .peft_type import PBLORA_PEFT_TYPE
from .preference import validate_preference
from .registration import register_pblora

__version__ = "0.1.0"

register_pblora()

__all__ = [
    "PBLORA_PEFT_TYPE",
    "BilinearPreferenceCore",
    "PBLoraConfig",
    "PBLoraLayer",
    "PBLoraLinear",
    "PBLoraModel",
    "__version__",
    "pblora_layers",
    "register_pblora",
    "set_preference",
    "validate_preference",
]
