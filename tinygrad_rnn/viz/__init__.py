"""Draw the graph behind a tensor: op by op, one cluster per scope (one per time step of an
unrolled RNN), parameters drawn once, truncations marked, gradients optionally coloured.

    from tinygrad_rnn import viz
    output, h_n = rnn(x)
    viz.draw(h_n, model=rnn)                                 # a Picture (a graphviz.Digraph)
    viz.render(loss, path="bptt.png", show_grad=True)        # a file
    viz.html(loss, path="bptt.html", model=rnn)              # a page that plays the backward pass
    viz.animate(loss, path="bptt.gif", model=rnn)            # the same, as a GIF for slides

In Jupyter the Picture returned by ``draw`` shows itself inline. Long unrolls are folded by
default (first steps, a node for the hidden middle, last steps); ``fold=False`` draws all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..nn.module import Module
from ..tensor import Tensor
from .backends import GraphvizNotFoundError, available_backend, render_source
from .dot import Picture, to_digraph
from .gif import animate
from .graph import GraphModel, build_graph
from .page import html
from .trace import BackwardTrace, trace_backward

__all__ = [
    "BackwardTrace",
    "GraphModel",
    "GraphvizNotFoundError",
    "Picture",
    "animate",
    "available_backend",
    "build_graph",
    "draw",
    "html",
    "render",
    "trace_backward",
]


def draw(
    *roots: Any,
    model: Module | None = None,
    params: Mapping[str, Tensor] | None = None,
    show_grad: bool = False,
    collapse: bool = False,
    fold: bool | int = True,
    rankdir: str = "LR",
    all_tensors: bool = False,
    title: str | None = None,
) -> Picture:
    """The graph that computed ``roots`` as a :class:`~tinygrad_rnn.viz.dot.Picture`, a
    ``graphviz.Digraph`` whose ``.render()``, ``.pipe()`` and Jupyter display work with or
    without a system Graphviz.

    ``roots``: tensors (or tuples/lists of them, such as an LSTM's ``(output, (h_n, c_n))``).
    ``model``: an ``nn.Module`` whose parameters are named by their full path (``head.weight``).
    ``params``: ``{name: tensor}`` naming leaves (over ``model``'s names); without either, a
    parameter shows the name its own Module gave it (``weight``).
    ``show_grad``: fill each tensor by the norm of the gradient of the roots (their sum, for
    several or non-scalar roots) with respect to it, on a log scale with a legend, so that
    gradients vanishing or exploding back through time show. No backward() call is needed, no
    ``.grad`` is touched and the graph stays usable for the user's own backward().
    ``collapse``: one node per innermost scope (per time step) instead of one per op.
    ``fold``: True (the default) draws a long run of time steps as its first steps, one node
    saying what it hides, and its last steps (2 at each end for an RNN, 1 for an LSTM or GRU,
    whose steps are wider), and caps the picture at 4,000 px; ``False`` draws every step at
    full size; an int k keeps k steps at each end.
    ``rankdir``: "LR" (time flows left to right) or "TB".
    ``all_tensors``: a box for every intermediate tensor, not only for named ones, roots and
    tensors that leave their scope.
    ``title``: a caption drawn above the graph.
    """
    graph = build_graph(
        *roots,
        params=params,
        model=model,
        show_grad=show_grad,
        collapse=collapse,
        all_tensors=all_tensors,
        fold=fold,
    )
    return to_digraph(graph, rankdir=rankdir, title=title, capped=fold is not False)


def render(
    *roots: Any,
    path: str | os.PathLike[str],
    backend: str | None = None,
    timeout: float | None = None,
    **options: Any,
) -> Path:
    """Draw ``roots`` (options as for :func:`draw`) and write the picture to ``path``; the
    format comes from the suffix (.png, .svg, .pdf, or .dot for the source). ``backend``:
    "dot", "graphviz-pure" or None (see ``viz.backends``); ``timeout``: seconds before the
    renderer is stopped with a TimeoutError (default 120, or ``TINYGRAD_RNN_RENDER_TIMEOUT``).
    Returns the written path."""
    return render_source(draw(*roots, **options).source, path, backend=backend, timeout=timeout)
