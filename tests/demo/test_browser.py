"""The demo page in a real headless Chromium (Selenium): refuse an empty prompt, type a prompt, move the slider to each
end, and see the guided answers differ while the base model's answer stays; a screenshot is kept as an artefact.

Chromium and chromedriver come from Debian's packages (install_browser.sh installs them when missing); the test is
skipped, saying why, only where they cannot be installed. A tiny random model keeps it fast.
"""

from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed: pip install 'peft-pblora[demo]'")
pytest.importorskip("selenium", reason="the demo extra (selenium) is not installed: pip install 'peft-pblora[demo]'")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from .conftest import PROMPT, page_controls_loaded, served, tiny_demo_session  # noqa: E402

SCREENSHOT_COPY = "PEFT_PBLORA_DEMO_SCREENSHOT"  # set to a path to keep a copy of the screenshot (the docs' image)


@pytest.fixture
def page_url():
    session = tiny_demo_session(max_new_tokens=12)
    with served(session) as url:
        yield url, session


def text_of(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).get_property("value")


def generate_at_end(driver, wait: WebDriverWait, key: str, label: str) -> tuple[str, str]:
    """Move the slider to one end with the keyboard, press Generate, wait until the answers are done."""
    driver.find_element(By.CSS_SELECTOR, "#alpha input[type=range]").send_keys(key)
    wait.until(lambda d: label in d.find_element(By.ID, "alpha-label").text)
    driver.find_element(By.ID, "generate").click()
    wait.until(
        lambda d: "Done" in d.find_element(By.ID, "status").text and label in d.find_element(By.ID, "status").text
    )
    return text_of(driver, "#guided textarea"), text_of(driver, "#base textarea")


def test_the_page_steers_the_answer_with_the_slider_and_keeps_the_base_answer(browser, page_url, tmp_path):
    url, session = page_url
    wait = WebDriverWait(browser, 30)
    browser.get(url)
    wait.until(page_controls_loaded)

    browser.find_element(By.ID, "generate").click()  # no prompt yet: refused in the page
    wait.until(lambda d: "Type a prompt first" in d.find_element(By.TAG_NAME, "body").text)

    browser.find_element(By.CSS_SELECTOR, "#prompt textarea").send_keys(PROMPT)
    first_guided, first_base = generate_at_end(browser, wait, Keys.END, "count_w5 1.00, count_w6 0.00")
    last_guided, last_base = generate_at_end(browser, wait, Keys.HOME, "count_w5 0.00, count_w6 1.00")
    assert first_guided and last_guided and first_base
    assert first_guided != last_guided  # the trade-off moved the answer
    assert first_base == last_base  # the unguided answer does not depend on alpha
    assert [first_guided, first_base] == session.generate(
        [session.unguided_row(PROMPT).__class__(PROMPT, (1.0, 0.0), 8.0), session.unguided_row(PROMPT)]
    )

    browser.find_element(By.ID, "front").click()  # every grid alpha in one batch, with scores
    wait.until(lambda d: "base (unguided)" in d.find_element(By.ID, "front-table").text)
    table = browser.find_element(By.ID, "front-table").text
    assert "count_w5 0.50, count_w6 0.50" in table and last_base in table

    screenshot = tmp_path / "demo.png"
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    if os.environ.get(SCREENSHOT_COPY):
        shutil.copy(screenshot, os.environ[SCREENSHOT_COPY])
    print(f"screenshot: {screenshot}")
