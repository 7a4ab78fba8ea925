"""Registration of PBLoRA with PEFT, done once when `peft_pblora` is imported.

PEFT has no plugin discovery: `import peft_pblora` must run before PeftModel.from_pretrained,
PeftConfig.from_pretrained or transformers' load_adapter meets an adapter_config.json with "peft_type": "PBLORA".
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

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


SIZE_MISMATCH = re.compile(
    r"size mismatch for (\S+): copying a param with shape torch\.Size\(\[([\d, ]*)\]\) from checkpoint, "
    r"the shape in current model is torch\.Size\(\[([\d, ]*)\]\)"
)


def describe_size_mismatch(error: Exception, config: Any, source: str) -> str | None:
    """A readable account of a state-dict size mismatch for a PBLoRA adapter: the ranks, objectives and sizes.

    Returns None when the error is not a size mismatch (so the caller re-raises it unchanged).
    """
    mismatches = SIZE_MISMATCH.findall(str(error))
    if not mismatches:
        return None
    parameter, saved, current = mismatches[0]
    return (
        f"The PBLoRA adapter from {source} (objectives {config.objective_names}, r1={config.r1}, r2={config.r2}, "
        f"num_preferences={config.num_preferences}, core={config.core!r}) does not fit this model: {parameter} has "
        f"shape ({saved}) in the adapter but ({current}) here, {len(mismatches)} tensor(s) in all. pblora_A is "
        "(r1 + r2, in_features), pblora_B is (out_features, r1 + r2) and the core holds r1, r2 and num_preferences: "
        "load the adapter into the base model it was trained on, with the PBLoraConfig it was saved with."
    )


def _explain_size_mismatches_on_load() -> None:
    """Make PeftModel.load_adapter (from_pretrained, Trainer resume) name the ranks and sizes of a PBLoRA mismatch."""
    if getattr(PeftModel.load_adapter, "_pblora_patched", False):
        return
    original = PeftModel.load_adapter

    @functools.wraps(original)
    def load_adapter(self, model_id, adapter_name, *args, **kwargs):
        try:
            return original(self, model_id, adapter_name, *args, **kwargs)
        except RuntimeError as error:
            config = self.peft_config.get(adapter_name)
            if not isinstance(config, PBLoraConfig):
                raise
            message = describe_size_mismatch(error, config, str(model_id))
            if message is None:
                raise
            _forget_failed_adapter(self, adapter_name)
            raise ValueError(message) from error

    load_adapter._pblora_patched = True
    PeftModel.load_adapter = load_adapter


def _forget_failed_adapter(model: PeftModel, adapter_name: str) -> None:
    """Undo a refused load: its layers leave the model, so a base wrapped for it alone is the user's model again."""
    if list(model.peft_config) == [adapter_name]:
        model.unload()
    else:
        model.delete_adapter(adapter_name)


def register_pblora() -> None:
    """Register the PBLORA peft type, its config and its tuner with PEFT; safe to call more than once."""
    if PEFT_TYPE_TO_CONFIG_MAPPING.get(PBLORA_PEFT_TYPE) is not PBLoraConfig:
        register_peft_method(name="pblora", config_cls=PBLoraConfig, model_cls=PBLoraModel)
    _strip_preference_from_base_model_kwargs()
    _describe_pblora_adapters_in_model_cards()
    _explain_size_mismatches_on_load()
