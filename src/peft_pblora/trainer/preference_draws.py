"""Where the trainer draws and evaluates preferences: the simplex's vertices and centre, their log labels, and the
objective-tilted alphas with the loss weights that keep PARM's expected loss."""

from __future__ import annotations

import numpy as np
import torch


def simplex_vertices(k: int) -> list[list[float]]:
    """The k one-hot preferences, in objective order: each objective's whole weight."""
    return [[1.0 if index == objective else 0.0 for index in range(k)] for objective in range(k)]


def simplex_vertices_and_centre(k: int) -> list[list[float]]:
    """The k one-hot preferences and the uniform one: where each objective's accuracy is evaluated by default."""
    return simplex_vertices(k) + ([[1.0 / k] * k] if k > 1 else [])


def preference_label(alpha: list[float]) -> str:
    return "alpha=(" + ",".join(f"{weight:.3g}" for weight in alpha) + ")"


def objective_tilted_preferences(
    labels: torch.Tensor, concentration: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One alpha per pair, drawn towards the pair's own objectives, and loss weights that keep PARM's expected loss.

    A pair labelled for the objectives S draws j uniformly from S and alpha ~ Dirichlet(c + e_j). Weighting its
    loss for objective i by alpha_i |S| / (k sum_{j in S} alpha_j) (1/k when S = {i}) makes the expected weighted
    loss E_{alpha ~ Dirichlet(c)}[alpha_i loss_i(alpha)], the paper's objective, while every pair is trained where
    its own objective counts instead of half the time at a weight near 0. Returns (alphas, weights), both (P, k).
    """
    labelled = (labels != 0).cpu().numpy()
    pairs, k = labelled.shape
    has_label = labelled.any(1)
    own = np.argmax(rng.random((pairs, k)) * labelled, axis=1)  # uniform among each pair's objectives
    tilt = np.full((pairs, k), float(concentration))
    tilt[np.arange(pairs), own] += has_label
    gammas = rng.gamma(tilt)
    alphas = np.where(has_label[:, None], gammas / gammas.sum(1, keepdims=True), 1.0 / k)
    own_weight = (alphas * labelled).sum(1, keepdims=True)
    weights = np.where(
        has_label[:, None], alphas * labelled.sum(1, keepdims=True) / (k * np.maximum(own_weight, 1e-300)), 0.0
    )
    return torch.tensor(alphas, dtype=torch.float32), torch.tensor(weights, dtype=torch.float32)
