"""PBLoRA layers: a frozen linear layer plus s * B blockdiag(W1, W2(alpha)) A, computed on the low-rank path."""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from peft.tuners.tuners_utils import BaseTunerLayer, check_adapters_to_merge
from peft.utils.other import transpose
from torch import nn
from transformers.pytorch_utils import Conv1D

from .config import PBLoraConfig
from .cores import PREFERENCE_CORES, BilinearPreferenceCore, bilinear_core
from .preference import expand_preference_rows, missing_preference_error


def is_quantized(weight: torch.Tensor) -> bool:
    """Whether a base weight is stored quantized (bitsandbytes 4-bit/8-bit, integer dtypes): no delta can be added."""
    return hasattr(weight, "quant_state") or hasattr(weight, "SCB") or not weight.dtype.is_floating_point


class PBLoraLayer(BaseTunerLayer):
    """Adapter state of a PBLoRA layer; the current preference is plain run-time state, never saved or trained.

    The preference persists on the layer until replaced, so activation checkpointing, which re-runs the forward in
    the backward pass, sees the same preference as the original forward.
    """

    adapter_layer_names = ("pblora_A", "pblora_B", "pblora_core")
    other_param_names = ("r1", "r2", "num_preferences", "scaling", "pblora_dropout", "pblora_preference")

    def __init__(self, base_layer: nn.Module, **kwargs: Any) -> None:
        self.base_layer = base_layer
        self.r1: dict[str, int] = {}
        self.r2: dict[str, int] = {}
        self.num_preferences: dict[str, int] = {}
        self.scaling: dict[str, float] = {}
        self.pblora_dropout = nn.ModuleDict({})
        self.pblora_A = nn.ModuleDict({})
        self.pblora_B = nn.ModuleDict({})
        self.pblora_core = nn.ModuleDict({})
        self.pblora_preference: dict[str, torch.Tensor] = {}
        # run-time, like the preference: which batch rows the adapter applies to (bool, one per row); rows switched
        # off are exactly the base layer, whatever the core (fused guided decoding runs base and PARM rows together)
        self.pblora_rows_on: dict[str, torch.Tensor] = {}
        # run-time, set by fused guided decoding for a whole generate call: each row's scaled, transposed core with
        # the rows switched off zeroed, so a decoding step runs three small kernels instead of rebuilding the cores
        self.pblora_row_cores: dict[str, torch.Tensor] = {}
        self.merged_preference: dict[str, torch.Tensor] = {}
        self._weight_before_merge: torch.Tensor | None = None
        self._disable_adapters = False
        self.merged_adapters: list[str] = []
        self.kwargs = kwargs

        base_layer = self.get_base_layer()
        if isinstance(base_layer, nn.Linear):
            self.in_features, self.out_features = base_layer.in_features, base_layer.out_features
        elif isinstance(base_layer, Conv1D):
            weight = base_layer.weight
            self.in_features, self.out_features = weight.ds_shape if hasattr(weight, "ds_shape") else weight.shape
        else:
            raise TypeError(f"PBLoRA supports nn.Linear and transformers' Conv1D, got {type(base_layer).__name__}")

    def update_layer(self, adapter_name: str, config: PBLoraConfig, **kwargs: Any) -> None:
        """Create the weights of adapter `adapter_name` from `config`; its core is `PREFERENCE_CORES[config.core]`."""
        r1, r2, k = config.r1, config.r2, config.num_preferences
        self.r1[adapter_name] = r1
        self.r2[adapter_name] = r2
        self.num_preferences[adapter_name] = k
        self.scaling[adapter_name] = config.adapter_scaling
        dropout = nn.Dropout(p=config.lora_dropout) if config.lora_dropout > 0.0 else nn.Identity()
        self.pblora_dropout[adapter_name] = dropout
        self.pblora_A[adapter_name] = nn.Linear(self.in_features, r1 + r2, bias=False)
        self.pblora_B[adapter_name] = nn.Linear(r1 + r2, self.out_features, bias=False)
        self.pblora_core[adapter_name] = PREFERENCE_CORES[config.core].from_ranks(r1, r2, k)
        self.reset_pblora_parameters(adapter_name, zero_init_B=config.init_weights)
        self._move_adapter_to_device_of_base_layer(adapter_name)
        self.set_adapter(self.active_adapters, inference_mode=config.inference_mode)

    @torch.no_grad()
    def reset_pblora_parameters(self, adapter_name: str, zero_init_B: bool = True) -> None:
        """A, W1 and G kaiming-uniform(a=sqrt 5); B zero (the adapter starts as the identity) or kaiming too."""
        nn.init.kaiming_uniform_(self.pblora_A[adapter_name].weight, a=math.sqrt(5))
        if zero_init_B:
            nn.init.zeros_(self.pblora_B[adapter_name].weight)
        else:
            nn.init.kaiming_uniform_(self.pblora_B[adapter_name].weight, a=math.sqrt(5))
        self.pblora_core[adapter_name].reset_parameters()

    def set_preference(self, adapter_name: str, preference: torch.Tensor) -> None:
        """Store an already validated preference, (k,) or (rows, k), on the adapter's device and dtype."""
        if adapter_name in self.merged_preference and not torch.equal(
            self.merged_preference[adapter_name], preference.to(self.merged_preference[adapter_name])
        ):
            raise ValueError(
                f"PBLoRA adapter '{adapter_name}' is merged for preference "
                f"{self.merged_preference[adapter_name].tolist()}; call unmerge_adapter() before changing it"
            )
        weight = next(self.pblora_core[adapter_name].parameters())
        self.pblora_preference[adapter_name] = preference.to(device=weight.device, dtype=weight.dtype)

    def _stored_preference(self, adapter_name: str) -> torch.Tensor:
        preference = self.pblora_preference.get(adapter_name)
        if preference is None:
            raise missing_preference_error(adapter_name)
        return preference

    def get_delta_weight(self, adapter_name: str) -> torch.Tensor:
        """delta-W = s * B core(alpha) A for the adapter's single preference, in the base weight's layout and dtype."""
        preference = self._stored_preference(adapter_name)
        if preference.dim() == 2 and preference.shape[0] == 1:
            preference = preference[0]
        if preference.dim() == 2:
            raise ValueError(
                f"Cannot merge PBLoRA adapter '{adapter_name}' with per-row preferences ({preference.shape[0]} rows): "
                "merging needs one preference vector; call set_preference with a single vector first"
            )
        weight_A = self.pblora_A[adapter_name].weight.float()
        weight_B = self.pblora_B[adapter_name].weight.float()
        core = self.pblora_core[adapter_name](preference, dtype=torch.float32)
        delta = (weight_B @ core @ weight_A) * self.scaling[adapter_name]
        return transpose(delta, self.fan_in_fan_out).to(self.get_base_layer().weight.dtype)

    def _core_transposed(self, adapter_name: str, preference: torch.Tensor) -> torch.Tensor:
        """core(alpha)^T: (r, r) for one preference vector, (rows, r, r) for one per row."""
        core_module = self.pblora_core[adapter_name]
        if isinstance(core_module, BilinearPreferenceCore):
            return bilinear_core(core_module.W1, core_module.preference_map(), preference).mT
        return core_module(preference).mT

    @torch.no_grad()
    def set_row_cores(self, adapter_name: str, preference: torch.Tensor, rows_on: torch.Tensor) -> None:
        """Freeze s * core(alpha_row)^T per row, zero where `rows_on` is False, for inference with fixed preferences.

        While set, a forward whose batch has exactly these rows uses them instead of the stored preference and row
        switch. Clear with `clear_row_cores`: they are not updated when the core's weights change.
        """
        rows = rows_on.shape[0]
        core_T = self._core_transposed(adapter_name, expand_preference_rows(preference, batch_size=rows))
        core_T = core_T.expand(rows, *core_T.shape[-2:]) if core_T.dim() == 2 else core_T
        row_cores = core_T * self.scaling[adapter_name]
        self.pblora_row_cores[adapter_name] = torch.where(rows_on.view(-1, 1, 1).to(row_cores.device), row_cores, 0.0)

    def clear_row_cores(self, adapter_name: str) -> None:
        """Drop the frozen row cores of `set_row_cores`; forwards use the stored preference again."""
        self.pblora_row_cores.pop(adapter_name, None)

    @staticmethod
    def _times_core(hidden: torch.Tensor, core_T: torch.Tensor, rows: int) -> torch.Tensor:
        """hidden @ core^T: one core (r, r) for every row, or one per batch row (rows, r, r) whatever hidden's rank."""
        if core_T.dim() == 2 or hidden.dim() == 3:
            return torch.matmul(hidden, core_T)
        return torch.bmm(hidden.reshape(rows, -1, hidden.shape[-1]), core_T).reshape(hidden.shape)

    def _adapter_output(self, adapter_name: str, x: torch.Tensor) -> torch.Tensor:
        """s * B core(alpha) A dropout(x), one core per batch row when the preference has rows.

        Written with functional calls and no reshapes for the usual (batch, tokens, features) input: at realistic
        sizes the adapter's small kernels are bound by dispatch overhead, not arithmetic.
        """
        weight_A = self.pblora_A[adapter_name].weight
        x = self._cast_input_dtype(x, weight_A.dtype)
        hidden = F.linear(self.pblora_dropout[adapter_name](x), weight_A)
        preference = expand_preference_rows(self._stored_preference(adapter_name), batch_size=x.shape[0])
        hidden = self._times_core(hidden, self._core_transposed(adapter_name, preference), rows=x.shape[0])
        return F.linear(hidden, self.pblora_B[adapter_name].weight) * self.scaling[adapter_name]

    def _adapter_output_from_row_cores(
        self, adapter_name: str, x: torch.Tensor, row_cores: torch.Tensor
    ) -> torch.Tensor:
        """B (A x) (s core_row^T) per row from the frozen row cores: no core rebuilt, no row switch, no dropout."""
        weight_A = self.pblora_A[adapter_name].weight
        hidden = F.linear(self._cast_input_dtype(x, weight_A.dtype), weight_A)
        return F.linear(self._times_core(hidden, row_cores, rows=x.shape[0]), self.pblora_B[adapter_name].weight)

    def _adapter_output_for_rows(self, adapter_name: str, x: torch.Tensor) -> torch.Tensor:
        """The adapter's output with each row's preference, zero for rows switched off (fused guided decoding)."""
        row_cores = self.pblora_row_cores.get(adapter_name)
        if row_cores is not None and row_cores.shape[0] == x.shape[0] and not self.training:
            return self._adapter_output_from_row_cores(adapter_name, x, row_cores)
        output = self._adapter_output(adapter_name, x)
        rows_on = self.pblora_rows_on.get(adapter_name)
        if rows_on is not None:
            output = torch.where(rows_on.view(-1, *[1] * (output.dim() - 1)), output, 0.0)
        return output


