"""The preference cores of a PBLoRA layer, and `PREFERENCE_CORES`: the one table from `PBLoraConfig.core` to a class.

A PBLoRA layer computes s * B core(alpha) A x; the core is the small (r1 + r2) x (r1 + r2) matrix that depends on
the preference alpha. Every core class provides:

- `from_ranks(r1, r2, num_preferences)`: build the core of one adapter;
- `check_ranks(r1, r2, num_preferences)`: raise a ValueError if the ranks do not fit this core (called by
  `PBLoraConfig`, so a bad config fails before any layer is built);
- `reset_parameters()` and `forward(preference, dtype=None)`: the core for a preference (k,) -> (r, r), or one core
  per row for (rows, k) -> (rows, r, r).

To add a core, write its class here and add one entry to `PREFERENCE_CORES`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def bilinear_core(weight_W1: torch.Tensor, weight_G: torch.Tensor, preference: torch.Tensor) -> torch.Tensor:
    """blockdiag(W1, reshape(alpha^T G, r2 x r2)): (r, r) for a preference (k,), (rows, r, r) for (rows, k).

    Args:
        weight_W1 (torch.Tensor): The preference-agnostic block (r1 may be 0). Shape (r1, r1).
        weight_G (torch.Tensor): The linear map from alpha to the flattened W2(alpha). Shape (k, r2 * r2).
        preference (torch.Tensor): The preference(s) alpha. Shape (k,) or (rows, k).

    Returns:
        torch.Tensor: The core, `(r1 + r2, r1 + r2)` or `(rows, r1 + r2, r1 + r2)`.

    Examples:
        >>> import torch
        >>> from peft_pblora.tuners.pblora.cores import bilinear_core
        >>> W1, G = torch.eye(1), torch.tensor([[1.0, 0, 0, 1], [0, 2.0, 2.0, 0]])
        >>> bilinear_core(W1, G, torch.tensor([0.5, 0.5]))
        tensor([[1.0000, 0.0000, 0.0000],
                [0.0000, 0.5000, 1.0000],
                [0.0000, 1.0000, 0.5000]])
    """
    r1 = weight_W1.shape[0]
    r2 = math.isqrt(weight_G.shape[1])
    preference_aware = (preference.to(weight_G.dtype) @ weight_G).unflatten(-1, (r2, r2))
    core = F.pad(preference_aware, (r1, 0, r1, 0))
    return core + F.pad(weight_W1, (0, r2, 0, r2)) if r1 else core


class BilinearPreferenceCore(nn.Module):
    """PBLoRA's core blockdiag(W1, reshape(alpha^T G, r2 x r2)): a shared block and one linear in the preference.

    W1 (r1 x r1) is preference-agnostic; G (k x r2^2, no bias) maps a preference linearly to the preference-aware
    block W2(alpha). Kept as a module so its parameters are named `pblora_core.<adapter>.W1` / `.G` like other PEFT
    adapter weights. Selected by `PBLoraConfig(core="bilinear")`, the default.

    Args:
        r1 (int): Rank of the preference-agnostic block W1; 0 leaves only W2(alpha).
        r2 (int): Rank of the preference-aware block W2(alpha).
        num_preferences (int): Number of objectives k, the length of a preference vector.

    Examples:
        >>> import torch
        >>> from peft_pblora import BilinearPreferenceCore
        >>> _ = torch.manual_seed(0)
        >>> core = BilinearPreferenceCore(r1=2, r2=3, num_preferences=2)
        >>> core(torch.tensor([0.3, 0.7])).shape
        torch.Size([5, 5])
        >>> core(torch.tensor([[1.0, 0.0], [0.0, 1.0]])).shape  # one core per row
        torch.Size([2, 5, 5])
    """

    def __init__(self, r1: int, r2: int, num_preferences: int) -> None:
        super().__init__()
        self.r1, self.r2 = r1, r2
        self.W1 = nn.Parameter(torch.empty(r1, r1))
        self.G = nn.Parameter(torch.empty(num_preferences, r2 * r2))
        self.reset_parameters()

    @classmethod
    def check_ranks(cls, r1: int, r2: int, num_preferences: int) -> None:
        """Any r1 >= 0 and r2 >= 1 (checked by `PBLoraConfig`) fit the bilinear core."""

    @classmethod
    def from_ranks(cls, r1: int, r2: int, num_preferences: int) -> BilinearPreferenceCore:
        """The core of one adapter with these ranks."""
        return cls(r1, r2, num_preferences)

    def reset_parameters(self) -> None:
        """Kaiming-uniform(a=sqrt 5) for W1 and G, as the official PARM code."""
        if self.r1 > 0:
            nn.init.kaiming_uniform_(self.W1, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.G, a=math.sqrt(5))

    def preference_map(self) -> torch.Tensor:
        """The (k, r2^2) map from alpha to the flattened W2(alpha): G."""
        return self.G

    def forward(self, preference: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Core for a preference of shape (k,) -> (r, r), or one core per row for (rows, k) -> (rows, r, r).

        With `dtype`, the core is computed from copies of W1 and G in that dtype (merging computes in float32).
        """
        if dtype is None:
            return bilinear_core(self.W1, self.preference_map(), preference)
        return bilinear_core(self.W1.to(dtype), self.preference_map().to(dtype), preference)


