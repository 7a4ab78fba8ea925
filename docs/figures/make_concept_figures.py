"""Draw the concept figures of docs/concepts.md from the library's own code and small synthetic examples.

python docs/figures/make_concept_figures.py    # writes docs/figures/*.png
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from peft_pblora import BilinearPreferenceCore  # noqa: E402

HERE = Path(__file__).resolve().parent


def pblora_core(path: Path) -> None:
    """The r x r core blockdiag(W1, reshape(alpha^T G)) of one layer at three preferences."""
    torch.manual_seed(0)
    core = BilinearPreferenceCore(r1=2, r2=3, num_preferences=2)
    alphas = [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]
    matrices = [core(torch.tensor(alpha)).detach().numpy() for alpha in alphas]
    limit = max(abs(matrix).max() for matrix in matrices)
    figure, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    for axis, alpha, matrix in zip(axes, alphas, matrices, strict=True):
        image = axis.imshow(matrix, cmap="coolwarm", vmin=-limit, vmax=limit)
        axis.set_title(f"alpha = {alpha}")
        axis.set_xticks([]), axis.set_yticks([])
        axis.add_patch(plt.Rectangle((-0.5, -0.5), 2, 2, fill=False, lw=2, ec="black"))
        axis.add_patch(plt.Rectangle((1.5, 1.5), 3, 3, fill=False, lw=2, ec="darkgreen"))
    figure.suptitle("PBLoRA core: W1 (black, the same for every alpha) and W2(alpha) = reshape(alpha^T G) (green)")
    figure.colorbar(image, ax=axes, shrink=0.8)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def scalarisation(path: Path) -> None:
    """On a non-convex front, linear scalarisation reaches only the ends; Tchebycheff reaches every point."""
    f1 = np.linspace(0, 1, 201)
    front = np.stack([f1, (1 - np.sqrt(f1)) ** 2], axis=1)  # maximise both; bulges towards the origin
    weights = np.linspace(0.05, 0.95, 10)
    linear = [front[np.argmax(front @ np.array([w, 1 - w]))] for w in weights]
    ideal = front.max(0)
    tchebycheff = [front[np.argmin(np.max(np.array([w, 1 - w]) * (ideal - front), axis=1))] for w in weights]
    figure, axis = plt.subplots(figsize=(5, 4.2))
    axis.plot(front[:, 0], front[:, 1], color="grey", label="Pareto front (non-convex)")
    axis.scatter(*np.array(linear).T, s=80, facecolors="none", edgecolors="tab:red", label="linear: argmax w.f")
    axis.scatter(*np.array(tchebycheff).T, s=25, color="tab:blue", label="Tchebycheff: argmin max w (z* - f)")
    axis.set_xlabel("objective 1"), axis.set_ylabel("objective 2")
    axis.set_title("Ten weight vectors, two scalarisations")
    axis.legend(fontsize=8)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def guided_decoding(path: Path) -> None:
    """Next-token distributions: base, the PARM at two preferences, and the guided mixtures."""
    tokens = ["Sure", "Great", "No", "The", "Here", "<eos>"]
    base = np.array([2.0, 1.0, 0.2, 1.6, 1.4, -0.5])
    parm = {"(1, 0) positive": np.array([1.5, 2.5, -1.5, 0.5, 0.5, -1.0]),
            "(0, 1) concise": np.array([0.2, 0.0, 0.5, 0.3, 0.2, 2.0])}  # fmt: skip

    def log_softmax(logits: np.ndarray) -> np.ndarray:
        shifted = logits - logits.max()
        return shifted - np.log(np.exp(shifted).sum())

    beta = 0.5
    series = {"base": np.exp(log_softmax(base))}
    for name, logits in parm.items():
        series[f"guided, alpha = {name}"] = np.exp(log_softmax(log_softmax(base) + log_softmax(logits) / beta))
    figure, axis = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / len(series)
    for index, (name, probabilities) in enumerate(series.items()):
        axis.bar(np.arange(len(tokens)) + index * width, probabilities, width, label=name)
    axis.set_xticks(np.arange(len(tokens)) + width, tokens)
    axis.set_ylabel("probability of the next token")
    axis.set_title("scores = log pi_base + (1/beta) log pi_PARM(alpha), beta = 0.5")
    axis.legend(fontsize=8)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def weak_to_strong(path: Path) -> None:
    """A small PARM steering a large frozen base: two models, one vocabulary, one token at a time."""
    figure, axis = plt.subplots(figsize=(7.5, 3))
    axis.set_xlim(0, 10), axis.set_ylim(0, 4), axis.axis("off")
    boxes = {
        "base": (0.3, 2.3, "large base model, frozen\n(e.g. Llama-2-7B-chat)", "#dde7f5"),
        "parm": (0.3, 0.3, "small PARM + PBLoRA(alpha)\n(e.g. TinyLlama-1.1B)", "#e3f2e1"),
        "mix": (5.0, 1.3, "log pi_base\n+ (1/beta) log pi_PARM\n(same vocabulary)", "#f7ecd9"),
    }
    for x, y, text, colour in boxes.values():
        axis.add_patch(FancyBboxPatch((x, y), 3.6, 1.3, boxstyle="round,pad=0.05", fc=colour, ec="black"))
        axis.text(x + 1.8, y + 0.65, text, ha="center", va="center", fontsize=9)
    for start, end in [((3.95, 2.95), (5.0, 2.3)), ((3.95, 0.95), (5.0, 1.6))]:
        axis.add_patch(FancyArrowPatch(start, end, arrowstyle="->", mutation_scale=15))
    axis.add_patch(FancyArrowPatch((8.65, 1.95), (9.6, 1.95), arrowstyle="->", mutation_scale=15))
    axis.text(9.7, 1.95, "next\ntoken", va="center", fontsize=9)
    axis.text(0.3, 3.8, "each keeps its own KV cache; the user's alpha reaches only the PARM", fontsize=9)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def main() -> None:
    pblora_core(HERE / "pblora_core.png")
    scalarisation(HERE / "scalarisation.png")
    guided_decoding(HERE / "guided_decoding.png")
    weak_to_strong(HERE / "weak_to_strong.png")


if __name__ == "__main__":
    main()
