"""Draw the graph behind a tensor: op by op, one cluster per scope (one per time step of an
unrolled RNN), parameters drawn once, truncations marked, gradients optionally coloured.

    from tinygrad_rnn import viz
    output, h_n = rnn(x)
    viz.draw(h_n, params=dict(rnn.named_parameters()))              # a graphviz.Digraph
    viz.render(loss, path="bptt.png", show_grad=True)               # a file

In Jupyter the Digraph returned by ``draw`` shows itself inline.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import graphviz

from ..tensor import Tensor
from .backends import GraphvizNotFoundError, available_backend, render_source
from .dot import to_digraph
from .graph import GraphModel, build_graph

__all__ = ["GraphModel", "GraphvizNotFoundError", "available_backend", "build_graph", "draw", "render"]


def draw(
    *roots: Any,
    params: Mapping[str, Tensor] | None = None,
    show_grad: bool = False,
    collapse: bool = False,
    rankdir: str = "LR",
    all_tensors: bool = False,
    title: str | None = None,
) -> graphviz.Digraph:
    """The graph that computed ``roots`` as a ``graphviz.Digraph``.

    ``roots``: tensors (or tuples/lists of them, such as an LSTM's ``(output, (h_n, c_n))``).
    ``params``: ``{name: tensor}`` naming leaves, e.g. ``dict(model.named_parameters())``;
    the parameters of an ``nn.Module`` are named without it.
    ``show_grad``: fill each tensor by the norm of the gradient of the roots (their sum, for
    several or non-scalar roots) with respect to it, on a log scale with a legend, so that
    gradients vanishing or exploding back through time show. No backward() call is needed, no
    ``.grad`` is touched and the graph stays usable for the user's own backward().
    ``collapse``: one node per innermost scope (per time step) instead of one per op.
    ``rankdir``: "LR" (time flows left to right) or "TB".
    ``all_tensors``: a box for every intermediate tensor, not only for named ones, roots and
    tensors that leave their scope.
    ``title``: a caption drawn above the graph.
    """
    model = build_graph(
        *roots, params=params, show_grad=show_grad, collapse=collapse, all_tensors=all_tensors
    )
    return to_digraph(model, rankdir=rankdir, title=title)


def render(
    *roots: Any,
    path: str | os.PathLike[str],
    backend: str | None = None,
    **options: Any,
) -> Path:
    """Draw ``roots`` (options as for :func:`draw`) and write the picture to ``path``; the
    format comes from the suffix (.png, .svg, .pdf, or .dot for the source). ``backend``:
    "dot", "graphviz-pure" or None (see ``viz.backends``). Returns the written path."""
    return render_source(draw(*roots, **options).source, path, backend=backend)
