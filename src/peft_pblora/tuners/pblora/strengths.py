"""Per-objective strengths: each objective's part of a PBLoRA adapter scaled, so guidance weighs objectives apart.

The bilinear and per-objective cores are linear in alpha (core(alpha) = blockdiag(W1, sum_i alpha_i G_i)), so
scaling objective i's row of G by s_i makes the adapter at alpha act as it did at alpha * s: at objective i's vertex
the adapter's change is s_i times what it learned, and guidance by it pushes that objective s_i times as hard (to
first order), where one guidance strength for all objectives would over-push one that was learned too strongly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .cores import BilinearPreferenceCore
from .model import pblora_layers


@torch.no_grad()
def scale_objective_strengths(model: nn.Module, strengths: Sequence[float], adapter_name: str = "default") -> int:
    """Multiply each objective's preference-aware weights (its row of G) in every PBLoRA layer by its strength.

    In place and for inference: the adapter at a preference alpha then equals the original at alpha * strengths.
    Returns the number of layers scaled.

    Raises:
        ValueError: If a strength is negative or not finite, their number is not the adapter's number of objectives,
            or the adapter's core has no per-objective weights to scale (the SVD-LoRA core's `c` is shared).

    Examples:
        >>> import torch
        >>> from peft import get_peft_model
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from peft_pblora import PBLoraConfig, scale_objective_strengths, set_preference
        >>> _ = torch.manual_seed(0)
        >>> base = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
        >>> model = get_peft_model(base, PBLoraConfig(r1=0, r2=4, target_modules=["q_proj"], init_weights=False))
        >>> ids = torch.tensor([[3, 4, 5]])
        >>> scale_objective_strengths(model, [0.0, 1.0])  # the first objective switched off
        1
        >>> _ = set_preference(model, [1.0, 0.0])
        >>> with model.disable_adapter():
        ...     base = model(ids).logits
        >>> torch.allclose(model(ids).logits, base)  # at its vertex the adapter now changes nothing
        True
    """
    values = torch.as_tensor([float(value) for value in strengths])
    if not torch.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"objective strengths must be finite and non-negative, got {list(strengths)}")
    scaled = 0
    for layer in pblora_layers(model):
        if adapter_name not in layer.pblora_core:
            continue
        core = layer.pblora_core[adapter_name]
        if not isinstance(core, BilinearPreferenceCore):
            raise ValueError(
                f"the adapter's {type(core).__name__} has no per-objective weights to scale; per-objective strengths "
                "need the bilinear or per_objective core"
            )
        if core.G.shape[0] != len(values):
            raise ValueError(f"{len(values)} strengths given for an adapter of {core.G.shape[0]} objectives")
        core.G.mul_(values.to(core.G.device, core.G.dtype).unsqueeze(1))
        scaled += 1
    if not scaled:
        raise ValueError(f"the model has no PBLoRA layer with adapter {adapter_name!r}")
    return scaled
