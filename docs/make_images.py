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
import io
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
EXAMPLES = ROOT / "examples"
RENDERER = "graphviz-pure"

sys.path.insert(0, str(EXAMPLES))
sys.path.insert(0, str(ROOT))

import _common  # noqa: E402
import char_rnn  # noqa: E402
import manual_bptt  # noqa: E402
import sine_wave  # noqa: E402
import vanishing_gradients  # noqa: E402

from tinygrad_rnn import cli, viz  # noqa: E402

# name -> (source text, a function writing the picture to a path)
Pictures = dict[str, tuple[str, Callable[[Path], None] | None]]


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


def copier(path: Path) -> Callable[[Path], None]:
    return lambda target: shutil.copyfile(path, target)


def graph_pictures(out: Path) -> Pictures:
    """The README's unrolled RNN, as `tinygrad-rnn graph --cell rnn --steps 5 [--grad]` draws it."""
    pictures: Pictures = {}
    for name, show_grad in (("rnn_5steps", False), ("rnn_5steps_grad", True)):
        _, loss = cli.unrolled_loss("rnn", 5)
        title = "RNN unrolled over 5 steps (hidden size 8); loss = mean(h_n ** 2)"
        if show_grad:
            title += "; colour: norm of d loss / d tensor"
        source = viz.draw(loss, show_grad=show_grad, title=title).source

        def render(path: Path, loss: Any = loss, show_grad: bool = show_grad, title: str = title) -> None:
            viz.render(loss, path=path, backend=RENDERER, show_grad=show_grad, title=title)

        pictures[name] = (source, render)
    return pictures


def char_rnn_pictures(out: Path) -> Pictures:
    result = run_example(char_rnn.main, [], out / "char_rnn")
    loss = {
        "evaluations": [row._asdict() for row in result.rows],
        "step_losses": result.step_losses,
    }
    predictions = {"predicted": result.predicted, "probabilities (T, B, V)": result.probs}
    homework = run_example(char_rnn.main, ["--homework"], out / "homework").homework
    return {
        "char_rnn_loss": (as_json(loss), copier(out / "char_rnn" / "char_rnn_loss.png")),
        "char_rnn_predictions": (as_json(predictions), copier(out / "char_rnn" / "char_rnn_predictions.png")),
        "char_rnn_homework": (
            as_json([run._asdict() for run in homework]),
            copier(out / "homework" / "char_rnn_homework.png"),
        ),
    }


def manual_bptt_pictures(out: Path) -> Pictures:
    result = run_example(manual_bptt.main, ["--truncate", "2"], out / "manual_bptt")
    plotted = {
        "bptt vs finite diff": result.errors["bptt vs finite diff"],
        "homework vs finite diff": result.errors["homework vs finite diff"],
        "truncate=2 vs full": result.truncated,
    }
    return {"manual_bptt_errors": (as_json(plotted, tiny=True), copier(result.path))}


def sine_wave_pictures(out: Path) -> Pictures:
    result = run_example(sine_wave.main, ["--compare-torch"], out / "sine_wave")
    snapshots = [snap._asdict() for snap in result.snapshots]
    return {
        "sine_wave_loss": (
            as_json({"losses": result.losses, "torch_losses": result.torch_losses}),
            copier(out / "sine_wave" / "sine_wave_loss.png"),
        ),
        "sine_wave_predictions": (
            as_json(snapshots),
            copier(out / "sine_wave" / "sine_wave_predictions.png"),
        ),
    }


def vanishing_gradient_pictures(out: Path) -> Pictures:
    result = run_example(vanishing_gradients.main, [], out / "vanishing")
    return {
        "vanishing_gradients": (as_json(result.norms), copier(out / "vanishing" / "vanishing_gradients.png"))
    }


PRODUCERS = (
    graph_pictures,
    char_rnn_pictures,
    manual_bptt_pictures,
    sine_wave_pictures,
    vanishing_gradient_pictures,
)


def source_path(name: str, source: str) -> Path:
    return IMAGES / f"{name}.{'json' if source.lstrip().startswith(('{', '[')) else 'dot'}"


def all_pictures(out: Path) -> Pictures:
    pictures: Pictures = {}
    for produce in PRODUCERS:
        pictures.update(produce(out))
    return pictures


def check(pictures: Pictures) -> list[str]:
    """Names whose committed source differs from the one just computed, or is missing; and
    files in docs/images that no picture accounts for."""
    problems = []
    for name, (source, _) in pictures.items():
        path = source_path(name, source)
        if not path.exists() or path.read_text(encoding="utf-8") != source:
            problems.append(f"docs/images/{path.name} differs from what the code produces now")
        if not (IMAGES / f"{name}.png").exists():
            problems.append(f"docs/images/{name}.png is missing")
    expected = {f"{name}.png" for name in pictures} | {
        source_path(n, s).name for n, (s, _) in pictures.items()
    }
    problems += [
        f"docs/images/{p.name} is made by nothing" for p in IMAGES.iterdir() if p.name not in expected
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
        for name, (source, draw) in pictures.items():
            source_path(name, source).write_text(source, encoding="utf-8")
            if draw is not None:
                draw(IMAGES / f"{name}.png")
            print(f"wrote docs/images/{name}.png and {source_path(name, source).name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
