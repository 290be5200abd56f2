"""Regenerate every picture in docs/images from the current code, deterministically.

    python docs/make_images.py           # rewrite every picture and its source (about 30 s)
    python docs/make_images.py --check   # recompute the sources only; exit 1 if one differs

Each picture ``NAME.png`` has its source beside it, a small text file that the tests and CI
compare with what the code produces now:

- ``NAME.dot``: a graph's DOT text, from the public ``tinygrad_rnn.viz.draw``;
- ``NAME.json``: the numbers a plot draws, from the example that draws it, rounded to
  4 significant digits (relative errors below 1e-6, rounding noise whose digits differ between
  machines, are recorded as ``"< 1e-6"``).

What is fixed, so that the same code gives the same pictures on any machine: the seeds (each
example's defaults); the graph renderer (``graphviz-pure``, the pip-installed port of Graphviz
with fonts of its own, whatever Graphviz the machine has); the plot fonts (matplotlib's bundled
DejaVu Sans, with the Chinese characters written in pinyin rather than in whatever CJK font a
machine may have). When the renderer, an example or a plot changes on purpose, rerun this
script and commit the pictures with their sources.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
EXAMPLES = ROOT / "examples"
RENDERER = "graphviz-pure"
SCREEN = (1600, 1000)  # the browser window of the page's screenshot, in px

sys.path.insert(0, str(EXAMPLES))
sys.path.insert(0, str(ROOT))

import _common  # noqa: E402
import char_rnn  # noqa: E402
import manual_bptt  # noqa: E402
import seq2seq_attention  # noqa: E402
import sine_wave  # noqa: E402
import vanishing_gradients  # noqa: E402

from tinygrad_rnn import cli, viz  # noqa: E402


class Picture(NamedTuple):
    """One file of docs/images and its source: ``file`` is written by ``draw`` (None: the
    source is the picture itself, as for an HTML page), ``source`` is compared by --check."""

    file: str  # e.g. "rnn_5steps.png"
    source: str  # the text stored as source_file
    source_file: str  # e.g. "rnn_5steps.dot"
    draw: Callable[[Path], None] | None


Pictures = list[Picture]


def rounded(value: Any, tiny: bool = False) -> Any:
    """Numbers to 4 significant digits (JSON-ready); with ``tiny``, values below 1e-6 as text."""
    if isinstance(value, dict):
        return {str(key): rounded(item, tiny) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [rounded(item, tiny) for item in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    number = float(value)
    if not np.isfinite(number):
        return str(number)
    if tiny and abs(number) < 1e-6:
        return "< 1e-6"
    return float(f"{number:.4g}")


def as_json(data: Any, tiny: bool = False) -> str:
    return json.dumps(rounded(data, tiny), ensure_ascii=False, indent=1) + "\n"


@contextlib.contextmanager
def fixed_fonts() -> Iterator[None]:
    """matplotlib's own DejaVu Sans for every plot, pinyin instead of Chinese characters."""
    plt = _common.plt
    find_font = _common._find_font
    _common._find_font = lambda text: None
    with plt.rc_context({"font.family": ["DejaVu Sans"], "svg.hashsalt": "tinygrad_rnn"}):
        try:
            yield
        finally:
            _common._find_font = find_font


def run_example(main: Callable[[list[str]], Any], args: list[str], out: Path) -> Any:
    """An example's main() with --out, its printing swallowed."""
    with contextlib.redirect_stdout(io.StringIO()), fixed_fonts():
        return main([*args, "--out", str(out)])


def plot(stem: str, source: str, folder: Path) -> Picture:
    """A plot an example wrote into ``folder``, with the JSON of its data."""
    return Picture(
        f"{stem}.png", source, f"{stem}.json", lambda target: shutil.copyfile(folder / f"{stem}.png", target)
    )


