"""A tiny in-memory demo session (random models, word-level tokenizer): fast and offline, shared by the demo tests."""

from __future__ import annotations

import pytest
import torch

from peft_pblora import preference_grid
from peft_pblora.demo import DemoSession

from ..conftest import CountWord, make_peft_model, tiny_chat_tokenizer

PROMPT = "w10 w11 w12 w13"


def tiny_demo_session(reference="base", max_new_tokens: int = 8) -> DemoSession:
    """A PARM (strong random PBLoRA adapter) on a copy of the tiny base, guiding that base as a run's demo would."""
    parm, base = make_peft_model("llama", seed=0, lora_alpha=30)
    return DemoSession(
        base=base,
        tokenizer=tiny_chat_tokenizer(),
        parm=parm.eval(),
        objectives=["count_w5", "count_w6"],
        guidance_beta=0.125,
        reference=reference,
        scorers=[CountWord("w5"), CountWord("w6")],
        grid=preference_grid(2, 0.5),
        max_new_tokens=max_new_tokens,
        sweep={
            "points": [
                {"alpha": [1.0, 0.0], "scores": {"count_w5": 0.9, "count_w6": 0.1}},
                {"alpha": [0.5, 0.5], "scores": {"count_w5": 0.5, "count_w6": 0.6}},
                {"alpha": [0.0, 1.0], "scores": {"count_w5": 0.2, "count_w6": 0.8}},
            ],
            "base": {"scores": {"count_w5": 0.3, "count_w6": 0.3}},
        },
    )


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread for the tiny models: on a loaded 2-core machine two threads made a 12-token answer take
    seconds instead of a fraction of one (the same answers either way)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def session() -> DemoSession:
    return tiny_demo_session()
