"""Shared by the demo tests: a tiny in-memory demo session (random models, word-level tokenizer), fast and offline,
for two or three objectives; and, for the browser tests, headless Chromium and the page served on a free port."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from peft_pblora import preference_grid
from peft_pblora.demo import DemoSession

from ..conftest import CountWord, make_peft_model, tiny_chat_tokenizer

PROMPT = "w10 w11 w12 w13"
INSTALL_BROWSER = Path(__file__).with_name("install_browser.sh")

TWO_OBJECTIVE_SWEEP = {
    "points": [
        {"alpha": [1.0, 0.0], "scores": {"count_w5": 0.9, "count_w6": 0.1}},
        {"alpha": [0.5, 0.5], "scores": {"count_w5": 0.5, "count_w6": 0.6}},
        {"alpha": [0.0, 1.0], "scores": {"count_w5": 0.2, "count_w6": 0.8}},
    ],
    "base": {"scores": {"count_w5": 0.3, "count_w6": 0.3}},
}


def three_objective_sweep() -> dict:
    """A made-up sweep.json for count_w5/w6/w7 on the grid of step 0.5: each objective scores its alpha share."""
    names = ["count_w5", "count_w6", "count_w7"]
    points = [
        {"alpha": alpha, "scores": {name: 0.1 + 0.8 * weight for name, weight in zip(names, alpha, strict=True)}}
        for alpha in preference_grid(3, 0.5)
    ]
    return {"points": points, "base": {"scores": dict.fromkeys(names, 0.3)}}


def tiny_demo_session(reference="base", max_new_tokens: int = 8, num_objectives: int = 2) -> DemoSession:
    """A PARM (strong random PBLoRA adapter) on a copy of the tiny base, guiding that base as a run's demo would;
    two objectives (count_w5, count_w6) or three (and count_w7), each scored by counting its word."""
    if num_objectives not in (2, 3):
        raise ValueError(f"the tiny demo session has 2 or 3 objectives, not {num_objectives}")
    words = ["w5", "w6", "w7"][:num_objectives]
    parm, base = make_peft_model("llama", seed=0, lora_alpha=30, num_preferences=num_objectives)
    return DemoSession(
        base=base,
        tokenizer=tiny_chat_tokenizer(),
        parm=parm.eval(),
        objectives=[f"count_{word}" for word in words],
        guidance_beta=0.125,
        reference=reference,
        scorers=[CountWord(word) for word in words],
        grid=preference_grid(num_objectives, 0.5),
        max_new_tokens=max_new_tokens,
        sweep=TWO_OBJECTIVE_SWEEP if num_objectives == 2 else three_objective_sweep(),
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


def browser_paths() -> tuple[str, str]:
    """Chromium and chromedriver, installed from Debian's packages if missing; skips saying why if impossible."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        done = subprocess.run(["bash", str(INSTALL_BROWSER)], capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            pytest.skip(f"no Chromium and it could not be installed: {done.stderr.strip()[-500:]}")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("chromium or chromedriver is still missing after install_browser.sh")
    return chromium, driver


@pytest.fixture
def browser():
    """Headless Chromium driven by Selenium (the browser tests import Selenium, or skip, before this runs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1700"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def page_controls_loaded(driver) -> bool:
    """The page's prompt box and generate button are both there: Gradio renders its components one after another,
    so on a loaded machine the first can appear well before the second."""
    return bool(
        driver.find_elements("css selector", "#prompt textarea") and driver.find_elements("css selector", "#generate")
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(session: DemoSession, max_batch_size: int = 4) -> Iterator[str]:
    """The session's page served on a free local port for the length of the block; yields its URL."""
    from peft_pblora.demo.app import build_app

    page = build_app(session, max_batch_size=max_batch_size)
    port = free_port()
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        page.close()
        page.batcher.close()
