"""Completion log-probabilities without the full-vocabulary logits.

A PARM step scores 2k sequences per example; today's reference path (`loss.completion_log_probs`) builds float32
logits for every row, every kept position and the whole vocabulary, and autograd keeps them (and the softmax of
the backward) alive. Here the model runs as usual up to its output embedding; a forward pre-hook on that layer takes
its input, projects only the completion positions, a chunk of tokens at a time, and hands the layer a single
position so the model's own logits stay tiny. The model is still called through its top-level forward, so
distributed wrappers (DDP, FSDP) and PEFT see an ordinary call.
"""

from __future__ import annotations

import logging
import os

import torch
import torch.nn.functional as F
from torch import nn

from .loss import completion_log_probs

logger = logging.getLogger(__name__)

FULL_LOGITS_ENV = "PEFT_PBLORA_FULL_LOGITS"
"""Set to 1 to compute every reward from the full-vocabulary logits (the reference path; benchmarks compare both)."""

CHUNK_ELEMENTS = 2**24
"""Logits computed at once: tokens per chunk = CHUNK_ELEMENTS // vocabulary size (64 MiB in float32)."""

# Config fields that rescale the logits after the output embedding in a way this module does not reproduce: a model
# carrying one is scored through the full-logits path instead.
UNSUPPORTED_LOGIT_TRANSFORMS = ("output_multiplier", "lm_head_multiplier", "logits_scaling")

try:  # sharded parameters (FSDP2, tensor parallelism) are DTensors outside the forward
    from torch.distributed.tensor import DTensor
except ImportError:  # pragma: no cover - torch built without distributed
    DTensor = ()


def full_logits_requested() -> bool:
    """Whether the environment asks for the full-logits reference path."""
    return os.environ.get(FULL_LOGITS_ENV, "0").lower() in ("1", "true", "yes")


class _TokenLogProbs(torch.autograd.Function):
    """log softmax(transform(hidden @ weight.T + bias))[target] per token, a chunk of tokens at a time.

    With a frozen head (the usual PARM set-up), the forward also computes d log p / d hidden (N, H) chunk by chunk,
    so the backward is one multiplication and no logits survive the forward. With a trainable head the backward
    recomputes each chunk's logits instead.
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_tokens, logit_scale, softcap):
        device_type = hidden.device.type
        autocast = torch.is_autocast_enabled(device_type)
        compute_dtype = torch.get_autocast_dtype(device_type) if autocast else hidden.dtype
        head_trainable = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        eager_gradient = ctx.needs_input_grad[0] and not head_trainable
        with torch.autocast(device_type, enabled=False):
            weight_c = weight.to(compute_dtype)
            bias_c = None if bias is None else bias.to(compute_dtype)
            log_probs = hidden.new_empty(targets.shape[0], dtype=torch.float32)
            jacobian = torch.empty_like(hidden) if eager_gradient else None
            for start in range(0, targets.shape[0], chunk_tokens):
                chunk = slice(start, start + chunk_tokens)
                logits, derivative = _chunk_logits(
                    hidden[chunk].to(compute_dtype), weight_c, bias_c, logit_scale, softcap
                )
                log_normalizer = torch.logsumexp(logits, dim=-1)
                log_probs[chunk] = logits.gather(-1, targets[chunk].unsqueeze(-1)).squeeze(-1) - log_normalizer
                if jacobian is not None:
                    gradient = _log_prob_gradient(logits, log_normalizer, targets[chunk], derivative)
                    jacobian[chunk] = (gradient.to(compute_dtype) @ weight_c).to(hidden.dtype)
        ctx.eager_gradient = eager_gradient
        ctx.settings = (chunk_tokens, logit_scale, softcap, compute_dtype)
        if eager_gradient:
            ctx.save_for_backward(jacobian)
        elif head_trainable:
            ctx.save_for_backward(hidden, weight, bias, targets)
        return log_probs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_log_probs):
        if ctx.eager_gradient:
            (jacobian,) = ctx.saved_tensors
            grad_hidden = (grad_log_probs.unsqueeze(-1) * jacobian.float()).to(jacobian.dtype)
            return grad_hidden, None, None, None, None, None, None
        hidden, weight, bias, targets = ctx.saved_tensors
        chunk_tokens, logit_scale, softcap, compute_dtype = ctx.settings
        with torch.autocast(hidden.device.type, enabled=False):
            weight_c = weight.to(compute_dtype)
            bias_c = None if bias is None else bias.to(compute_dtype)
            grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
            grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
            grad_bias = None if bias is None else torch.zeros(bias.shape, dtype=torch.float32, device=bias.device)
            for start in range(0, targets.shape[0], chunk_tokens):
                chunk = slice(start, start + chunk_tokens)
                hidden_chunk = hidden[chunk].to(compute_dtype)
                logits, derivative = _chunk_logits(hidden_chunk, weight_c, bias_c, logit_scale, softcap)
                log_normalizer = torch.logsumexp(logits, dim=-1)
                gradient = _log_prob_gradient(logits, log_normalizer, targets[chunk], derivative)
                gradient.mul_(grad_log_probs[chunk].unsqueeze(-1))
                if grad_hidden is not None:
                    grad_hidden[chunk] = (gradient.to(compute_dtype) @ weight_c).to(hidden.dtype)
                grad_weight.addmm_(gradient.t(), hidden_chunk.float())
                if grad_bias is not None:
                    grad_bias.add_(gradient.sum(0))
        return (
            grad_hidden,
            grad_weight.to(weight.dtype) if ctx.needs_input_grad[1] else None,
            grad_bias.to(bias.dtype) if grad_bias is not None and ctx.needs_input_grad[2] else None,
            None,
            None,
            None,
            None,
        )


def _chunk_logits(
    hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, logit_scale: float, softcap: float | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A chunk's float32 logits as the model computes them, and d logits / d projection where it is not 1."""
    logits = F.linear(hidden, weight, bias).float()
    derivative = None
    if logit_scale != 1.0:
        logits = logits * logit_scale
        derivative = torch.full((), logit_scale, dtype=logits.dtype, device=logits.device)
    if softcap is not None:
        squashed = torch.tanh(logits / softcap)
        logits = squashed * softcap
        cap_derivative = 1 - squashed.square()
        derivative = cap_derivative if derivative is None else cap_derivative * derivative
    return logits, derivative


