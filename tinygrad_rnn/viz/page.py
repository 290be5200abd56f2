"""``viz.html`` (this module is ``viz.page``): one self-contained HTML page that plays the
backward pass through an unrolled graph.

The page holds the picture (an SVG rendered by ``viz.backends``, the same picture ``draw``
makes, folded the same way, coloured by gradient norm), the data of every node, and a few
hundred lines of plain JavaScript; it loads nothing from the network. It offers:

* pan (drag) and zoom (wheel, buttons), and "fit";
* a tooltip on hover: op, shape, dtype, value statistics (min, mean, max), gradient norm;
* collapsible time steps: a click on a step's box hides its ops (again: shows them), and
  one button collapses or expands them all;
* a player for the backward pass, phase by phase in the engine's own walk order
  (``viz.trace``): the gradient arrives at the loss, flows back into h_T, h_{T-1}, ...,
  the nodes of the current step are outlined and the ones not reached yet are faded; beside
  the picture, a running chart of ‖∂L/∂h_t‖ by t (log scale) and, per parameter, the norm of
  the gradient accumulated so far;
* the BPTT sum made visible: a heat map with one row per parameter used inside the steps
  and one column per step k, coloured by ‖what step k adds to ∂L/∂W‖, each cell being the
  parameter's gradient from that step's ops, taken from the engine's walk of the real graph;
* with ``per_step=[L_1, ..., L_T]`` (a loss summed over time steps), the double sum of BPTT:
  per recurrent parameter, a (t, k) heat map whose cell is ‖∂L_t/∂W through step k‖, from one
  walk of the engine per term (``trace_backward(per_step=...)``).

Safety: every string from the graph (names, scopes, op names, titles) reaches the page as JSON
inside a ``<script type="application/json">`` block with ``<``, ``>`` and ``&`` escaped as
``\\u003c``..., and the JavaScript puts it on the page with ``textContent`` only. The SVG
comes from Graphviz, which escapes text for XML, and is drawn without tooltips or links.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..nn.module import Module
from ..tensor import Tensor
from .backends import render_source
from .dot import format_norm, to_digraph
from .graph import FOLD, PARAMETER, build_graph, flatten_roots, step_of
from .trace import BackwardTrace, node_phases, trace_backward

__all__ = ["html", "page_data"]


def page_data(
    *roots: Any,
    model: Module | None = None,
    params: Mapping[str, Tensor] | None = None,
    fold: bool | int = True,
    title: str | None = None,
    backend: str | None = None,
    timeout: float | None = None,
    per_step: Sequence[Tensor] | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data (``svg`` holds the picture)."""
    tensors = flatten_roots(roots)
    trace = trace_backward(*tensors, model=model, params=params, per_step=per_step)
    shown = build_graph(*tensors, model=model, params=params, show_grad=True, fold=fold, stats=True)
    picture = to_digraph(shown, title=title, capped=False, tooltips=False)
    with tempfile.TemporaryDirectory() as folder:
        svg = render_source(picture.source, Path(folder) / "graph.svg", backend=backend, timeout=timeout)
        svg_text = svg.read_text(encoding="utf-8")

    phases = node_phases(shown, trace)
    nodes = {}
    for node in shown.nodes.values():
        found = step_of(node.path)
        nodes[node.id] = {
            "label": node.label or node.kind,
            "kind": node.kind,
            "op": node.op,
            "shape": list(node.shape) if node.shape is not None else None,
            "dtype": node.dtype,
            "stats": node.stats,
            "grad": node.grad_norm,
            "path": list(node.path),
            "run": list(found[0]) if found is not None else list(node.path) if node.kind == FOLD else None,
            "step": found[1] if found is not None else None,
            "steps": list(node.steps) if node.steps is not None else None,
            "detail": node.detail,
            "name": node.name,
            "phase": phases[node.id],
        }
    parameters = {n.name: n.id for n in shown.nodes.values() if n.kind == PARAMETER and n.name}
    return {
        "title": title or "",
        "root": trace.root_name,
        "svg": svg_text,
        "nodes": nodes,
        "clusters": {name: list(path) for name, path in picture.cluster_paths.items()},
        "phases": [
            {
                "label": p.label,
                "run": list(p.run) if p.run is not None else None,
                "step": p.step,
                "ops": p.ops,
            }
            for p in trace.phases
        ],
        "stateGrad": [
            {"run": list(run), "points": [[k, norm] for k, norm in sorted(norms.items())]}
            for run, norms in trace.state_grad.items()
        ],
        "accumulated": _accumulated(trace),
        "parameterNodes": parameters,
        "heat": _heat(trace),
        "termHeat": _term_heat(trace),
    }


def _accumulated(trace: BackwardTrace) -> dict[str, list[float]]:
    """Per parameter, the norm of its gradient summed over the phases up to each phase."""
    found = {}
    for name, per_phase in trace.contributions.items():
        total = np.zeros_like(trace.gradients[name])
        norms = []
        for index in range(len(trace.phases)):
            if index in per_phase:
                total = total + per_phase[index]
            norms.append(float(np.linalg.norm(total)))
        found[name] = norms
    return found


