"""``viz.animate`` (this module is ``viz.gif``): the backward pass as an animated GIF, one
frame per phase of the engine's walk (``viz.trace``), for slides.

Each frame is the picture ``draw(show_grad=True)`` makes, with the nodes the gradient has not
reached yet faded to grey and the nodes of the current phase outlined; the caption says which
phase it is. Frames are rendered by ``viz.backends`` (either renderer) and joined by Pillow,
an optional dependency (``pip install "tinygrad_rnn[animate]"``). Meant for small unrolls
(a frame per step): a long one is folded as in ``draw``, and its folded steps share a frame.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..nn.module import Module
from ..tensor import Tensor
from .backends import render_source
from .dot import to_digraph
from .graph import build_graph, flatten_roots
from .trace import node_phases, trace_backward

__all__ = ["animate"]

_PENDING = {"fillcolor": "#f7f7f7", "color": "#dddddd", "fontcolor": "#c8c8c8", "style": "filled"}
_ACTIVE = {"color": "#d6006e", "penwidth": "5"}
MAX_WIDTH = 1600  # px: frames are scaled down to this width (slides, and a small file)


def animate(
    *roots: Any,
    path: str | os.PathLike[str],
    model: Module | None = None,
    params: Mapping[str, Tensor] | None = None,
    fold: bool | int = True,
    frame_ms: int = 700,
    backend: str | None = None,
    timeout: float | None = None,
) -> Path:
    """Write the backward pass from ``roots`` as an animated GIF to ``path`` (``.gif``);
    returns the path. ``roots``, ``model``, ``params`` and ``fold`` as for ``viz.draw``;
    ``frame_ms``: how long each frame shows (the last one three times longer); ``backend``
    and ``timeout`` as for ``viz.render``. Raises ImportError, saying what to install, when
    Pillow is missing."""
    target = Path(path)
    if target.suffix.lower() != ".gif":
        raise ValueError(f"animate: path must end in .gif, got {str(target)!r}")
    if not isinstance(frame_ms, int) or frame_ms < 20:
        raise ValueError(f"animate: frame_ms must be a whole number of milliseconds >= 20, got {frame_ms!r}")
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "animate: writing a GIF needs Pillow: pip install 'tinygrad_rnn[animate]' (or pip install Pillow)"
        ) from None
    tensors = flatten_roots(roots)
    trace = trace_backward(*tensors, model=model, params=params)
    shown = build_graph(*tensors, model=model, params=params, show_grad=True, fold=fold)
    reached = node_phases(shown, trace)
    frames: list[Any] = []
    last_styles: dict[str, dict[str, str]] | None = None
    count = len(trace.phases)
    with tempfile.TemporaryDirectory() as folder:
        for index in range(count + 1):
            styles = {
                node_id: _PENDING if at > index else _ACTIVE if at == index else {}
                for node_id, at in reached.items()
            }
            if styles == last_styles:  # folded steps: the same picture as the frame before
                continue
            last_styles = styles
            caption = (
                f"backward pass, phase {index + 1} of {count}: {trace.phases[index].label}"
                if index < count
                else f"backward pass done: every parameter holds ∂{trace.root_name}/∂parameter"
            )
            picture = to_digraph(shown, title=caption, capped=True, tooltips=False, styles=styles)
            png = render_source(
                picture.source, Path(folder) / f"frame{index}.png", backend=backend, timeout=timeout
            )
            image = Image.open(io.BytesIO(png.read_bytes())).convert("RGB")
            if image.width > MAX_WIDTH:
                image = image.resize(
                    (MAX_WIDTH, round(image.height * MAX_WIDTH / image.width)), Image.Resampling.LANCZOS
                )
            frames.append(image)
    width = max(f.width for f in frames)
    height = max(f.height for f in frames)
    padded = []
    for frame in frames:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(frame, (0, 0))
        padded.append(canvas.convert("P", palette=Image.Palette.ADAPTIVE, colors=255))
    durations = [frame_ms] * (len(padded) - 1) + [3 * frame_ms]
    target.parent.mkdir(parents=True, exist_ok=True)
    padded[0].save(target, save_all=True, append_images=padded[1:], duration=durations, loop=0, optimize=True)
    return target
