"""Training: PARMTrainer / PARMConfig (one reward model for all objectives) and off-policy distillation."""

from .data_collator import PARMDataCollator
from .distillation import TextDistillationTrainer, distil_on_texts
from .parm_config import PARMConfig
from .parm_trainer import PARMTrainer

__all__ = ["PARMConfig", "PARMDataCollator", "PARMTrainer", "TextDistillationTrainer", "distil_on_texts"]
