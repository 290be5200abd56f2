"""Rendering DOT to files with the system ``dot`` and with the pip-only ``graphviz-pure``."""

from __future__ import annotations

import shutil
import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

from tinygrad_rnn.viz import backends
from tinygrad_rnn.viz.backends import (
    BACKEND_ENV_VAR,
    GraphvizNotFoundError,
    available_backend,
    render_source,
)

from .conftest import hide_system_dot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"

STEP_GRAPH = """digraph unrolled {
  rankdir=LR;
  node [shape=box];
  subgraph cluster_t0 { label="time step 0"; x0 [label="x_0"]; h0 [label="tanh h_0"]; }
  subgraph cluster_t1 { label="time step 1"; x1 [label="x_1"]; h1 [label="tanh h_1"]; }
  weight_hh [shape=ellipse, label="weight_hh (8, 8)"];
  x0 -> h0; x1 -> h1; h0 -> h1; weight_hh -> h0; weight_hh -> h1;
}
"""
STEP_LABELS = ("time step 0", "time step 1", "tanh h_1", "weight_hh (8, 8)")
LONG_LABEL = "matmul(hidden, weight_hh) + bias_hh at every time step"


def text_only_graph(label: str) -> str:
    """One borderless node: every dark pixel of its picture belongs to the label's text."""
    return f'digraph {{ node [shape=plaintext, fontsize=20]; a [label="{label}"]; }}'


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which must come first."""
    assert data[:8] == PNG_SIGNATURE, f"not a PNG: starts with {data[:8]!r}"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (kind, length) == (b"IHDR", 13), f"first chunk is {kind!r} of {length} bytes"
    return struct.unpack(">II", data[16:24])


def png_dark_columns(data: bytes) -> list[int]:
    """x of every column holding an opaque dark pixel, for an 8-bit RGB/RGBA PNG."""
    width, height = png_size(data)
    bit_depth, colour_type, interlace = data[24], data[25], data[28]
    assert (bit_depth, colour_type, interlace) in {(8, 2, 0), (8, 6, 0)}, (
        f"reader handles 8-bit RGB/RGBA non-interlaced PNGs, got depth {bit_depth}, "
        f"colour type {colour_type}, interlace {interlace}"
    )
    channels = 4 if colour_type == 6 else 3
    idat, offset = b"", 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"IDAT":
            idat += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    dark = set()
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - up_left
                dl, du, dul = abs(guess - left), abs(guess - up), abs(guess - up_left)
                nearest = left if dl <= du and dl <= dul else up if du <= dul else up_left
                row[i] = (row[i] + nearest) & 0xFF
        for x in range(width):
            pixel = row[x * channels : (x + 1) * channels]
            opaque = channels == 3 or pixel[3] >= 128
            if opaque and max(pixel[:3]) < 100:
                dark.add(x)
        previous = row
    return sorted(dark)


def test_png_has_signature_and_sensible_size(renderer: str, tmp_path: Path) -> None:
    path = render_source(STEP_GRAPH, tmp_path / "graph.png")
    width, height = png_size(path.read_bytes())
    # Left to right, three ranks of labelled boxes: wider than tall, a few hundred pixels.
    assert 200 <= width <= 2000 and 50 <= height <= 1000, (width, height)
    assert width > height, (width, height)


def test_svg_parses_and_holds_labels(renderer: str, tmp_path: Path) -> None:
    path = render_source(STEP_GRAPH, tmp_path / "graph.svg")
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NAMESPACE}svg"
    texts = {element.text for element in root.iter(f"{SVG_NAMESPACE}text")}
    assert set(STEP_LABELS) <= texts, texts


def test_png_draws_label_text(renderer: str, tmp_path: Path) -> None:
    blank = render_source(text_only_graph(" "), tmp_path / "blank.png").read_bytes()
    assert png_dark_columns(blank) == []
    labelled = render_source(text_only_graph(LONG_LABEL), tmp_path / "label.png")
    data = labelled.read_bytes()
    width, _ = png_size(data)
    columns = png_dark_columns(data)
    # Glyphs spread over the whole label, with gaps between words and letters.
    assert columns and columns[-1] - columns[0] > 0.8 * width, (columns[:5], width)
    assert 0.3 * width < len(columns) < 0.95 * width, (len(columns), width)


def test_engine_is_passed_to_the_renderer(renderer: str, tmp_path: Path) -> None:
    cycle = "graph { a -- b -- c -- d -- e -- f -- a; }"
    by_dot = render_source(cycle, tmp_path / "dot.svg").read_text()
    by_circo = render_source(cycle, tmp_path / "circo.svg", engine="circo").read_text()
    assert by_dot != by_circo


def test_invalid_dot_raises_with_graphviz_message(renderer: str, tmp_path: Path) -> None:
    target = tmp_path / "broken.png"
    with pytest.raises(RuntimeError, match="syntax error") as raised:
        render_source("digraph { a -> }", target)
    assert renderer in str(raised.value)
    assert not target.exists()


def test_system_dot_is_preferred_when_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("dot") is None:
        pytest.skip("system Graphviz `dot` is not on PATH (apt-get install graphviz)")
    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)
    assert available_backend() == "dot"
    monkeypatch.setenv(BACKEND_ENV_VAR, "graphviz-pure")
    assert available_backend() == "graphviz-pure"
    assert available_backend(backend="dot") == "dot"


def test_pdf_with_system_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("dot") is None:
        pytest.skip("system Graphviz `dot` is not on PATH (apt-get install graphviz)")
    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)
    path = render_source(STEP_GRAPH, tmp_path / "graph.PDF")
    assert path.read_bytes().startswith(b"%PDF-")


def test_pdf_without_system_dot_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hide_system_dot(monkeypatch, tmp_path)
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        render_source(STEP_GRAPH, tmp_path / "graph.pdf")
    with pytest.raises(GraphvizNotFoundError, match="cannot write .pdf"):
        render_source(STEP_GRAPH, tmp_path / "graph.pdf", backend="graphviz-pure")


def test_no_renderer_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends.shutil, "which", lambda *args, **kwargs: None)
    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)
    with pytest.raises(GraphvizNotFoundError) as raised:
        render_source(STEP_GRAPH, tmp_path / "graph.png")
    assert "apt-get install graphviz" in str(raised.value)
    assert "pip install graphviz-pure" in str(raised.value)
    assert not (tmp_path / "graph.png").exists()
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        available_backend(backend="dot")


def test_dot_suffix_writes_source_without_a_renderer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends.shutil, "which", lambda *args, **kwargs: None)
    path = render_source(STEP_GRAPH, str(tmp_path / "graph.dot"))
    assert path == tmp_path / "graph.dot"
    assert path.read_text(encoding="utf-8") == STEP_GRAPH


def test_unknown_suffix_names_it_and_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as raised:
        render_source(STEP_GRAPH, tmp_path / "graph.jpg")
    for suffix in (".jpg", ".png", ".svg", ".pdf", ".dot"):
        assert suffix in str(raised.value)


def test_unknown_engine_and_renderer_names_are_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="layout engine 'bogus'"):
        render_source(STEP_GRAPH, tmp_path / "graph.svg", engine="bogus")
    monkeypatch.setenv(BACKEND_ENV_VAR, "cairo")
    with pytest.raises(ValueError, match=f"'cairo' from the {BACKEND_ENV_VAR}"):
        available_backend()
