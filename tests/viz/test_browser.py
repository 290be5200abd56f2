"""The page ``viz.html`` writes, opened in a real headless browser (Debian's chromium, driven by
selenium through chromium-driver): it loads without console errors, shows the graph, plays every
phase of the backward pass, shows a tooltip on hover, and runs nothing a hostile name smuggles
in. Screenshots go to ``$TEST_ARTIFACTS`` (default ``outputs/test-artifacts``) for a person to
look at. Skipped, with the reason, where no browser is installed; CI installs one (.ci/run)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "outputs" / "test-artifacts")) / "browser"


def _browser() -> tuple[str, str] | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        browser = shutil.which(name)
        if browser:
            break
    else:
        return None
    driver = shutil.which("chromedriver")
    return (browser, driver) if driver else None


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install selenium)"
    )
    found = _browser()
    if found is None:
        pytest.skip("no chromium and chromedriver on PATH (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1000"):
        options.add_argument(argument)
    options.add_argument("--disable-dev-shm-usage")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(found[1]), options=options)
    yield browser
    browser.quit()


def _lstm_page(path: Path, steps: int = 6, **options: object) -> Path:
    tg.manual_seed(0)
    model = nn.LSTM(3, 4, num_layers=2)
    _, (h_n, _) = model(tg.randn(steps, 2, 3))
    loss = (h_n * h_n).mean()
    return viz.html(loss, path=path, model=model, **options)


def _console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / name))


def test_the_page_loads_plays_every_phase_and_shows_tooltips(driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    page = _lstm_page(tmp_path / "lstm.html", steps=12)
    driver.get(page.as_uri())
    assert _console_errors(driver) == []
    svg = driver.find_element(By.CSS_SELECTOR, "#canvas svg")
    assert svg.is_displayed() and svg.size["width"] > 100 and svg.size["height"] > 50
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('#canvas text')).map(t => t.textContent)"
    )
    assert "t=1" in labels and "t=12" in labels and any(t.startswith("… 10 steps") for t in labels)
    _shot(driver, "01_loaded.png")

    phases = driver.execute_script("return window.bptt.phases()")
    # two layers of 12 steps; the loss, stacking h_n, layer 1's input projection, layer 0's
    # output stack (read by that projection) and layer 0's input projection
    assert phases == 2 * 12 + 5
    seen = []
    next_button = driver.find_element(By.ID, "next")
    for _ in range(phases):
        seen.append(driver.execute_script("return window.bptt.frame()"))
        next_button.click()
        if len(seen) == phases // 2:
            _shot(driver, "02_half_way.png")
    assert seen == list(range(phases)) and driver.find_element(By.ID, "counter").text == "done"
    _shot(driver, "03_done.png")
    points = driver.find_elements(By.CSS_SELECTOR, "#chartsvg circle.point")
    assert len(points) == 24, "the chart holds ||dL/dh_t|| for every step of both layers"
    cells = driver.find_elements(By.CSS_SELECTOR, "#heattable td:not(.name)")
    assert len(cells) == 2 * 2 * 12, "weight_hh and bias_hh of both layers, one cell per step"

    driver.find_element(By.ID, "first").click()
    assert driver.execute_script("return window.bptt.frame()") == 0
    pending = driver.find_elements(By.CSS_SELECTOR, "g.node.pending")
    assert pending, "at the start of the walk, the gradient has not reached most nodes"

    node = driver.execute_script(
        "return Array.from(document.querySelectorAll('g.node')).find("
        "g => g.querySelector('text') && g.querySelector('text').textContent.startsWith('weight_hh_l0'))"
    )
    ActionChains(driver).move_to_element(node).perform()
    tip = driver.find_element(By.ID, "tip")
    assert tip.is_displayed() and "weight_hh_l0" in tip.text and "gradient norm" in tip.text
    assert "dtype: float32" in tip.text and "values: min" in tip.text
    _shot(driver, "04_tooltip.png")

    driver.find_element(By.ID, "collapse").click()
    hidden = driver.find_elements(By.CSS_SELECTOR, "g.node.hidden")
    assert hidden and driver.find_element(By.ID, "collapse").text == "expand all steps"
    _shot(driver, "05_collapsed.png")
    driver.find_element(By.ID, "collapse").click()
    assert not driver.find_elements(By.CSS_SELECTOR, "g.node.hidden")
    assert _console_errors(driver) == []


def test_hostile_names_run_nothing_in_the_page(driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    tg.manual_seed(0)
    weight = tg.randn(3, 3, requires_grad=True)
    x = tg.randn(2, 3)
    hostile = '</script><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    with tg.scope('<svg onload="window.pwned=3">'), tg.scope("t=1"):
        h = (x @ weight).tanh()
    h.name = hostile
    loss = (h * h).sum()
    link = '<a href="javascript:window.pwned=4">w</a>'
    page = viz.html(loss, path=tmp_path / "hostile.html", params={link: weight}, title=hostile)
    driver.get(page.as_uri())
    assert driver.execute_script("return window.pwned === undefined")
    assert driver.execute_script("return document.scripts.length") == 2, "the data block and the page's own"
    active = "#canvas a[href], #canvas [onerror], #canvas [onload], img, #canvas script"
    assert driver.execute_script(f"return document.querySelectorAll('{active}').length") == 0
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('#canvas text')).map(t => t.textContent)"
    )
    assert link in labels[0] or any(label.startswith(link) for label in labels), labels
    assert '<svg onload="window.pwned=3">' in labels, "the scope's name is drawn as typed"
    assert driver.find_element(By.ID, "title").text == hostile
    assert _console_errors(driver) == []
    _shot(driver, "06_hostile_names.png")
