"""Registration of PBLoRA with PEFT, done once when `peft_pblora` is imported.

PEFT has no plugin discovery: `import peft_pblora` must run before PeftModel.from_pretrained,
PeftConfig.from_pretrained or transformers' load_adapter meets an adapter_config.json with "peft_type": "PBLORA".
"""

from __future__ import annotations

import functools
from pathlib import Path

from peft import PeftModel
from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING
from peft.utils import register_peft_method

from .config import PBLoraConfig
from .model import PBLoraModel
from .model_card import add_pblora_sections
from .peft_type import PBLORA_PEFT_TYPE

PREFERENCE_KWARG = "preference"


def _strip_preference_from_base_model_kwargs() -> None:
    """Make PeftModels holding a PBLoRA adapter treat `preference=` as a PEFT argument, like `adapter_names`.

    PeftModel removes its `special_peft_forward_args` before calling the wrapped model; without this, generate()
    of the wrapped transformers model rejects the unknown `preference` keyword.
    """
    if getattr(PeftModel.__init__, "_pblora_patched", False):
        return
    original_init = PeftModel.__init__

    @functools.wraps(original_init)
    def __init__(self, model, peft_config, *args, **kwargs):
        original_init(self, model, peft_config, *args, **kwargs)
        if peft_config.peft_type == PBLORA_PEFT_TYPE:
            self.special_peft_forward_args = set(self.special_peft_forward_args) | {PREFERENCE_KWARG}

    __init__._pblora_patched = True
    PeftModel.__init__ = __init__


def _describe_pblora_adapters_in_model_cards() -> None:
    """Append a PBLoRA section (objectives, beta_r, how to steer) to the README.md that save_pretrained writes."""
    if getattr(PeftModel.create_or_update_model_card, "_pblora_patched", False):
        return
    original = PeftModel.create_or_update_model_card

    @functools.wraps(original)
    def create_or_update_model_card(self, output_dir: str) -> None:
        original(self, output_dir)
        card_path = Path(output_dir) / "README.md"
        if card_path.is_file():
            text = card_path.read_text(encoding="utf-8")
            card_path.write_text(add_pblora_sections(text, self.peft_config), encoding="utf-8")

    create_or_update_model_card._pblora_patched = True
    PeftModel.create_or_update_model_card = create_or_update_model_card


def register_pblora() -> None:
    """Register the PBLORA peft type, its config and its tuner with PEFT; safe to call more than once."""
    if PEFT_TYPE_TO_CONFIG_MAPPING.get(PBLORA_PEFT_TYPE) is not PBLoraConfig:
        register_peft_method(name="pblora", config_cls=PBLoraConfig, model_cls=PBLoraModel)
    _strip_preference_from_base_model_kwargs()
    _describe_pblora_adapters_in_model_cards()
