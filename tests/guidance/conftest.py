"""One thread per test process for the tiny guidance models (see `single_thread`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def single_thread() -> Iterator[None]:
    """Run the tiny models on one thread: their kernels are microseconds long, and on a loaded machine waiting for a
    second thread costs them up to 40 times more than it saves (measured on the 2 shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
