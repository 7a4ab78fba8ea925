"""The PARM objective: autoregressive rewards, one Bradley-Terry loss per objective, and their scalarisation."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

SCALARIZATIONS = ("linear", "tchebycheff")
LOSS_TYPES = ("sigmoid", "ipo")


def completion_log_probs(
    logits: torch.Tensor, input_ids: torch.Tensor, completion_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of log pi(token | prefix) over each sequence's completion tokens (EOS included), and their count.

    `logits` (S, L, V) are the model's outputs for the last L positions of `input_ids` (S, T); the logits at
    position t predict the token at t + 1.
    """
    length = logits.shape[1]
    targets = input_ids[:, -length + 1 :] if length > 1 else input_ids[:, :0]
    mask = (completion_mask[:, -length + 1 :] if length > 1 else completion_mask[:, :0]).float()
    logits = logits[:, :-1].float()
    token_log_probs = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return (token_log_probs * mask).sum(-1), mask.sum(-1)


def objective_rewards(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    length_normalized: list[bool],
) -> torch.Tensor:
    """(S, k) rewards: column i is each sequence's reward as objective i measures it.

    Summed log-probabilities (GenARM / PARM), or their mean over the completion tokens where `length_normalized[i]`,
    so that objective's margin no longer grows with the difference of the responses' lengths.
    """
    summed, counts = completion_log_probs(logits, input_ids, completion_mask)
    return rewards_from_log_probs(summed, counts, length_normalized)


def rewards_from_log_probs(summed: torch.Tensor, counts: torch.Tensor, length_normalized: list[bool]) -> torch.Tensor:
    """(S, k) rewards from each sequence's summed completion log-probability and its number of completion tokens."""
    normalized = torch.tensor(length_normalized, device=summed.device)
    return torch.where(normalized, (summed / counts.clamp(min=1)).unsqueeze(1), summed.unsqueeze(1))


@dataclass
class ObjectiveStatistics:
    """Per-objective results for one batch; each tensor has one entry per objective."""

    losses: torch.Tensor  # mean BT loss over the pairs labelled for the objective (0 where none)
    weighted_losses: torch.Tensor  # mean of weight_i * loss (weight: alpha_i, or an importance weight): scalarised
    accuracies: torch.Tensor  # share of labelled pairs whose preferred response gets the higher reward
    margins: torch.Tensor  # mean reward(preferred) - reward(other)
    counts: torch.Tensor  # number of labelled pairs


def objective_statistics(
    first_rewards: torch.Tensor,
    second_rewards: torch.Tensor,
    labels: torch.Tensor,
    beta_r: torch.Tensor,
    loss_weights: torch.Tensor,
    loss_type: str = "sigmoid",
) -> ObjectiveStatistics:
    """Bradley-Terry statistics per objective for P pairs.

    Rewards are (P,), or (P, k) where each objective measures rewards its own way.
    labels (P, k): +1 where the first response is preferred for objective i, -1 where the second is, 0 where the
    pair carries no label for i. beta_r (k,). loss_weights (P, k): each pair's weight per objective, the alpha it
    was scored at (or an importance weight, see PARMTrainer's preference_sampling='importance').
    loss_type "sigmoid" (Bradley-Terry, the paper): loss_i = -log sigmoid(beta_r_i * margin_i), margin_i =
    r_preferred - r_other. "ipo" (IPO's squared loss on the margin itself, not TRL's per-token average, so a summed
    reward still decomposes over tokens): loss_i = (margin_i - 1 / (2 beta_r_i))^2, which holds every objective's
    margin near 1 / (2 beta_r_i) where the sigmoid keeps widening the margin of an objective that is easy to learn.
    """
    labels = labels.to(first_rewards.dtype)
    labelled = labels != 0
    counts = labelled.sum(0)
    denominator = counts.clamp(min=1).to(first_rewards.dtype)
    differences = first_rewards - second_rewards
    margins = labels * (differences if differences.dim() == 2 else differences.unsqueeze(1))  # (P, k)
    beta_r = beta_r.to(margins.dtype)
    if loss_type == "sigmoid":
        losses = -F.logsigmoid(beta_r * margins) * labelled
    elif loss_type == "ipo":
        losses = (margins - 1 / (2 * beta_r)) ** 2 * labelled
    else:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    loss_weights = loss_weights.to(losses.dtype)
    return ObjectiveStatistics(
        losses=losses.sum(0) / denominator,
        weighted_losses=(loss_weights * losses).sum(0) / denominator,
        accuracies=((margins > 0) & labelled).sum(0).to(losses.dtype) / denominator,
        margins=(margins * labelled).sum(0) / denominator,
        counts=counts,
    )


def scalarize(weighted_losses: torch.Tensor, method: str = "linear") -> torch.Tensor:
    """Combine the alpha-weighted objective losses: their sum (linear) or their maximum (Tchebycheff, ideal 0)."""
    if method == "linear":
        return weighted_losses.sum()
    if method == "tchebycheff":
        return weighted_losses.max()
    raise ValueError(f"scalarization must be one of {SCALARIZATIONS}, got {method!r}")