def _heat(trace: BackwardTrace) -> list[dict[str, Any]]:
    """Rows of the heat map: a parameter used inside the steps of a run, and per step k the norm
    of that step's contribution to its gradient (and the phase the step is)."""
    phase_index = {(p.run, p.step): i for i, p in enumerate(trace.phases) if p.run is not None}
    rows = []
    for name in trace.contributions:
        by_run: dict[tuple[str, ...], list[list[Any]]] = {}
        for (run, k), array in sorted(trace.step_contributions(name).items(), key=lambda item: item[0][1]):
            by_run.setdefault(run, []).append([k, float(np.linalg.norm(array)), phase_index[run, k]])
        for run, cells in by_run.items():
            total = float(np.linalg.norm(trace.gradients[name]))
            rows.append({"name": name, "run": list(run), "cells": cells, "total": format_norm(total)})
    return rows


def _term_heat(trace: BackwardTrace) -> list[dict[str, Any]]:
    """The (t, k) heat maps: per parameter used inside the steps of a run, ``matrix[t-1][i]``
    is ‖what step ``steps[i]`` adds to ∂L_t/∂W‖ (the Frobenius norm of that term of the double
    sum, 0 where L_t does not reach step k), ``rows[t-1]`` is ‖∂L_t/∂W‖ (the row's terms summed
    before the norm), ``columns[i]`` is ‖Σ_t‖ of column i (the single-loss map's cell)."""
    if not trace.per_step:
        return []
    order = {name: i for i, name in enumerate(trace.contributions)}  # the k map's order: weights first
    keys = sorted(
        {(name, run) for entry in trace.per_step for name, cells in entry.items() for run, _ in cells},
        key=lambda key: (key[1], order.get(key[0], len(order)), key[0]),
    )
    maps = []
    for name, run in keys:
        steps = sorted({k for entry in trace.per_step for (r, k) in entry.get(name, {}) if r == run})
        # terms[t, i]: what step steps[i] adds to dL_t/dW (zeros where L_t does not reach it)
        shape = next(a.shape for e in trace.per_step for (r, _), a in e.get(name, {}).items() if r == run)
        terms = np.zeros((len(trace.per_step), len(steps), *shape))
        where = {k: i for i, k in enumerate(steps)}
        for t, entry in enumerate(trace.per_step):
            for (r, k), array in entry.get(name, {}).items():
                if r == run:
                    terms[t, where[k]] = array
        flat = terms.reshape(len(trace.per_step), len(steps), -1)
        norm = np.sqrt((flat**2).sum(-1))
        maps.append({
            "name": name, "run": list(run), "steps": steps,
            "matrix": [[_short(v) for v in row] for row in norm.tolist()],
            "rows": [_short(v) for v in np.sqrt((flat.sum(1) ** 2).sum(-1)).tolist()],
            "columns": [_short(v) for v in np.sqrt((flat.sum(0) ** 2).sum(-1)).tolist()],
            "total": format_norm(float(np.linalg.norm(flat.sum((0, 1))))),
        })  # fmt: skip
    return maps


def _short(value: float) -> float:
    """A norm to 4 significant digits: what a colour and a tooltip can show (a 100-step map
    holds 10,000 cells per parameter)."""
    return float(f"{value:.4g}")


def _json_for_script(data: Any) -> str:
    """JSON that cannot end its ``<script>`` element or open a comment in it."""
    text = json.dumps(data, allow_nan=False, default=_finite)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _finite(value: Any) -> Any:
    raise TypeError(f"html: cannot put {type(value).__name__} on the page")


def _sanitize(data: Any) -> Any:
    """NaN and infinity (exploding gradients) as strings, which JSON can hold."""
    if isinstance(data, float) and not np.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {k: _sanitize(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_sanitize(v) for v in data]
    return data


def html(
    *roots: Any,
    path: str | os.PathLike[str],
    model: Module | None = None,
    params: Mapping[str, Tensor] | None = None,
    fold: bool | int = True,
    title: str | None = None,
    backend: str | None = None,
    timeout: float | None = None,
    per_step: Sequence[Tensor] | None = None,
) -> Path:
    """Write one self-contained HTML page to ``path`` that shows the graph behind ``roots``
    and plays its backward pass (see the module docstring); returns the path.

    ``roots``, ``model``, ``params``, ``fold`` and ``title`` as for ``viz.draw``; ``backend``
    and ``timeout`` as for ``viz.render`` (the picture is an SVG, which both renderers write).
    The gradient shown is that of the sum of the roots, computed without touching any
    ``.grad``; the graph stays usable for the user's own ``backward()``. Raises ValueError
    when no root requires grad and RuntimeError when a backward() already freed the graph.

    ``per_step``: for a loss that sums a term per time step, the terms ``[L_1, ..., L_T]``
    (scalar tensors; their sum must have the loss's gradient, else ValueError). The page then
    also shows, per recurrent parameter, the (t, k) heat map of the double sum
    ``∂L/∂W = Σ_t Σ_k ∂L_t/∂W|_k``. The terms may be part of the loss's graph
    (``loss = L_1 + ... + L_T``) or computed beside it from the same outputs, which keeps the
    picture small: ``loss = mse_loss(pred, y)`` with ``L_t = mse_loss(pred[t], y[t]) / T``."""
    target = Path(path)
    if target.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"html: path must end in .html, got {str(target)!r}")
    data = _sanitize(
        page_data(
            *roots,
            model=model,
            params=params,
            fold=fold,
            title=title,
            backend=backend,
            timeout=timeout,
            per_step=per_step,
        )
    )
    template = resources.files("tinygrad_rnn.viz").joinpath("page.html").read_text(encoding="utf-8")
    page = template.replace("/*DATA*/null", _json_for_script(data))
    page = page.replace("<!--TITLE-->", _escape_text(title or f"backward pass of {data['root']}"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
