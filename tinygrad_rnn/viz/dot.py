"""Turn a :class:`~tinygrad_rnn.viz.graph.GraphModel` into a ``graphviz.Digraph``: shapes,
colours, nested clusters, and the gradient colour scale.

The look, in one place:

* op: small grey ellipse with the op's name;
* tensor made by an op: white rounded box with its name (if any) and shape; the root has a
  thick border;
* parameter: blue box with a double border; input: grey box; ghost (where ``detach()`` cut
  the graph): dashed box, with a dashed edge into the graph;
* collapsed scope: rounded box with the scope's name and its number of ops (listed in the
  tooltip of an SVG);
* a scope: a cluster box labelled with its name. Time steps (``t=k``) are laid out left to
  right in time order, also in a reverse direction, whose hidden state flows from ``t=k+1``
  to ``t=k``: those arrows point backwards instead of the steps being reordered;
* a node used by many steps (a shared weight) reaches them along a rail: one line past the
  steps with a short arrow into each (see ``_plan_rails``).

* a fold (the middle steps of a long unroll): a wide dashed box saying how many steps and ops
  it hides, and with gradients the norm entering and leaving it.

With gradients, tensor, parameter and collapsed nodes are filled by ``log10`` of the
gradient's norm on a pale-yellow-to-dark-red scale (pale: vanishing), with the norm in the
label and a legend naming the root (``‖∂loss/∂tensor‖``). Ops stay grey: the tensor each one
makes carries its colour. Label text is black or white, whichever contrasts more with the
fill (WCAG relative luminance).

Safety: every string that reaches DOT (names, scope names, op names, titles) goes through
``dot_text``: no ``<...>`` is ever taken as an HTML label, backslashes are literal (``\\N``,
``\\l`` and a trailing ``\\`` are drawn as typed) and control characters become spaces. The
legend, the one HTML label, escapes its text with ``html_text`` (HTML escapes, and backslashes
doubled: Graphviz expands ``\\N`` in HTML labels too). Node ids are made by the
graph model from counters, never from names; the drawing aids number scope paths instead of
joining their names, so ``("a_b", "t=1")`` and ``("a", "b", "t=1")`` cannot meet.
"""

from __future__ import annotations

import html
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz

from .backends import render_source
from .graph import FOLD, GHOST, INPUT, OP, PARAMETER, SCOPE, TENSOR, Cluster, GraphModel, Node, step_of

__all__ = [
    "GRADIENT_COLOURS",
    "Picture",
    "dot_text",
    "format_norm",
    "html_text",
    "gradient_colour",
    "label_colour",
    "to_digraph",
]

FONT = "Helvetica"
# ColorBrewer YlOrRd: light for small gradients, dark for large ones
GRADIENT_COLOURS = (
    "#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026",
)  # fmt: skip

_GRAPH = {
    "fontname": FONT,
    "fontsize": "11",
    "nodesep": "0.18",
    "ranksep": "0.3",
    "bgcolor": "white",
}
_NODE = {"fontname": FONT, "fontsize": "10", "margin": "0.08,0.04", "height": "0.3"}
_EDGE = {"color": "#555555", "arrowsize": "0.6"}

