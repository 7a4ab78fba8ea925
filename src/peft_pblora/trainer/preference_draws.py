"""Where the trainer draws and evaluates preferences: the simplex's vertices and centre, their log labels, each
micro-batch's seeded draw, and the objective-tilted alphas with the loss weights that keep PARM's expected loss."""

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


class MicroBatchPreferenceDraws:
    """The alphas of each micro-batch, drawn from Dirichlet(concentration) with the seed (seed, optimizer step,
    micro-batch index within the step): a rerun, or a run resumed from a checkpoint, draws the same alphas."""

    def __init__(self, seed: int, concentration: float, num_objectives: int) -> None:
        self.seed = seed
        self.concentration = concentration
        self.num_objectives = num_objectives
        self._step = -1
        self._micro_batch = 0

    def _next_seed(self, step: int) -> list[int]:
        if step != self._step:
            self._step, self._micro_batch = step, 0
        seed = [self.seed, step, self._micro_batch]
        self._micro_batch += 1
        return seed

    def one_per_batch(self, step: int) -> torch.Tensor:
        """(k,): one alpha for every row of the micro-batch, the same on every process."""
        rng = np.random.default_rng(self._next_seed(step))
        return torch.tensor(rng.dirichlet([self.concentration] * self.num_objectives), dtype=torch.float32)

    def one_per_example(self, step: int, rows: int, process_index: int) -> torch.Tensor:
        """(rows, k): one alpha per row; the process index is mixed into the seed so processes draw apart."""
        rng = np.random.default_rng(self._next_seed(step) + [process_index])
        return torch.tensor(rng.dirichlet([self.concentration] * self.num_objectives, size=rows), dtype=torch.float32)

    def tilted_per_pair(
        self, step: int, labels: torch.Tensor, process_index: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(alphas, loss weights), one row per pair: see `objective_tilted_preferences`."""
        rng = np.random.default_rng(self._next_seed(step) + [process_index])
        return objective_tilted_preferences(labels, self.concentration, rng)