def graph_pictures(out: Path) -> Pictures:
    """The pictures of the renderer, with the arguments `tinygrad-rnn gallery` uses, so that
    both write the same files: each cell of cli.GALLERY plain and coloured by gradient, the
    interactive page of a 6-step LSTM, a screenshot of it half way through its backward
    player, and the GIF of a 5-step RNN's backward pass."""
    pictures: Pictures = []
    for stem, cell, steps, layers in cli.GALLERY:
        model, loss = cli.unrolled_loss(cell, steps, layers)
        shape = f"{layers} layers, " if layers > 1 else ""
        title = f"{cell.upper()} unrolled over {steps} steps ({shape}hidden size 8); loss = mean(h_n ** 2)"
        for suffix, show_grad in (("", False), ("_grad", True)):
            options = {"model": model, "show_grad": show_grad, "title": title}
            source = viz.draw(loss, **options).source

            def render(path: Path, loss: Any = loss, options: dict[str, Any] = options) -> None:
                viz.render(loss, path=path, backend=RENDERER, **options)

            pictures.append(Picture(f"{stem}{suffix}.png", source, f"{stem}{suffix}.dot", render))

    model, loss = cli.unrolled_loss("lstm", 6)
    page = viz.html(loss, path=out / "bptt_lstm_6steps.html", model=model, backend=RENDERER)
    html = page.read_text(encoding="utf-8")
    pictures.append(Picture("bptt_lstm_6steps.html", html, "bptt_lstm_6steps.html", None))
    shot = {"page": "bptt_lstm_6steps.html", "sha256 of the page": hashlib.sha256(html.encode()).hexdigest(),
            "window": list(SCREEN), "player": "half way through the backward pass"}  # fmt: skip
    pictures.append(
        Picture("bptt_page.png", as_json(shot), "bptt_page.json", lambda path: screenshot(page, path))
    )

    model, loss, terms = per_step_loss()
    page_terms = viz.html(
        loss, path=out / "bptt_per_step_20steps.html", model=model, per_step=terms, backend=RENDERER
    )
    html_terms = page_terms.read_text(encoding="utf-8")
    pictures.append(Picture("bptt_per_step_20steps.html", html_terms, "bptt_per_step_20steps.html", None))
    shot = {"page": "bptt_per_step_20steps.html",
            "sha256 of the page": hashlib.sha256(html_terms.encode()).hexdigest(), "window": list(SCREEN),
            "player": "half way through the backward pass, steps collapsed, (t, k) map in view"}  # fmt: skip
    pictures.append(
        Picture(
            "bptt_per_step_page.png",
            as_json(shot),
            "bptt_per_step_page.json",
            lambda path: screenshot(page_terms, path, collapse=True, show="termsection"),
        )
    )

    model, loss = cli.unrolled_loss("rnn", 5)
    frames = viz.draw(loss, model=model, show_grad=True).source  # the graph every frame shows

    def animate(path: Path, loss: Any = loss, model: Any = model) -> None:
        viz.animate(loss, path=path, model=model, backend=RENDERER)

    pictures.append(Picture("bptt_rnn_5steps.gif", frames, "bptt_rnn_5steps.dot", animate))
    return pictures


def per_step_loss() -> tuple[Any, Any, list[Any]]:
    """A 20-step LSTM with a prediction at every step, as in examples/sine_wave.py: the loss is
    the mean squared error over all steps, and its per-step terms (each step's error / T) are
    computed beside it, for the (t, k) heat map."""
    import tinygrad_rnn as tg
    from tinygrad_rnn import nn

    tg.manual_seed(0)
    steps = 20
    model = nn.LSTM(1, 8)
    head = nn.Linear(8, 1)
    time = tg.arange(steps + 1).reshape(steps + 1, 1, 1) * 0.3
    wave = time.sin()
    x, y = wave[:-1], wave[1:]
    prediction = head(model(x)[0])
    loss = ((prediction - y) ** 2).mean()
    loss.name = "loss"
    terms = [((prediction[t] - y[t]) ** 2).mean() / steps for t in range(steps)]
    return model, loss, terms


