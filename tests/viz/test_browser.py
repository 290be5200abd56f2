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
    page = viz.html(
        loss, path=tmp_path / "hostile.html", params={link: weight}, title=hostile, per_step=[loss]
    )
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
    option = driver.find_element(By.CSS_SELECTOR, "#termparam option").text
    assert option.startswith(link + " ("), "the per-step map names the parameter as typed"
    assert _console_errors(driver) == []
    _shot(driver, "06_hostile_names.png")


def _per_step_page(
    path: Path, kind: str = "RNN", steps: int = 8, fold: bool | int = False
) -> tuple[Path, object]:
    """A layer with an output at every step (a sine-wave-like regression): the loss is the
    mean over steps and batch, and its per-step terms are computed beside it."""
    tg.manual_seed(0)
    model = getattr(nn, kind)(3, 5).double()
    head = nn.Linear(5, 1).double()
    x, y = tg.randn(steps, 2, 3).double(), tg.randn(steps, 2, 1).double()
    output, _ = model(x)
    prediction = head(output)
    loss = ((prediction - y) ** 2).mean()
    terms = [((prediction[t] - y[t]) ** 2).mean() / steps for t in range(steps)]
    trace = viz.trace_backward(loss, model=model, per_step=terms)
    return viz.html(loss, path=path, model=model, per_step=terms, fold=fold), trace


def test_the_per_step_heat_map_shows_the_double_sum(driver, tmp_path: Path) -> None:
    import numpy as np
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page, trace = _per_step_page(tmp_path / "per_step.html")
    driver.get(page.as_uri())
    assert _console_errors(driver) == []
    assert driver.find_element(By.ID, "termsection").is_displayed()
    options = [o.text for o in Select(driver.find_element(By.ID, "termparam")).options]
    assert [o.split(" ")[0] for o in options] == ["weight_hh_l0", "bias_hh_l0"]
    driver.execute_script("window.bptt.show(window.bptt.phases())")  # the walk done: nothing faded

    def cells() -> list[list[float]]:
        return driver.execute_script(
            "return Array.from(document.querySelectorAll('#termsvg rect.cell')).map(r => "
            "[Number(r.dataset.t), Number(r.dataset.k), Number(r.dataset.v), "
            "Number(r.getAttribute('opacity'))])"
        )

    for name, option in (("weight_hh_l0", 0), ("bias_hh_l0", 1)):
        Select(driver.find_element(By.ID, "termparam")).select_by_index(option)
        drawn = cells()
        expected = {
            (t, k): np.linalg.norm(array)
            for t, entry in enumerate(trace.per_step, 1)
            for (_, k), array in entry[name].items()
            if np.linalg.norm(array) > 0
        }
        assert {(t, k) for t, k, _, _ in drawn} == set(expected), name
        assert all(k <= t for t, k, _, _ in drawn), "the upper triangle (k > t) is exactly zero, so empty"
        for t, k, value, opacity in drawn:
            assert value == pytest.approx(expected[t, k], rel=1e-3) and opacity == 1
    Select(driver.find_element(By.ID, "termparam")).select_by_index(0)
    assert len(cells()) == 8 * 9 // 2 - 8, "k <= t, except k = 1 (h_0 = 0)"

    cell = driver.find_element(By.CSS_SELECTOR, "#termsvg rect.cell[data-t='5'][data-k='3']")
    ActionChains(driver).move_to_element(cell).perform()
    assert "L_5 through step 3" in driver.find_element(By.ID, "termreadout").text

    driver.execute_script("window.bptt.show(3)")  # mid-walk: steps the walk has not reached are faded
    faded = {k for _, k, _, opacity in cells() if opacity < 1}
    reached = {k for _, k, _, opacity in cells() if opacity == 1}
    assert faded and reached and max(faded) < min(reached), "the walk goes from the last step back"
    _shot(driver, "07_per_step_heat_map.png")
    driver.execute_script("document.getElementById('termsection').scrollIntoView()")
    _shot(driver, "08_per_step_heat_map_scrolled.png")
    assert _console_errors(driver) == []


_GEOMETRY = """
const svg = document.querySelector('#canvas svg'), graph = svg.querySelector('g.graph');
const shown = (g) => getComputedStyle(g).display !== 'none' && !g.closest('.hidden');
const boxOf = (g) => {
  const b = g.getBBox(), r = graph.getCTM().inverse().multiply(g.getCTM());
  const p = new DOMPoint(b.x, b.y).matrixTransform(r);
  const q = new DOMPoint(b.x + b.width, b.y + b.height).matrixTransform(r);
  return [p.x, p.y, q.x, q.y];
};
const byTitle = (selector) => {
  const found = {};
  document.querySelectorAll(selector).forEach((g) => { found[g.querySelector('title').textContent] = g; });
  return found;
};
const titles = byTitle('#canvas g.node'), clusters = byTitle('#canvas g.cluster');
const hidden = Object.keys(titles).filter((id) => !shown(titles[id]));
const bad = [];
document.querySelectorAll('#canvas g.edge').forEach((g) => {
  if (!shown(g)) return;
  let ends;
  if (g.classList.contains('synthetic')) ends = [g.dataset.from, g.dataset.to];
  else ends = g.querySelector('title').textContent.split('->');
  for (const end of ends) {
    const target = titles[end] || clusters[end];
    if (!target || !shown(target)) bad.push('edge ' + ends.join('->') + ' ends at hidden ' + end);
  }
  const arrow = g.querySelector('polygon');
  if (!arrow) return;
  const [x0, y0, x1, y1] = boxOf(arrow), cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const near = ends.map((e) => titles[e] || clusters[e]).filter(Boolean).some((t) => {
    const [a, b, c, d] = boxOf(t); return a - 12 <= cx && cx <= c + 12 && b - 12 <= cy && cy <= d + 12; });
  if (!near) bad.push('arrow of ' + ends.join('->') + ' is on neither end');
});
const b = graph.getBBox();
const widths = {};
for (const [name, g] of Object.entries(clusters)) if (shown(g)) widths[name] = g.getBBox().width;
return { clusters: widths, width: b.width, height: b.height, svgWidth: svg.width.baseVal.value,
         hidden: hidden.length, bad };
"""


