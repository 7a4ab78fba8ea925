"""Training some objectives' own directions of a per-objective PBLoRA adapter while the rest stay exactly as they are.

The per-objective core gives each objective r2 / k rows of A, the same columns of B and its diagonal block of G,
which act only where that objective's weight is above 0. Training on with every other entry frozen (the others'
directions and the preference-agnostic block) lets an objective the first training did not learn train longer
without the others training past what served them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .cores import PerObjectivePreferenceCore
from .model import pblora_layers


def own_direction_masks(
    model: nn.Module, objectives: Sequence[str], adapter_name: str = "default"
) -> list[tuple[nn.Parameter, torch.Tensor]]:
    """Each PBLoRA parameter of `adapter_name` with a boolean mask, True on the entries that belong to `objectives`'
    own directions (their rows of A, columns of B and diagonal blocks of G).

    Raises:
        ValueError: If an objective is not one of the adapter's `objective_names`, or the adapter's core is not the
            per-objective one (the bilinear core's G and the SVD-LoRA core's scale are shared by every objective).
    """
    config = model.peft_config[adapter_name]
    names = list(config.objective_names)
    unknown = [name for name in objectives if name not in names]
    if unknown or not objectives:
        raise ValueError(f"own directions of {list(objectives)}: the adapter's objectives are {names}")
    masks: list[tuple[nn.Parameter, torch.Tensor]] = []
    for layer in pblora_layers(model):
        if adapter_name not in layer.pblora_core:
            continue
        core = layer.pblora_core[adapter_name]
        if not isinstance(core, PerObjectivePreferenceCore):
            raise ValueError(
                f"training only some objectives' own directions needs core='per_objective', where each objective "
                f"owns its directions; this adapter's core is {type(core).__name__}"
            )
        owned = torch.zeros(core.r1 + core.r2, dtype=torch.bool)
        for name in objectives:
            start = core.r1 + names.index(name) * core.block
            owned[start : start + core.block] = True
        A, B = layer.pblora_A[adapter_name].weight, layer.pblora_B[adapter_name].weight
        masks.append((A, owned[:, None].expand_as(A).to(A.device)))
        masks.append((B, owned[None, :].expand_as(B).to(B.device)))
        rows = torch.tensor([name in objectives for name in names], device=core.G.device)
        masks.append((core.G, core.block_mask.bool() & rows[:, None]))
        masks.append((core.W1, torch.zeros_like(core.W1, dtype=torch.bool)))  # shared (empty where r1 = 0)
    return masks


def masked_gradient(mask: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """A gradient hook that zeroes the entries outside `mask`, on whatever device the gradient is."""
    return lambda grad: grad * mask.to(device=grad.device, dtype=grad.dtype)


class OwnDirectionsOnly:
    """Keeps a PBLoRA adapter's entries outside `objectives`' own directions at their values now, while it trains.

    Their gradients are zeroed (so clipping and the optimiser see only the trained entries) and `restore()`, called
    after each optimiser step, puts them back exactly (decoupled weight decay moves entries whatever their gradient).

    Examples:
        >>> import torch
        >>> from peft import get_peft_model
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from peft_pblora import PBLoraConfig
        >>> from peft_pblora.tuners.pblora.own_directions import OwnDirectionsOnly
        >>> base = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
        >>> config = PBLoraConfig(r1=0, r2=4, core="per_objective", target_modules=["q_proj"],
        ...     objective_names=["tone", "length"])
        >>> model = get_peft_model(base, config)
        >>> frozen = OwnDirectionsOnly(model, ["length"])
        >>> frozen.trained_entries(), frozen.frozen_entries()  # length's 2 of 4 rows of A (4 x 16), columns of B
        (68, 92)

    Length owns 2 x 16 entries of A, 16 x 2 of B and its 2 x 2 block of G (the 2 x 16 G's other 28 entries are tone's
    block or always zero).
    """

    def __init__(self, model: nn.Module, objectives: Sequence[str], adapter_name: str = "default") -> None:
        self.masks = own_direction_masks(model, objectives, adapter_name)
        masked = {id(parameter) for parameter, _ in self.masks}
        others = [name for name, value in model.named_parameters() if value.requires_grad and id(value) not in masked]
        if others:
            raise ValueError(
                f"training only {list(objectives)}'s own directions would still train {others[:3]} "
                f"({len(others)} other trainable parameters, e.g. biases or modules_to_save), which act at every "
                "preference: freeze them first"
            )
        self.frozen_values = [parameter.detach().clone() for parameter, _ in self.masks]
        self._hooks = [parameter.register_hook(masked_gradient(mask)) for parameter, mask in self.masks]

    def trained_entries(self) -> int:
        return int(sum(mask.sum() for _, mask in self.masks))

    def frozen_entries(self) -> int:
        return int(sum((~mask).sum() for _, mask in self.masks))

    @torch.no_grad()
    def restore(self) -> None:
        """Puts every frozen entry back to its value when this was made."""
        for (parameter, mask), frozen in zip(self.masks, self.frozen_values, strict=True):
            device = parameter.device  # the trainer may have moved the model since
            parameter.copy_(torch.where(mask.to(device), parameter, frozen.to(device=device, dtype=parameter.dtype)))

    def remove(self) -> None:
        """Stops masking the gradients; the entries then train again."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