def _log_prob_gradient(
    logits: torch.Tensor, log_normalizer: torch.Tensor, targets: torch.Tensor, derivative: torch.Tensor | None
) -> torch.Tensor:
    """d log p(target) / d projection = (one_hot(target) - softmax(logits)) * d logits / d projection."""
    gradient = (logits - log_normalizer.unsqueeze(-1)).exp_().neg_()
    gradient.scatter_add_(-1, targets.unsqueeze(-1), torch.ones_like(gradient[:, :1]))
    return gradient if derivative is None else gradient.mul_(derivative)


def token_log_probs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    chunk_tokens: int | None = None,
    logit_scale: float = 1.0,
    softcap: float | None = None,
) -> torch.Tensor:
    """(N,) float32 log-probabilities of `targets` under the head `weight` (V, H), `bias`, from `hidden` (N, H).

    Equal to `log_softmax(transform(hidden @ weight.T + bias)).gather(targets)`, where transform multiplies by
    `logit_scale` then applies `softcap * tanh(x / softcap)`, without building more than `chunk_tokens` rows of
    logits at once, forward or backward.
    """
    if hidden.dim() != 2 or targets.shape != hidden.shape[:1]:
        raise ValueError(
            f"hidden must be (N, H) and targets (N,), got {tuple(hidden.shape)} and {tuple(targets.shape)}"
        )
    if chunk_tokens is None:
        chunk_tokens = max(1, CHUNK_ELEMENTS // weight.shape[0])
    if chunk_tokens < 1:
        raise ValueError(f"chunk_tokens must be positive, got {chunk_tokens}")
    if not torch.is_grad_enabled():
        with torch.no_grad():  # the autograd Function would still build the gradient: skip it when nothing trains
            return _TokenLogProbs.forward(
                _NoContext(), hidden, weight, bias, targets, chunk_tokens, logit_scale, softcap
            )
    return _TokenLogProbs.apply(hidden, weight, bias, targets, chunk_tokens, logit_scale, softcap)


class _NoContext:
    """Stands in for autograd's context when the forward runs without gradients."""

    needs_input_grad = (False,) * 7

    def save_for_backward(self, *tensors: torch.Tensor) -> None:
        pass


def splittable_head(model: nn.Module) -> tuple[nn.Linear | None, float, float | None, str]:
    """The model's output embedding as a plain `nn.Linear` with its logit scale and soft cap, or None and why not.

    `model` may be wrapped (DDP, FSDP, torch.compile, a PeftModel). A head that is anything else than a plain linear
    layer (an adapter on it, PEFT's modules_to_save, a quantized layer) or a config that rescales the logits in a way
    not reproduced here sends the model through the full-logits path.
    """
    from accelerate.utils import extract_model_from_parallel

    inner = extract_model_from_parallel(model)
    if hasattr(inner, "get_base_model"):
        inner = inner.get_base_model()
    get_head = getattr(inner, "get_output_embeddings", None)
    head = get_head() if callable(get_head) else None
    if type(head) is not nn.Linear:
        return None, 1.0, None, f"its output embedding is {type(head).__name__}, not a plain nn.Linear"
    if isinstance(head.weight, DTensor):
        return None, 1.0, None, "its output embedding is sharded (a DTensor)"
    config = getattr(inner, "config", None)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for field in UNSUPPORTED_LOGIT_TRANSFORMS:
        if getattr(text_config, field, None) is not None:
            return None, 1.0, None, f"its config rescales the logits with {field}"
    logit_scale = getattr(text_config, "logit_scale", None)
    softcap = getattr(text_config, "final_logit_softcapping", None)
    return head, 1.0 if logit_scale is None else float(logit_scale), None if softcap is None else float(softcap), ""


def sequence_log_probs(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    position_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    logits_to_keep: int,
    full_logits: bool = False,
    chunk_tokens: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's summed log pi(completion token | prefix) and its number of completion tokens, both (S,).

    Same result as `completion_log_probs(model(...).logits, ...)` (kept as the reference, and used when
    `full_logits` or when the head cannot be split off, see `splittable_head`), but only completion positions are
    projected onto the vocabulary, `chunk_tokens` at a time. The rows are left-padded: every completion lies in the
    last `logits_to_keep` - 1 positions.
    """
    forward_kwargs = dict(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        logits_to_keep=logits_to_keep,
        use_cache=False,
    )
    head = None
    if not full_logits:
        head, logit_scale, softcap, reason = splittable_head(model)
        if head is None:
            _log_fallback_once(reason)
    if head is None:
        return completion_log_probs(model(**forward_kwargs).logits, input_ids, completion_mask)

    scored: list[tuple[torch.Tensor, torch.Tensor]] = []
    calls = []

    def score_and_shrink(module: nn.Module, args: tuple) -> tuple:
        calls.append(None)
        hidden = args[0]
        if len(calls) > 1 or hidden.dim() != 3 or hidden.shape[0] != input_ids.shape[0]:
            return None  # not the call this hook expects: leave it alone, the full path is taken below
        scored.append(_completion_sums(hidden, module, input_ids, completion_mask, chunk_tokens, logit_scale, softcap))
        return (hidden[:, -1:], *args[1:])  # the model's own logits: one position per row

    handle = head.register_forward_pre_hook(score_and_shrink)
    try:
        model(**forward_kwargs)
    finally:
        handle.remove()
    if len(calls) == 1 and scored:
        return scored[0]
    _log_fallback_once(f"its output embedding was called {len(calls)} times in one forward")
    return completion_log_probs(model(**forward_kwargs).logits, input_ids, completion_mask)


def _completion_sums(
    hidden: torch.Tensor,
    head: nn.Linear,
    input_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    chunk_tokens: int | None,
    logit_scale: float,
    softcap: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row sums of the completion tokens' log-probs from the head's input `hidden` (S, L, H), L kept positions."""
    length = hidden.shape[1]
    targets = input_ids[:, -length + 1 :] if length > 1 else input_ids[:, :0]
    mask = (completion_mask[:, -length + 1 :] if length > 1 else completion_mask[:, :0]).bool()
    predicting = hidden[:, :-1]  # position t predicts the token at t + 1
    mask = mask.to(predicting.device)
    per_token = token_log_probs(
        predicting[mask], head.weight, head.bias, targets.to(mask.device)[mask], chunk_tokens, logit_scale, softcap
    )
    # scattered back into (S, L - 1) and summed along the row: the reference's order of summation
    rows = per_token.new_zeros(mask.shape).masked_scatter(mask, per_token)
    return rows.sum(-1), mask.float().sum(-1)


_logged_reasons: set[str] = set()


def _log_fallback_once(reason: str) -> None:
    if reason not in _logged_reasons:
        _logged_reasons.add(reason)
        logger.warning("Scoring with full-vocabulary logits: %s.", reason)