@pytest.mark.parametrize("fold", [False, True])
def test_collapsing_steps_lays_the_graph_out_again(driver, tmp_path: Path, fold: bool, renderer: str) -> None:
    """On the SVG of either renderer (the system dot, graphviz-pure)."""
    from selenium.webdriver.common.by import By

    if fold:
        page = _lstm_page(tmp_path / "lstm.html", steps=12)
    else:
        page, _ = _per_step_page(tmp_path / "rnn.html", steps=6)
    driver.get(page.as_uri())
    before = driver.execute_script(_GEOMETRY)
    assert before["hidden"] == 0 and before["bad"] == [], before["bad"]

    # one step: its box shrinks, and what lies right of it moves left
    label = driver.execute_script(  # a click on the step's label, as a person would
        "return Array.from(document.querySelectorAll('#canvas g.cluster > text'))"
        ".find(t => t.textContent === 't=1')"
    )
    first = driver.execute_script("return arguments[0].parentNode", label)
    row = driver.execute_script(
        "return window.bptt.rowOf[arguments[0].querySelector('title').textContent]", first
    )
    label.click()
    one = driver.execute_script(_GEOMETRY)
    assert one["hidden"] > 0 and one["bad"] == [], one["bad"]
    assert one["clusters"][row] < before["clusters"][row] - 100, "its layer's box is narrower"
    assert one["width"] <= before["width"] + 0.5
    if not fold:  # one layer: the whole picture is narrower
        assert one["width"] < before["width"] - 100
    assert "collapsed" in first.get_attribute("class")
    _shot(driver, f"09_one_step_collapsed_fold_{fold}_{renderer}.png")

    driver.find_element(By.ID, "collapse").click()  # every step
    every = driver.execute_script(_GEOMETRY)
    assert every["bad"] == [], every["bad"]
    assert every["width"] < one["width"] and every["width"] < 0.75 * before["width"], (before, every)
    assert every["svgWidth"] < before["svgWidth"], "the picture itself is smaller, not only its content"
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('#canvas g.cluster.collapsed text.ops'))"
        ".map(t => t.textContent)"
    )
    assert labels and all(label.endswith(" ops") for label in labels)
    driver.execute_script("window.bptt.show(Math.floor(window.bptt.phases() / 2))")
    assert driver.execute_script(_GEOMETRY)["bad"] == []
    _shot(driver, f"10_all_steps_collapsed_fold_{fold}_{renderer}.png")

    driver.find_element(By.ID, "collapse").click()  # expand: the original layout again
    again = driver.execute_script(_GEOMETRY)
    assert again["hidden"] == 0 and again["bad"] == []
    assert again["width"] == pytest.approx(before["width"], abs=0.5)
    assert again["svgWidth"] == pytest.approx(before["svgWidth"], abs=0.5)
    assert _console_errors(driver) == []


def test_norm_bars_are_double_bars_not_two_letters_l(driver, tmp_path: Path) -> None:
    """U+2016 in the page's sans-serif (Liberation Sans for Helvetica) is two short strokes
    that read as "ll"; the page draws it in a font whose double bar reaches below the
    baseline. Measured on the rendered glyphs, in the fonts the page actually uses."""
    page = _lstm_page(tmp_path / "lstm.html", steps=4)
    driver.get(page.as_uri())
    measured = driver.execute_script(
        """
        const bar = document.querySelector('#charttitle .nb');
        const ctx = document.createElement('canvas').getContext('2d');
        const measure = (el, s) => {
          const style = getComputedStyle(el);
          ctx.font = style.fontWeight + ' 40px ' + style.fontFamily;
          const m = ctx.measureText(s);
          return [m.width, m.actualBoundingBoxAscent, m.actualBoundingBoxDescent];
        };
        const title = document.getElementById('charttitle');
        const legend = Array.from(document.querySelectorAll('#canvas text tspan.nb'));
        return { title: title.textContent, bar: measure(bar, '‖'), ll: measure(title, 'll'),
                 family: getComputedStyle(bar).fontFamily, legend: legend.length,
                 legendFamily: legend.length ? getComputedStyle(legend[0]).fontFamily : '' };
        """
    )
    assert measured["title"].startswith("‖∂loss/∂h_t‖"), "the text is still the norm, for copy and search"
    assert measured["family"].startswith('"DejaVu Sans"') and "DejaVu Sans" in measured["legendFamily"]
    assert measured["legend"] == 2, "the legend's ‖∂loss/∂tensor‖ in the picture too"
    bar, ll = measured["bar"], measured["ll"]
    # a double bar descends below the baseline and stands taller than "ll" (which does not descend)
    assert bar[2] > 4 and ll[2] < 1, measured
    assert bar[1] + bar[2] > 1.1 * (ll[1] + ll[2]), measured