_STYLES: dict[str, dict[str, str]] = {
    OP: {"shape": "ellipse", "style": "filled", "fillcolor": "#eeeeee", "color": "#8c8c8c", "fontsize": "9"},
    TENSOR: {"shape": "box", "style": "rounded,filled", "fillcolor": "white", "color": "#333333"},
    PARAMETER: {
        "shape": "box",
        "style": "filled",
        "fillcolor": "#c6dbef",
        "color": "#08519c",
        "penwidth": "1.5",
        "peripheries": "2",
        "fontcolor": "#08306b",
    },
    INPUT: {"shape": "box", "style": "filled", "fillcolor": "#f2f2f2", "color": "#8c8c8c"},
    GHOST: {
        "shape": "box",
        "style": "rounded,dashed",
        "color": "#969696",
        "fontcolor": "#737373",
    },
    SCOPE: {"shape": "box", "style": "rounded,filled", "fillcolor": "white", "color": "#54278f"},
    FOLD: {
        "shape": "box",
        "style": "rounded,dashed,filled",
        "fillcolor": "#f5f4fa",
        "color": "#54278f",
        "penwidth": "1.5",
        "fontsize": "11",
        "margin": "0.2,0.1",
    },
}
_STEP_CLUSTER = {
    "style": "rounded,filled",
    "fillcolor": "#f5f4fa",
    "color": "#9e9ac8",
    "fontsize": "12",
    "labeljust": "l",
}
_SCOPE_CLUSTER = {
    "style": "rounded",
    "color": "#bdbdbd",
    "fontsize": "12",
    "fontcolor": "#525252",
    "labeljust": "l",
}
_PARAMETER_EDGE = {"color": "#6baed6"}
_CUT_EDGE = {"style": "dashed", "color": "#969696"}