class PBLoraLinear(nn.Module, PBLoraLayer):
    """PBLoRA around an nn.Linear or a GPT-2 Conv1D."""

    def __init__(
        self, base_layer: nn.Module, adapter_name: str, config: PBLoraConfig, fan_in_fan_out: bool = False, **kwargs
    ) -> None:
        super().__init__()
        PBLoraLayer.__init__(self, base_layer, **kwargs)
        self.fan_in_fan_out = fan_in_fan_out
        self._active_adapter = adapter_name
        self.update_layer(adapter_name, config)

    def merge(self, safe_merge: bool = False, adapter_names: list[str] | None = None) -> None:
        """Add delta-W(alpha) of each adapter to W0 for its current (single) preference.

        The unmerged W0 is kept so that `unmerge` restores it bit for bit rather than by subtraction.
        """
        adapter_names = check_adapters_to_merge(self, adapter_names)
        if not adapter_names:
            return
        base_layer = self.get_base_layer()
        if is_quantized(base_layer.weight):
            raise ValueError(
                f"cannot merge PBLoRA into the quantized layer {type(base_layer).__name__} (e.g. a 4-bit QLoRA base): "
                "load the base in bf16/fp32 and merge there, or keep the adapter unmerged"
            )
        deltas = {name: self.get_delta_weight(name) for name in adapter_names if name in self.pblora_A}
        merged_weight = base_layer.weight.data.clone()
        for delta in deltas.values():
            merged_weight += delta
        if safe_merge and not torch.isfinite(merged_weight).all():
            raise ValueError(f"NaNs detected in the merged weights of adapters {list(deltas)}")
        if self._weight_before_merge is None:
            self._weight_before_merge = base_layer.weight.data
        base_layer.weight.data = merged_weight
        for name in deltas:
            self.merged_preference[name] = self.pblora_preference[name].clone()
            self.merged_adapters.append(name)

    def unmerge(self) -> None:
        """Restore the exact W0 saved by `merge`."""
        if not self.merged:
            warnings.warn("Already unmerged. Nothing to do.", stacklevel=2)
            return
        self.get_base_layer().weight.data = self._weight_before_merge
        self._weight_before_merge = None
        self.merged_adapters.clear()
        self.merged_preference.clear()

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self.disable_adapters:
            if self.merged:
                self.unmerge()
            return self.base_layer(x, *args, **kwargs)
        result = self.base_layer(x, *args, **kwargs)
        if self.merged:
            return result
        result_dtype = result.dtype
        for active_adapter in self.active_adapters:
            if active_adapter in self.pblora_A:
                result = result + self._adapter_output_for_rows(active_adapter, x)
        return result.to(result_dtype)

    def __repr__(self) -> str:
        return "pblora." + super().__repr__()
