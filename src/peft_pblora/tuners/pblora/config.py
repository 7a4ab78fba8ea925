"""PBLoraConfig: the configuration of a Preference-aware Bilinear LoRA (PBLoRA) adapter."""

from __future__ import annotations

from dataclasses import dataclass, field

from peft.config import PeftConfig

from .checks import check_bool, check_choice, check_int, check_names, check_positive_reals, check_real
from .cores import PREFERENCE_CORES
from .peft_type import PBLORA_PEFT_TYPE


@dataclass
class PBLoraConfig(PeftConfig):
    """Configuration of a PBLoRA adapter (`PBLoraModel`): one set of weights that serves every preference alpha.

    Each adapted linear layer computes y = W0 x + s (B1 W1 A1 x + B2 W2(alpha) A2 x), where W1 (r1 x r1) is shared
    by every preference and W2(alpha) = reshape(alpha^T G, r2 x r2) is a linear map of the preference vector alpha
    (k = `num_preferences` weights on the simplex), so one adapter is steered at inference by passing alpha. The
    defaults are the official PARM recipe (arXiv 2505.06274): r1 = r2 = 4, lora_alpha = 8 (s = 2), dropout 0.05.
    Besides these fields, PEFT's own `PeftConfig` fields (`task_type`, `inference_mode`, ...) apply.

    Args:
        r1 (int, optional):
            Rank of the preference-agnostic part B1 W1 A1. `0` disables that part. Defaults to `4`.
        r2 (int, optional):
            Rank of the preference-aware part B2 W2(alpha) A2; at least 1. Defaults to `4`.
        core (str, optional):
            Which preference core the layers build, a key of `PREFERENCE_CORES`: `"bilinear"` (PBLoRA's
            W2(alpha) = reshape(alpha^T G)), `"per_objective"` (G held to k diagonal blocks, one block of r2 / k
            directions per objective; needs r2 divisible by `num_preferences`) or `"diagonal"` (Panacea's SVD-LoRA
            baseline diag(sigma, c alpha); needs r2 = `num_preferences`). Defaults to `"bilinear"`.
        num_preferences (int, optional):
            Number of objectives k: the length of every preference vector alpha. Defaults to `2`.
        objective_names (list[str], optional):
            Names of the objectives in alpha order (alpha[i] weights objective_names[i]), saved with the adapter so
            inference uses the order training used. Defaults to `objective_0` ... `objective_{k-1}`.
        beta_r (list[float], optional):
            Bradley-Terry temperature per objective the adapter was trained with; recorded by `PARMTrainer` for
            the model card, not used by the model.
        lora_alpha (float, optional):
            Scale numerator: s = lora_alpha / r2 unless `scaling` is set (as the official code). Defaults to `8`.
        scaling (float, optional):
            Explicit scale s of the adapter output; overrides lora_alpha / r2.
        lora_dropout (float, optional):
            Dropout probability on the adapter's input, in [0, 1). Defaults to `0.05`.
        target_modules (list[str] | str, optional):
            Module names or a regex of the modules to adapt, e.g. `["q_proj", "k_proj", "v_proj"]` (the official
            PARM targets). `nn.Linear` and GPT-2's `Conv1D` are supported. Defaults to PEFT's LoRA targets for
            known architectures.
        exclude_modules (list[str] | str, optional):
            Module names or a regex of the modules not to adapt.
        fan_in_fan_out (bool, optional):
            `True` if the adapted layer stores its weight as (fan_in, fan_out), like GPT-2's `Conv1D`.
            Defaults to `False`.
        bias (str, optional):
            Bias to train: `"none"`, `"all"` or `"pblora_only"`. Defaults to `"none"`.
        modules_to_save (list[str], optional):
            Modules apart from the PBLoRA layers to train and save, e.g. a classification head.
        layers_to_transform (list[int] | int, optional):
            Only adapt the layers with these indices.
        layers_pattern (list[str] | str, optional):
            Name of the `nn.ModuleList` holding the layers, used with `layers_to_transform`.
        init_weights (bool, optional):
            `True` (official): B starts at zero, so a new adapter leaves the model unchanged. `False`: B is random
            too, so the adapter changes the output from the start (useful for tests). Defaults to `True`.

    Raises:
        TypeError: If a field has the wrong type (`r2="4"`, `num_preferences=2.5`, `objective_names="ab"`), naming it.
        ValueError: If a rank, the core, the dropout, the bias, the scale (NaN or infinite) or the objective names are
            invalid, or the ranks do not fit the chosen core.

    Examples:
        >>> import torch
        >>> from peft import get_peft_model
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from peft_pblora import PBLoraConfig
        >>> _ = torch.manual_seed(0)
        >>> base = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
        >>> config = PBLoraConfig(r1=2, r2=2, num_preferences=2, objective_names=["helpful", "harmless"],
        ...     target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
        >>> config.adapter_scaling  # lora_alpha / r2
        4.0
        >>> model = get_peft_model(base, config)
        >>> model.print_trainable_parameters()
        trainable params: 280 || all params: 4,936 || trainable%: 5.6726
        >>> model(torch.tensor([[3, 4, 5]]), preference=[0.7, 0.3]).logits.shape  # alpha for this call
        torch.Size([1, 3, 64])
    """

    r1: int = field(
        default=4, metadata={"help": "Rank of the preference-agnostic part (B1 W1 A1). 0 disables that part."}
    )
    r2: int = field(default=4, metadata={"help": "Rank of the preference-aware part (B2 W2(alpha) A2); at least 1."})
    core: str = field(
        default="bilinear",
        metadata={
            "help": "'bilinear': PBLoRA's W2(alpha) = reshape(alpha^T G). 'per_objective': the same with G held to "
            "k diagonal blocks, W2(alpha) = blockdiag(alpha_1 G_1, ..., alpha_k G_k), so each objective has its own "
            "rank-r2/k directions and no objective's loss moves another's directions at a vertex; needs r2 "
            "divisible by num_preferences. 'diagonal': Panacea's SVD-LoRA baseline, core diag(sigma_1..sigma_r1, "
            "c alpha_1..c alpha_k) with learnable sigma and c; needs r2 = num_preferences (one rank-1 direction per "
            "objective)."
        },
    )
    num_preferences: int = field(
        default=2, metadata={"help": "Number of objectives k: the length of every preference vector alpha."}
    )
    objective_names: list[str] | None = field(
        default=None,
        metadata={
            "help": (
                "Names of the objectives in alpha order (alpha[i] weights objective_names[i]). Saved with the adapter "
                "so inference uses the order training used. Defaults to objective_0 ... objective_{k-1}."
            )
        },
    )
    beta_r: list[float] | None = field(
        default=None,
        metadata={
            "help": "Bradley-Terry temperature per objective the adapter was trained with, recorded by PARMTrainer "
            "for the model card; the model does not use it."
        },
    )
    lora_alpha: float = field(
        default=8, metadata={"help": "Scale numerator: s = lora_alpha / r2 unless `scaling` is set (official code)."}
    )
    scaling: float | None = field(
        default=None, metadata={"help": "Explicit scale s of the adapter output; overrides lora_alpha / r2."}
    )
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout probability on the adapter's input."})
    target_modules: list[str] | str | None = field(
        default=None,
        metadata={
            "help": (
                "Module names or a regex of the modules to adapt, e.g. ['q_proj', 'k_proj', 'v_proj'] (the official "
                "PARM targets). nn.Linear and GPT-2's Conv1D are supported. Defaults to PEFT's LoRA targets for "
                "known architectures."
            )
        },
    )
    exclude_modules: list[str] | str | None = field(
        default=None, metadata={"help": "Module names or a regex of the modules not to adapt."}
    )
    fan_in_fan_out: bool = field(
        default=False,
        metadata={"help": "True if the adapted layer stores its weight as (fan_in, fan_out), like GPT-2's Conv1D."},
    )
    bias: str = field(default="none", metadata={"help": "Bias to train: 'none', 'all' or 'pblora_only'."})
    modules_to_save: list[str] | None = field(
        default=None,
        metadata={"help": "Modules apart from the PBLoRA layers to train and save, e.g. a classification head."},
    )
    layers_to_transform: list[int] | int | None = field(
        default=None, metadata={"help": "Only adapt the layers with these indices."}
    )
    layers_pattern: list[str] | str | None = field(
        default=None,
        metadata={"help": "Name of the nn.ModuleList holding the layers, used with `layers_to_transform`."},
    )
    init_weights: bool = field(
        default=True,
        metadata={
            "help": (
                "True (official): B is zero-initialised so a new adapter leaves the model unchanged. False: B is "
                "random too, so the adapter changes the output from the start (useful for tests)."
            )
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.peft_type = PBLORA_PEFT_TYPE
        if isinstance(self.target_modules, list):
            self.target_modules = set(self.target_modules)
        if isinstance(self.exclude_modules, list):
            self.exclude_modules = set(self.exclude_modules)
        self.r1 = check_int(self.r1, "r1", minimum=0)
        self.r2 = check_int(self.r2, "r2", minimum=1)
        self.num_preferences = check_int(self.num_preferences, "num_preferences", minimum=1)
        self.core = check_choice(self.core, "core", PREFERENCE_CORES)
        PREFERENCE_CORES[self.core].check_ranks(self.r1, self.r2, self.num_preferences)
        check_real(self.lora_alpha, "lora_alpha")
        if self.scaling is not None:
            check_real(self.scaling, "scaling")  # inf or NaN times the zero-initialised B makes every logit NaN
        if not 0.0 <= check_real(self.lora_dropout, "lora_dropout") < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        self.bias = check_choice(self.bias, "bias", ("none", "all", "pblora_only"))
        self.fan_in_fan_out = check_bool(self.fan_in_fan_out, "fan_in_fan_out")
        self.init_weights = check_bool(self.init_weights, "init_weights")
        if self.beta_r is not None:
            self.beta_r = check_positive_reals(self.beta_r, "beta_r")
        if self.objective_names is None:
            self.objective_names = [f"objective_{index}" for index in range(self.num_preferences)]
        else:
            self.objective_names = check_names(self.objective_names, "objective_names")
        if len(self.objective_names) != self.num_preferences:
            raise ValueError(
                f"objective_names has {len(self.objective_names)} names but num_preferences={self.num_preferences}"
            )
        if isinstance(self.target_modules, str) and self.layers_to_transform is not None:
            raise ValueError("`layers_to_transform` cannot be used when `target_modules` is a str.")
        if self.layers_pattern and self.layers_to_transform is None:
            raise ValueError("When `layers_pattern` is specified, `layers_to_transform` must also be specified.")

    @property
    def adapter_scaling(self) -> float:
        """The scale s applied to the adapter output: `scaling` if set, else lora_alpha / r2."""
        return self.scaling if self.scaling is not None else self.lora_alpha / self.r2
