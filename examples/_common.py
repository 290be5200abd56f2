"""Helpers shared by the examples: the --out/--quick options, a progress bar, matplotlib without
a screen, and a font that can draw Chinese characters.

An example script imports this module as ``_common`` (its own folder is on ``sys.path`` when it
is run as ``python examples/NAME.py``).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

__all__ = [
    "add_common_arguments",
    "cjk_font",
    "output_dir",
    "plt",
    "progress",
    "require",
    "save_figure",
    "write",
]

EXTRA_HINT = 'pip install "tinygrad_rnn[examples]"  (from a clone: pip install -e ".[examples]")'


def require(module: str) -> ModuleType:
    """Import an optional dependency of the examples, or stop with a message naming the extra
    that installs it (not a bare ModuleNotFoundError)."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        script = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "this example"
        raise SystemExit(
            f"{script}: needs {module.split('.')[0]}, which is not installed ({error}).\n"
            f"Install the examples' extra: {EXTRA_HINT}"
        ) from None


@functools.cache
def _pyplot() -> Any:
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")  # write files only: no window, no display needed
    return require("matplotlib.pyplot")


class _LazyPyplot:
    """``matplotlib.pyplot``, imported when first used, so that ``--help`` works and a missing
    matplotlib is reported with the extra to install."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_pyplot(), name)


plt: Any = _LazyPyplot()

T = TypeVar("T")

# Fonts worth trying first, by family name (others are found by their glyphs).
_CJK_FAMILY_HINTS = ("cjk", "wenquanyi", "wqy", "han sans", "han serif", "droid sans fallback", "uming",
                     "ukai", "simhei", "yahei", "pingfang", "heiti", "hiragino", "ms gothic")  # fmt: skip
_CJK_FILE_HINTS = ("cjk", "wqy", "han", "droid", "uming", "ukai", "simhei", "yahei", "pingfang", "hei")
CJK_PACKAGE_HINT = "apt-get install fonts-noto-cjk on Debian/Ubuntu, or any font with Chinese glyphs"


def add_common_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every example has: ``--out DIR`` and ``--quick``."""
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("outputs"),
        help="directory for the pictures, created if missing (default: ./outputs)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small setting that finishes in a few seconds (used by the tests)",
    )
    return parser


def output_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def progress(iterable: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """A tqdm progress bar on stderr, shown when stderr is a terminal (not in logs or tests)."""
    tqdm = require("tqdm").tqdm
    return iter(tqdm(iterable, desc=description, total=total, disable=None, leave=False, unit="step"))


def write(line: str) -> None:
    """Print a line without breaking a progress bar that is being drawn."""
    require("tqdm").tqdm.write(line)


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG, close it, and print the path."""
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    print(f"wrote {path}")
    return path


def _covers(path: str, text: str) -> bool:
    _pyplot()
    from matplotlib.ft2font import FT2Font

    try:
        charmap = FT2Font(path).get_charmap()
    except (OSError, RuntimeError, ValueError):  # unreadable or unsupported font file
        return False
    return all(ord(char) in charmap for char in text)


def _candidate_files() -> list[str]:
    """Font files matplotlib knows, then fonts on the system that its cache may predate (a font
    installed after matplotlib first ran); likely CJK fonts first."""
    _pyplot()
    from matplotlib import font_manager

    known = [
        entry.fname for entry in font_manager.fontManager.ttflist if "last resort" not in entry.name.lower()
    ]
    hinted = [
        entry.fname
        for entry in font_manager.fontManager.ttflist
        if any(hint in entry.name.lower() for hint in _CJK_FAMILY_HINTS)
    ]
    system = font_manager.findSystemFonts()
    system_hinted = [f for f in system if any(hint in Path(f).name.lower() for hint in _CJK_FILE_HINTS)]
    # a regular weight first: a bold-only face makes matplotlib warn at every normal-weight label
    return sorted(dict.fromkeys(hinted + system_hinted + known + system), key=_weight_rank)


def _weight_rank(path: str) -> int:
    name = Path(path).name.lower()
    if "regular" in name:
        return 0
    return 2 if any(w in name for w in ("bold", "black", "heavy", "light", "thin", "medium")) else 1


@functools.cache
def _find_font(text: str) -> str | None:
    _pyplot()
    from matplotlib import font_manager

    for path in _candidate_files():
        if _covers(path, text):
            font_manager.fontManager.addfont(path)
            return str(font_manager.FontProperties(fname=path).get_name())
    return None


def cjk_font(text: str, shown_instead: str = "pinyin") -> str | None:
    """The family name of a font that draws every character of ``text``, set up as
    matplotlib's fallback behind its default font (which keeps drawing Latin text and math);
    None if the system has no such font, with a note saying that ``shown_instead`` is drawn."""
    family = _find_font(text)
    if family is None:
        print(f"note: no font on this system draws {text}; the pictures show {shown_instead} instead")
        print(f"      (for the characters: {CJK_PACKAGE_HINT})")
    elif family not in plt.rcParams["font.family"]:
        # matplotlib falls back from one entry of font.family to the next, glyph by glyph
        plt.rcParams["font.family"] = [*plt.rcParams["font.family"], family]
    return family