def screenshot(page: Path, path: Path, collapse: bool = False, show: str | None = None) -> None:
    """The page in headless Chromium, its backward player stopped half way (with ``collapse``,
    every step collapsed; with ``show``, the side panel scrolled to that element). Needs
    chromium, chromedriver and selenium (the test extra; CI installs the browser); without them
    the committed screenshot is kept, with a note."""
    browser, driver_path = (
        shutil.which("chromium") or shutil.which("chromium-browser"),
        shutil.which("chromedriver"),
    )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError:
        browser = None
    if not (browser and driver_path):
        print(f"note: kept {path.name}: a new screenshot needs chromium, chromedriver and selenium")
        return
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                     f"--window-size={SCREEN[0]},{SCREEN[1]}", "--disable-dev-shm-usage"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(page.as_uri())
        if collapse:
            driver.find_element(By.ID, "collapse").click()
        for _ in range(driver.execute_script("return window.bptt.phases()") // 2):
            driver.find_element(By.ID, "next").click()
        if show is not None:
            driver.execute_script(
                "const side = document.getElementById('side');"
                "side.scrollTop = document.getElementById(arguments[0]).offsetTop - side.offsetTop - 8",
                show,
            )
        driver.save_screenshot(str(path))
    finally:
        driver.quit()


def char_rnn_pictures(out: Path) -> Pictures:
    result = run_example(char_rnn.main, [], out / "char_rnn")
    loss = {
        "evaluations": [row._asdict() for row in result.rows],
        "step_losses": result.step_losses,
    }
    predictions = {"predicted": result.predicted, "probabilities (T, B, V)": result.probs}
    homework = run_example(char_rnn.main, ["--homework"], out / "homework").homework
    return [
        plot("char_rnn_loss", as_json(loss), out / "char_rnn"),
        plot("char_rnn_predictions", as_json(predictions), out / "char_rnn"),
        plot("char_rnn_homework", as_json([run._asdict() for run in homework]), out / "homework"),
    ]


def manual_bptt_pictures(out: Path) -> Pictures:
    result = run_example(manual_bptt.main, ["--truncate", "2"], out / "manual_bptt")
    plotted = {
        "bptt vs finite diff": result.errors["bptt vs finite diff"],
        "homework vs finite diff": result.errors["homework vs finite diff"],
        "truncate=2 vs full": result.truncated,
    }
    return [plot("manual_bptt_errors", as_json(plotted, tiny=True), result.path.parent)]


def sine_wave_pictures(out: Path) -> Pictures:
    result = run_example(sine_wave.main, ["--compare-torch"], out / "sine_wave")
    snapshots = [snap._asdict() for snap in result.snapshots]
    losses = {"losses": result.losses, "torch_losses": result.torch_losses}
    return [
        plot("sine_wave_loss", as_json(losses), out / "sine_wave"),
        plot("sine_wave_predictions", as_json(snapshots), out / "sine_wave"),
    ]


def vanishing_gradient_pictures(out: Path) -> Pictures:
    result = run_example(vanishing_gradients.main, [], out / "vanishing")
    return [plot("vanishing_gradients", as_json(result.norms), out / "vanishing")]


def seq2seq_pictures(out: Path) -> Pictures:
    result = run_example(seq2seq_attention.main, [], out / "seq2seq")
    # What the heat maps show, in terms that survive a change of BLAS build: 600 training steps
    # amplify the last bits of a matrix product (its summation order depends on the number of
    # threads), so neither the weights' digits nor the accuracy are recorded, nor where the end
    # token looks (anywhere will do).
    shown = [
        {
            "input": example.digits,
            "decoded": example.decoded,
            "attended": example.weights[:-1].argmax(1).tolist(),
        }
        for example in result.attention
    ]
    return [plot("seq2seq_attention_weights", as_json(shown), out / "seq2seq")]


PRODUCERS = (
    graph_pictures,
    char_rnn_pictures,
    manual_bptt_pictures,
    sine_wave_pictures,
    vanishing_gradient_pictures,
    seq2seq_pictures,
)


def all_pictures(out: Path) -> Pictures:
    return [picture for produce in PRODUCERS for picture in produce(out)]


def check(pictures: Pictures) -> list[str]:
    """Sources that differ from the ones just computed or are missing, pictures that are
    missing, and files in docs/images that no picture accounts for."""
    problems = []
    for picture in pictures:
        path = IMAGES / picture.source_file
        if not path.exists() or path.read_text(encoding="utf-8") != picture.source:
            problems.append(f"docs/images/{picture.source_file} differs from what the code produces now")
        if not (IMAGES / picture.file).exists():
            problems.append(f"docs/images/{picture.file} is missing")
    expected = {p.file for p in pictures} | {p.source_file for p in pictures}
    problems += [
        f"docs/images/{p.name} is made by nothing" for p in sorted(IMAGES.iterdir()) if p.name not in expected
    ]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Regenerate docs/images, or check that its sources are current."
    )
    parser.add_argument("--check", action="store_true", help="compare the sources only; write nothing")
    args = parser.parse_args(argv)
    viz.available_backend("png", backend=RENDERER)  # fails early, naming what to install
    with tempfile.TemporaryDirectory() as folder:
        pictures = all_pictures(Path(folder))
        if args.check:
            problems = check(pictures)
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                print("regenerate with: python docs/make_images.py (and commit docs/images)", file=sys.stderr)
            return 1 if problems else 0
        IMAGES.mkdir(exist_ok=True)
        for picture in pictures:
            (IMAGES / picture.source_file).write_text(picture.source, encoding="utf-8")
            if picture.draw is not None:
                picture.draw(IMAGES / picture.file)
            print(f"wrote docs/images/{picture.file} ({picture.source_file})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
