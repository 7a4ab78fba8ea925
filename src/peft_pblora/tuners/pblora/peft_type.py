"""The PBLORA member of PEFT's closed `PeftType` enum, added at import time.

PEFT's `register_peft_method` only accepts names that are members of `PeftType`, and transformers' adapter loading
calls `peft_type.value`, so a plain string key is not enough. Python enums have no public way to add a member; this
module writes the member into the enum's lookup tables once, idempotently.
"""

from __future__ import annotations

from peft.utils.peft_types import PeftType

PBLORA_NAME = "PBLORA"


def _add_peft_type_member(name: str) -> PeftType:
    if name in PeftType.__members__:
        return PeftType[name]
    member = str.__new__(PeftType, name)
    member._name_ = name
    member._value_ = name
    member.__objclass__ = PeftType
    member._sort_order_ = len(PeftType._member_names_)
    type.__setattr__(PeftType, name, member)
    PeftType._member_map_[name] = member
    PeftType._value2member_map_[name] = member
    PeftType._member_names_.append(name)
    return member


PBLORA_PEFT_TYPE: PeftType = _add_peft_type_member(PBLORA_NAME)
