"""The three-objective page (one linked slider per objective, normalised onto the simplex) in headless Chromium: move
the sliders so each objective in turn has all the weight, check the alpha the page shows stays on the simplex, the
guided answers differ between the vertices while the base answer stays, and bad input (an empty prompt, every weight
at 0) is refused in the page with its message. A screenshot is kept as an artefact, as in test_browser.py.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed: pip install 'peft-pblora[demo]'")
pytest.importorskip("selenium", reason="the demo extra (selenium) is not installed: pip install 'peft-pblora[demo]'")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from peft_pblora.demo import Row  # noqa: E402

from .conftest import PROMPT, page_controls_loaded, served, tiny_demo_session  # noqa: E402

OBJECTIVES = ["count_w5", "count_w6", "count_w7"]


@pytest.fixture
def three_objective_page():
    session = tiny_demo_session(max_new_tokens=12, num_objectives=3)
    with served(session) as url:
        yield url, session


def shown_alpha(driver) -> list[float]:
    """The alpha under the sliders ("alpha: count_w5 0.50, count_w6 0.50, count_w7 0.00"), in objective order."""
    text = driver.find_element(By.ID, "alpha-label").text
    found = re.findall(r"(count_w\d) (-?\d+\.\d+)", text)
    assert [name for name, _ in found] == OBJECTIVES, text
    return [float(value) for _, value in found]


def assert_on_simplex(alpha: list[float]) -> None:
    assert all(weight >= 0 for weight in alpha), alpha
    assert sum(alpha) == pytest.approx(1.0, abs=0.015), alpha  # three weights shown with two decimals


def move(driver, wait: WebDriverWait, sliders: list[float], index: int, key: str) -> None:
    """One slider to an end with the keyboard (`sliders`: the page's slider values, updated); waits for the alpha
    line to show the sliders normalised, and checks it lies on the simplex."""
    driver.find_element(By.CSS_SELECTOR, f"#weight-{index} input[type=range]").send_keys(key)
    sliders[index] = 1.0 if key == Keys.END else 0.0
    expected = [value / sum(sliders) for value in sliders]
    wait.until(
        lambda d: shown_alpha(d) == pytest.approx(expected, abs=0.006),
        message=f"sliders {sliders}: expected alpha {expected}",
    )
    assert_on_simplex(shown_alpha(driver))


def answers(driver, wait: WebDriverWait, label: str) -> tuple[str, str]:
    """Press Generate and wait until the answers for the alpha described by `label` are done."""
    driver.find_element(By.ID, "generate").click()
    wait.until(lambda d: "Done" in (status := d.find_element(By.ID, "status").text) and label in status)
    value = lambda selector: driver.find_element(By.CSS_SELECTOR, selector).get_property("value")  # noqa: E731
    return value("#guided textarea"), value("#base textarea")


def test_linked_sliders_keep_alpha_on_the_simplex_and_each_vertex_steers_the_answer(
    browser, three_objective_page, tmp_path
):
    url, session = three_objective_page
    wait = WebDriverWait(browser, 30)
    browser.get(url)
    wait.until(page_controls_loaded)
    start = shown_alpha(browser)
    assert_on_simplex(start)
    assert start == pytest.approx([1 / 3] * 3, abs=0.006)  # equal sliders: the simplex's centre

    browser.find_element(By.ID, "generate").click()  # no prompt yet: refused in the page
    wait.until(lambda d: "Type a prompt first" in d.find_element(By.TAG_NAME, "body").text)
    browser.find_element(By.CSS_SELECTOR, "#prompt textarea").send_keys(PROMPT)

    # Each objective in turn gets all the weight: raise its slider first, then lower the others (never all at 0).
    sliders = [0.33, 0.33, 0.33]  # the page's start
    vertex_answers = []
    for top in range(3):
        move(browser, wait, sliders, top, Keys.END)
        for other in (index for index in range(3) if index != top):
            move(browser, wait, sliders, other, Keys.HOME)
        label = ", ".join(f"{name} {1.0 if index == top else 0.0:.2f}" for index, name in enumerate(OBJECTIVES))
        vertex_answers.append(answers(browser, wait, label))

    guided = [answer for answer, _ in vertex_answers]
    bases = {base for _, base in vertex_answers}
    assert all(guided) and len(set(guided)) == 3  # each vertex steers the answer its own way
    assert len(bases) == 1 and bases != {""}  # the unguided answer does not depend on alpha
    strength = session.default_strength  # the page starts at the run's strength
    vertices = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
    expected = session.generate([Row(PROMPT, alpha, strength) for alpha in vertices] + [session.unguided_row(PROMPT)])
    assert [*guided, *bases] == expected  # the page shows what the session decodes server-side

    screenshot = tmp_path / "demo_three_objectives.png"
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")

    # Every weight at 0 is no point of the simplex: the alpha line says so, and Generate is refused with a message.
    message = "Give at least one objective a weight above 0"
    browser.find_element(By.CSS_SELECTOR, "#weight-2 input[type=range]").send_keys(Keys.HOME)
    wait.until(lambda d: message in d.find_element(By.ID, "alpha-label").text)
    guided_before = browser.find_element(By.CSS_SELECTOR, "#guided textarea").get_property("value")
    browser.find_element(By.ID, "generate").click()
    toasts = "[data-testid=toast-body]"
    wait.until(lambda d: any(message in toast.text for toast in d.find_elements(By.CSS_SELECTOR, toasts)))
    assert browser.find_element(By.CSS_SELECTOR, "#guided textarea").get_property("value") == guided_before