class PerObjectivePreferenceCore(BilinearPreferenceCore):
    """PBLoRA's core with G held to k diagonal blocks: W2(alpha) = blockdiag(alpha_1 G_1, ..., alpha_k G_k).

    Each objective owns r2 / k of the A and B directions, so at a vertex only that objective's directions act and
    learn; G keeps the bilinear core's shape (and checkpoint layout), its entries outside the blocks masked out.
    Selected by `PBLoraConfig(core="per_objective")`.

    Args:
        r1 (int): Rank of the preference-agnostic block W1; 0 leaves only W2(alpha).
        r2 (int): Rank of the preference-aware block; must be divisible by `num_preferences`.
        num_preferences (int): Number of objectives k.

    Examples:
        >>> import torch
        >>> from peft_pblora import PerObjectivePreferenceCore
        >>> _ = torch.manual_seed(0)
        >>> core = PerObjectivePreferenceCore(r1=0, r2=4, num_preferences=2)
        >>> at_first_vertex = core(torch.tensor([1.0, 0.0]))
        >>> bool(at_first_vertex[2:, :].eq(0).all()), bool(at_first_vertex[:2, :2].ne(0).all())
        (True, True)
    """

    def __init__(self, r1: int, r2: int, num_preferences: int) -> None:
        self.block = r2 // num_preferences
        super().__init__(r1, r2, num_preferences)
        owner = torch.arange(r2) // self.block
        in_own_block = (owner[:, None] == owner[None, :]).flatten()
        mask = torch.stack([in_own_block & (owner.repeat_interleave(r2) == index) for index in range(num_preferences)])
        self.register_buffer("block_mask", mask.to(self.G.dtype), persistent=False)

    @classmethod
    def check_ranks(cls, r1: int, r2: int, num_preferences: int) -> None:
        """r2 must split into one equal block per objective."""
        if r2 % num_preferences:
            raise ValueError(
                f"core='per_objective' splits r2 into one block per objective: r2={r2} is not divisible by "
                f"num_preferences={num_preferences}"
            )

    def reset_parameters(self) -> None:
        """W1 as in PBLoRA; each block of G as a one-objective core of rank r2 / k would be (kaiming-uniform with
        fan-in block^2: bound 1 / block), so a block starts at the scale of a single-objective adapter's core."""
        if self.r1 > 0:
            nn.init.kaiming_uniform_(self.W1, a=math.sqrt(5))
        nn.init.uniform_(self.G, -1.0 / self.block, 1.0 / self.block)

    def preference_map(self) -> torch.Tensor:
        """G with each objective's row zero outside its own diagonal block."""
        return self.G * self.block_mask.to(self.G.dtype)


class DiagonalPreferenceCore(nn.Module):
    """Panacea's SVD-LoRA core diag(sigma_1..sigma_r1, c alpha_1..c alpha_k): the baseline PBLoRA generalises.

    Learnable singular values sigma and one learnable scale c per layer; each objective owns one rank-1 direction.
    Selected by `PBLoraConfig(core="diagonal")`, which needs r2 = num_preferences.

    Args:
        r1 (int): Number of preference-agnostic singular values sigma.
        num_preferences (int): Number of objectives k, one direction each.

    Examples:
        >>> import torch
        >>> from peft_pblora import DiagonalPreferenceCore
        >>> core = DiagonalPreferenceCore(r1=1, num_preferences=2)
        >>> core(torch.tensor([0.25, 0.75]))
        tensor([[1.0000, 0.0000, 0.0000],
                [0.0000, 0.2500, 0.0000],
                [0.0000, 0.0000, 0.7500]], grad_fn=<DiagEmbedBackward0>)
    """

    def __init__(self, r1: int, num_preferences: int) -> None:
        super().__init__()
        self.r1, self.r2 = r1, num_preferences
        self.sigma = nn.Parameter(torch.empty(r1))
        self.c = nn.Parameter(torch.empty(1))
        self.reset_parameters()

    @classmethod
    def check_ranks(cls, r1: int, r2: int, num_preferences: int) -> None:
        """One direction per objective: r2 must equal num_preferences."""
        if r2 != num_preferences:
            raise ValueError(
                f"core='diagonal' (SVD-LoRA) gives each objective one direction: r2 must equal num_preferences="
                f"{num_preferences}, got {r2}"
            )

    @classmethod
    def from_ranks(cls, r1: int, r2: int, num_preferences: int) -> DiagonalPreferenceCore:
        """The core of one adapter with these ranks (r2 is num_preferences, see `check_ranks`)."""
        return cls(r1, num_preferences)

    def reset_parameters(self) -> None:
        """sigma = 1 and c = 1: with B zero, training starts at the base model and every direction gets gradient."""
        nn.init.ones_(self.sigma)
        nn.init.ones_(self.c)

    def forward(self, preference: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Core for a preference (k,) -> (r, r), or one per row for (rows, k) -> (rows, r, r)."""
        sigma, c = (self.sigma, self.c) if dtype is None else (self.sigma.to(dtype), self.c.to(dtype))
        preference = preference.to(sigma.dtype)
        singular_values = sigma.expand(*preference.shape[:-1], -1)
        return torch.diag_embed(torch.cat([singular_values, c * preference], dim=-1))


PREFERENCE_CORES: dict[str, type[nn.Module]] = {
    "bilinear": BilinearPreferenceCore,
    "per_objective": PerObjectivePreferenceCore,
    "diagonal": DiagonalPreferenceCore,
}
"""`PBLoraConfig.core` -> the core class its layers build: the one place a core is registered."""
