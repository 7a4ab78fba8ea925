"""The tiny end-to-end run the pipeline tests share: a saved tiny model, a word-counting objective and a short
conciseness, a few prompts and tokens, every stage in seconds."""

from __future__ import annotations

import pytest

from peft_pblora.evaluation import Conciseness
from peft_pblora.pipeline import training
from peft_pblora.pipeline.settings import SCORERS

from ..conftest import CountWord, tiny_chat_tokenizer, tiny_llama


@pytest.fixture
def tiny_run(tmp_path, monkeypatch):
    model_dir = tmp_path / "tiny-model"
    tiny_llama(seed=2).save_pretrained(model_dir)
    tiny_chat_tokenizer().save_pretrained(model_dir)
    monkeypatch.setitem(SCORERS, "count_w5", lambda: CountWord("w5"))
    monkeypatch.setitem(SCORERS, "conciseness", lambda: Conciseness(max_words=8))
    return dict(
        output_dir=str(tmp_path / "run"), base_model=str(model_dir), objectives=["count_w5", "conciseness"],
        train_prompts=6, test_prompts=3, samples_per_prompt=4, sample_tokens=8, sample_batch_size=8, epochs=1,
        batch_size=2, learning_rate=1e-3, grid_step=0.5, sweep_tokens=5, sweep_batch_size=4, max_length=64,
        target_modules=["q_proj", "v_proj"], show_progress=False,
    )  # fmt: skip


@pytest.fixture
def trainings(monkeypatch) -> list[int]:
    """Counts the trainings the run starts."""
    started: list[int] = []

    class CountingTrainer(training.PARMTrainer):
        def train(self, *args, **kwargs):
            started.append(1)
            return super().train(*args, **kwargs)

    monkeypatch.setattr(training, "PARMTrainer", CountingTrainer)
    return started