class Picture(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose ``render()``, ``pipe()`` and Jupyter display go through
    ``viz.backends``: with the system ``dot`` when installed, else with the pip-installed
    ``graphviz-pure`` (the plain Digraph needs the system ``dot`` for all three). The default
    format is ``png``, which both renderers write."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("format", "png")
        super().__init__(*args, **kwargs)
        self.cluster_paths: dict[str, tuple[str, ...]] = {}  # DOT cluster name -> scope path

    def pipe(self, format: str | None = None, encoding: str | None = None, **_: Any) -> bytes | str:
        """The picture as bytes (``encoding`` given: as text), like ``graphviz.Digraph.pipe``."""
        data = _render_bytes(self.source, format or self.format)
        return data.decode(encoding) if encoding is not None else data

    def render(
        self,
        filename: str | os.PathLike[str] | None = None,
        directory: str | os.PathLike[str] | None = None,
        view: bool = False,
        cleanup: bool = False,
        format: str | None = None,
        outfile: str | os.PathLike[str] | None = None,
        **_: Any,
    ) -> str:
        """Write the DOT source to ``filename`` (default ``self.filename``) and the picture next
        to it (``filename.png``), or only the picture to ``outfile``; returns the picture's
        path, like ``graphviz.Digraph.render``. ``cleanup`` removes the source afterwards.
        ``view`` is not supported (open the returned path)."""
        if view:
            raise ValueError("Picture.render: view=True is not supported; open the returned path")
        if outfile is not None:
            out = Path(outfile)
            fmt = format or out.suffix.lstrip(".") or self.format
            if directory is not None and not out.is_absolute():
                out = Path(directory) / out
            out.parent.mkdir(parents=True, exist_ok=True)
            target = out if out.suffix.lstrip(".") == fmt else out.with_name(out.name + f".{fmt}")
            return str(render_source(self.source, target))
        fmt = format or self.format
        source = Path(directory or self.directory or "") / (filename or self.filename)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(self.source, encoding="utf-8")
        written = render_source(self.source, source.with_name(f"{source.name}.{fmt}"))
        if cleanup:
            source.unlink()
        return str(written)

    def _repr_image_svg_xml(self) -> str:
        return _render_bytes(self.source, "svg").decode("utf-8")

    def _repr_image_png(self) -> bytes:
        return _render_bytes(self.source, "png")


def _render_bytes(source: str, fmt: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return render_source(source, Path(folder) / f"graph.{fmt}").read_bytes()


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def dot_text(text: str) -> graphviz.quoting.NoHtml:
    """``text`` as a DOT string that is drawn exactly as written: never an HTML label (the
    graphviz package would pass ``<...>`` through as one), backslashes doubled so that no
    ``\\N``/``\\l`` escape or trailing backslash acts, ``&`` as ``&amp;`` (Graphviz reads
    ``&lt;`` in any label as ``<``), control characters as spaces. The
    graphviz package adds the quotes and escapes the double quotes."""
    text = _CONTROL.sub(" ", str(text)).replace("\\", "\\\\")
    return graphviz.nohtml(text.replace("&", "&amp;"))  # Graphviz decodes entities in any label


def html_text(text: str) -> str:
    """``text`` for the inside of an HTML-like label: escaped for HTML, and with backslashes
    doubled, since Graphviz expands ``\\N``, ``\\G`` ... even there."""
    return html.escape(_CONTROL.sub(" ", str(text))).replace("\\", "\\\\")


def _relative_luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(x) for x in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def label_colour(fill: str) -> str:
    """``"white"`` or ``"black"``: the text colour with the higher contrast on ``fill``
    (``#rrggbb``), by the WCAG contrast ratio of relative luminances."""
    lum = _relative_luminance(fill)
    return "white" if (1.05 / (lum + 0.05)) > ((lum + 0.05) / 0.05) else "black"


def gradient_colour(norm: float, low: float, high: float) -> tuple[str, bool]:
    """Fill colour for a gradient norm on the log scale from ``low`` to ``high``, and whether
    text on it should be white (``label_colour``)."""
    if high <= low:
        position = 1.0
    else:
        position = (math.log10(max(norm, low)) - math.log10(low)) / (math.log10(high) - math.log10(low))
    position = min(max(position, 0.0), 1.0)
    scaled = position * (len(GRADIENT_COLOURS) - 1)
    i = min(int(scaled), len(GRADIENT_COLOURS) - 2)
    a, b = _rgb(GRADIENT_COLOURS[i]), _rgb(GRADIENT_COLOURS[i + 1])
    f = scaled - i
    mixed = "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))
    return mixed, label_colour(mixed) == "white"


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def format_norm(norm: float) -> str:
    """``0.00123`` -> ``"1.2e-3"``, ``0.5`` -> ``"0.5"``: short enough for a node label."""
    if norm == 0 or not math.isfinite(norm):
        return str(norm)
    mantissa, exponent = f"{norm:.1e}".split("e")
    if -1 <= int(exponent) <= 2:
        return f"{norm:.2g}"
    return f"{mantissa}e{int(exponent)}"


def _shape_text(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return ""
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _label(node: Node, show_grad: bool) -> graphviz.quoting.NoHtml:
    lines: list[str] = []
    if node.kind == OP:
        lines.append(node.label)
    elif node.kind == SCOPE:
        lines += [node.label, f"{node.op_count} op{'s' * (node.op_count != 1)}"]
    elif node.kind == FOLD:
        lines += [node.label, *node.detail.split("; ")]
    else:
        default = {PARAMETER: "parameter", INPUT: "input", GHOST: "detached"}.get(node.kind, "")
        title = node.label or default
        if node.zeros:
            title += " = 0"
        shape = _shape_text(node.shape)
        lines.append(f"{title} {shape}".strip() if len(title) + len(shape) < 18 else title)
        if len(title) + len(shape) >= 18:
            lines.append(shape)
        if node.kind == GHOST:
            lines += [node.detail, "truncated BPTT: gradient stops here"]
    if show_grad and node.kind != OP and node.grad_norm is not None:
        lines.append(f"grad {format_norm(node.grad_norm)}")
    # each line made safe on its own; "\\n" (DOT's line break) joins them
    return graphviz.nohtml("\\n".join(str(dot_text(line)) for line in lines if line))


def _tooltip(node: Node) -> str:
    """Hover text in an SVG: where the node comes from."""
    where = "/".join(node.path)
    if node.kind == SCOPE:
        return f"{where}: {node.op_count} ops ({node.detail})"
    if node.kind == FOLD:
        return f"{where}: {node.detail}"
    text = node.label or node.kind
    if node.shape is not None:
        text += f" {'->' if node.kind == OP else ''} {_shape_text(node.shape)}".replace("  ", " ")
    return f"{text} in {where}" if where else text


def _node_attributes(node: Node, scale: tuple[float, float] | None) -> dict[str, str]:
    attributes: dict[str, Any] = dict(_STYLES[node.kind], tooltip=dot_text(_tooltip(node)))
    if node.is_root:
        attributes["penwidth"] = "2.5"
    norm = node.grad_norm
    if scale is None or norm is None or node.kind in (OP, GHOST):  # an op: its tensor is coloured
        return attributes
    if norm == 0:
        colour = "#ffffff"
    elif not math.isfinite(norm):
        colour = "#000000"
    else:
        colour = gradient_colour(norm, *scale)[0]
    attributes["fillcolor"] = colour
    if "filled" not in attributes["style"]:
        attributes["style"] += ",filled"
    attributes["fontcolor"] = label_colour(colour)
    return attributes


def _legend(scale: tuple[float, float], root: str) -> str:
    """An HTML-like label: the colour scale with the norms it stands for."""
    low, high = scale
    cells = 6 if high > low else 1
    row = []
    for i in range(cells):
        norm = (
            high
            if cells == 1
            else 10 ** (math.log10(low) + i * (math.log10(high) - math.log10(low)) / (cells - 1))
        )
        colour = gradient_colour(norm, low, high)[0]
        text = f'<FONT COLOR="{label_colour(colour)}">{format_norm(norm)}</FONT>'
        row.append(f'<TD BGCOLOR="{colour}">{text}</TD>')
    title = html_text(f"gradient norm ‖∂{root}/∂tensor‖ (log scale)")
    return (
        '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
        f'<TR><TD COLSPAN="{cells}" BORDER="0">{title}</TD></TR>'
        f"<TR>{''.join(row)}</TR></TABLE>>"
    )


MAX_INCHES = 41.6  # the longest side of a capped picture: 3,994 px at Graphviz's 96 dpi


def to_digraph(
    model: GraphModel,
    rankdir: str = "LR",
    title: str | None = None,
    capped: bool = True,
    tooltips: bool = True,
    styles: Mapping[str, Mapping[str, str]] | None = None,
) -> Picture:
    """The picture of ``model`` as a :class:`Picture` (``rankdir``: "LR" or "TB").
    ``capped``: scale the picture down (never up) to at most ``MAX_INCHES`` on its long side,
    a safety net behind folding for the few layouts folding alone leaves wider than 4,000 px.
    ``tooltips``: hover texts in an SVG (``viz.html`` draws its own). ``styles``: extra
    Graphviz attributes per node id, over the look above (``viz.animate`` fades and outlines
    nodes with them). The Picture's
    ``cluster_paths`` maps each DOT cluster name to the scope path it draws."""
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw: rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    graph_attr = dict(_GRAPH, rankdir=rankdir)
    if capped:
        graph_attr["size"] = f"{MAX_INCHES},{MAX_INCHES}"
    if title:
        graph_attr.update(label=dot_text(title), labelloc="t", fontsize="14")
    digraph = Picture("tinygrad_rnn", graph_attr=graph_attr, node_attr=_NODE, edge_attr=_EDGE)
    scale = model.grad_range() if model.show_grad else None
    if model.show_grad and scale is None:
        scale = (1.0, 1.0)

    layout = _Layout(path_ids={path: i for i, path in enumerate(model.clusters)})
    _plan_rails(model, layout)
    _plan_step_order(model, layout)
    nodes_in: dict[tuple[str, ...], list[Node]] = {}
    for node in model.nodes.values():
        nodes_in.setdefault(node.scope, []).append(node)
    counter = iter(range(len(model.clusters) + 1))

    def fill(target: graphviz.Digraph, path: tuple[str, ...]) -> None:
        for node in nodes_in.get(path, []):
            attributes = _node_attributes(node, scale)
            if not tooltips:
                del attributes["tooltip"]
            if styles is not None and node.id in styles:
                attributes.update(styles[node.id])
            target.node(node.id, _label(node, model.show_grad), **attributes)
        for point_id, attributes in layout.points.get(path, []):
            target.node(point_id, "", **{"shape": "point", "width": "0.04", **attributes})
        for cluster in model.child_clusters(path):
            name = f"cluster_{next(counter)}"
            digraph.cluster_paths[name] = cluster.path
            with target.subgraph(name=name) as sub:
                sub.attr(label=dot_text(cluster.label), **_cluster_style(cluster))
                fill(sub, cluster.path)

    fill(digraph, ())
    stacked = _layer_inputs(model)
    for index, edge in enumerate(model.edges):
        if index in layout.replaced:
            continue
        source, target = model.nodes[edge.source], model.nodes[edge.target]
        attributes = dict(_CUT_EDGE) if edge.cut else {}
        if source.kind == PARAMETER:
            attributes.update(_PARAMETER_EDGE)
        if index in stacked:
            attributes["constraint"] = "false"
        if _against_time(source, target):
            digraph.edge(edge.target, edge.source, dir="back", **attributes)
        else:
            digraph.edge(edge.source, edge.target, **attributes)
    for source_id, target_id, attributes in layout.edges:
        digraph.edge(source_id, target_id, **attributes)
    if model.show_grad and scale is not None:
        digraph.node("gradient_legend", _legend(scale, model.root_name), shape="plaintext", fontsize="9")
    return digraph


RAIL_FROM_STEPS = 3  # a node feeding (or fed by) this many time steps gets a rail


@dataclass
class _Layout:
    """Drawing aids that are not part of the graph: invisible or point nodes per cluster, the
    edges between them, and the model edges they replace."""

    path_ids: dict[tuple[str, ...], int]  # a number per scope path, for the aids' node ids
    points: dict[tuple[str, ...], list[tuple[str, dict[str, str]]]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    replaced: set[int] = field(default_factory=set)  # indices into model.edges

    def point(self, cluster: tuple[str, ...], point_id: str, **attributes: str) -> str:
        self.points.setdefault(cluster, []).append((point_id, attributes))
        return point_id

    def path_id(self, path: tuple[str, ...]) -> int:
        """A number for ``path``: ids built from names could collide (``a_b`` + ``t=1`` vs
        ``a`` + ``b_t=1``)."""
        return self.path_ids.setdefault(path, len(self.path_ids))


def _plan_rails(model: GraphModel, layout: _Layout) -> None:
    """Route the edges between one node and many time steps along a rail: a line running
    past the steps in time order, with one short arrow into (or out of) each step.

    A weight shared by 100 steps would otherwise send 100 edges across the picture, and dot
    lays out an edge spanning k ranks as k hidden nodes: the layout time grows with the square
    of the number of steps. Measured with dot 2.43: a collapsed 100-step LSTM took 60 s with
    one edge per step and 0.4 s along rails; a 30-step LSTM 5.3 s and 0.9 s."""
    # (node id, "out" or "in") -> (parent of the steps, k) -> [(edge index, node id in step k)]
    links: dict[tuple[str, str], dict[tuple[tuple[str, ...], int], list[tuple[int, str]]]] = {}
    for index, edge in enumerate(model.edges):
        source_step, target_step = (
            step_of(model.nodes[edge.source].path),
            step_of(model.nodes[edge.target].path),
        )
        if source_step is None and target_step is not None:
            links.setdefault((edge.source, "out"), {}).setdefault(target_step, []).append(
                (index, edge.target)
            )
        elif target_step is None and source_step is not None:
            links.setdefault((edge.target, "in"), {}).setdefault(source_step, []).append((index, edge.source))
    for (node_id, direction), by_step in links.items():
        colour = _PARAMETER_EDGE["color"] if model.nodes[node_id].kind == PARAMETER else _EDGE["color"]
        # heavy taps pull each rail point next to its step; the rail itself stretches
        line = {"arrowhead": "none", "color": colour}
        tap = {"arrowhead": "none" if direction == "in" else "normal", "color": colour, "weight": "8"}
        parents: dict[tuple[str, ...], list[int]] = {}
        for parent, k in by_step:
            parents.setdefault(parent, []).append(k)
        for parent, steps in parents.items():
            if len(steps) < RAIL_FROM_STEPS:
                continue
            steps.sort()
            points = [
                layout.point(parent, f"rail_{node_id}_{direction}_{layout.path_id(parent)}_{k}", color=colour)
                for k in steps
            ]
            layout.edges += [(a, b, line) for a, b in zip(points, points[1:])]
            if direction == "out":
                layout.edges.append((node_id, points[0], line))
            else:
                layout.edges.append((points[-1], node_id, {"color": colour}))
            for point, k in zip(points, steps):
                for index, other in by_step[(parent, k)]:
                    layout.replaced.add(index)
                    layout.edges.append((point, other, tap) if direction == "out" else (other, point, tap))


def _plan_step_order(model: GraphModel, layout: _Layout) -> None:
    """Lay consecutive time steps side by side: invisible edges from the last nodes of step k
    to the first nodes of step k+1 (through an invisible point when there are many), so that
    no step starts before the previous one ends. Without them dot stacks the steps, as inputs
    and weights make every step start at the left edge. The point sits in the steps' parent
    cluster: dot ranks a cluster as a unit, and a detour through the root graph would read as
    a cycle."""
    members: dict[tuple[str, ...], list[str]] = {}
    for node in model.nodes.values():
        found = step_of(node.scope)
        if found is not None:
            parent, k = found
            members.setdefault(node.scope[: len(parent) + 1], []).append(node.id)
    step_cluster = {node_id: path for path, ids in members.items() for node_id in ids}
    has_inner_input: set[str] = set()
    has_inner_output: set[str] = set()
    for edge in model.edges:
        cluster = step_cluster.get(edge.source)
        if cluster is not None and step_cluster.get(edge.target) == cluster:
            has_inner_output.add(edge.source)
            has_inner_input.add(edge.target)
    by_parent: dict[tuple[str, ...], list[Cluster]] = {}
    for path in members:
        by_parent.setdefault(path[:-1], []).append(model.clusters[path])
    invisible = {"style": "invis"}
    for parent, steps in by_parent.items():
        steps.sort(key=lambda c: c.step or 0)
        for before, after in zip(steps, steps[1:]):
            last = [n for n in members[before.path] if n not in has_inner_output]
            first = [n for n in members[after.path] if n not in has_inner_input]
            if len(last) * len(first) <= 16:
                layout.edges += [(a, b, invisible) for a in last for b in first]
                continue
            joint = f"order_{layout.path_id(after.path)}"
            layout.point(parent, joint, style="invis", width="0", height="0")
            layout.edges += [(n, joint, invisible) for n in last] + [(joint, n, invisible) for n in first]


def _layer_inputs(model: GraphModel) -> set[int]:
    """Indices of the edges that carry one layer's output into the next layer of the same
    module (``lstm/l0`` -> ``lstm/l1``). They do not constrain the layout, so dot stacks the
    layers as rows instead of putting them end to end: a 2-layer picture is as wide as a
    1-layer one. A layer is a scope holding time steps."""
    layers = {found[0] for node in model.nodes.values() if (found := step_of(node.path)) is not None}
    if len(layers) < 2:
        return set()

    def layer_of(path: tuple[str, ...]) -> tuple[str, ...] | None:
        for depth in range(len(path), 0, -1):
            if path[:depth] in layers:
                return path[:depth]
        return None

    found_edges = set()
    for index, edge in enumerate(model.edges):
        source, target = model.nodes[edge.source], model.nodes[edge.target]
        if source.kind not in (OP, TENSOR, SCOPE, FOLD) or not source.path or not target.path:
            continue
        into = layer_of(target.path)
        if into is not None and source.path[0] == target.path[0] and layer_of(source.path) != into:
            found_edges.add(index)
    return found_edges


def _cluster_style(cluster: Cluster) -> dict[str, str]:
    return dict(_STEP_CLUSTER if cluster.step is not None else _SCOPE_CLUSTER)


def _against_time(source: Node, target: Node) -> bool:
    """True for an edge from step t=k+j to step t=k of the same layer (a reverse direction)."""
    a, b = step_of(source.path), step_of(target.path)
    return a is not None and b is not None and a[0] == b[0] and a[1] > b[1]
