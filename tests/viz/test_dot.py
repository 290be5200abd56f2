"""The DOT the renderer writes (clusters, names, colours, ghosts, rails) and the pictures both
renderers make of it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz
from tinygrad_rnn.viz.backends import BACKEND_ENV_VAR
from tinygrad_rnn.viz.dot import GRADIENT_COLOURS, format_norm, gradient_colour

from .test_backends import PNG_SIGNATURE, SVG_NAMESPACE, png_size

WEIGHTS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
_ATTRIBUTE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|<<.*>>|[^\s\]]+)')


def attributes(text: str) -> dict[str, str]:
    return {key: value.strip('"') for key, value in _ATTRIBUTE.findall(text)}


class Dot:
    """Nodes, edges and clusters read back from DOT source as the graphviz package writes it."""

    def __init__(self, source: str) -> None:
        self.nodes: dict[str, dict[str, str]] = {}
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        self.clusters: list[dict] = []  # {"label", "path" (labels from the top), "nodes"}
        open_clusters: list[dict] = []
        for line in source.splitlines():
            stripped = line.strip()
            if stripped.startswith("subgraph cluster_"):
                cluster = {"label": None, "nodes": [], "parent": open_clusters[-1] if open_clusters else None}
                self.clusters.append(cluster)
                open_clusters.append(cluster)
            elif stripped == "}" and open_clusters:
                open_clusters.pop()
            elif (
                open_clusters
                and open_clusters[-1]["label"] is None
                and stripped.startswith(("color=", "label="))
            ):
                open_clusters[-1]["label"] = attributes(stripped)["label"]
            elif re.match(r'^("[^"]+"|\S+) -> ', stripped):
                match = re.match(r'("[^"]+"|\S+) -> ("[^"]+"|\S+)(?: \[(.*)\])?$', stripped)
                assert match, stripped
                self.edges.append((match[1].strip('"'), match[2].strip('"'), attributes(match[3] or "")))
            elif re.match(r'^("[^"]+"|\w+) \[', stripped) and not stripped.startswith(
                ("graph ", "node ", "edge ")
            ):
                name, rest = stripped.split(" [", 1)
                self.nodes[name.strip('"')] = attributes(rest)
                if open_clusters:
                    open_clusters[-1]["nodes"].append(name.strip('"'))
        for cluster in self.clusters:
            path, parent = [cluster["label"]], cluster["parent"]
            while parent is not None:
                path.insert(0, parent["label"])
                parent = parent["parent"]
            cluster["path"] = tuple(path)

    def labelled(self, text: str) -> list[str]:
        """Ids of the nodes whose label's first line is ``text`` or starts with ``text + " "``."""
        found = []
        for node_id, attrs in self.nodes.items():
            first = attrs.get("label", "").split("\\n")[0]
            if first == text or first.startswith(text + " "):
                found.append(node_id)
        return found

    def cluster_of(self, node_id: str) -> tuple[str, ...]:
        inside = [c["path"] for c in self.clusters if node_id in c["nodes"]]
        return inside[0] if inside else ()


def rnn_loss(steps=5, cell=nn.RNN, **options):
    tg.manual_seed(0)
    layer = cell(4, 8, **options)
    _, final = layer(tg.randn(steps, 2, 4))
    h_n = final[0] if isinstance(final, tuple) else final
    loss = (h_n * h_n).mean()
    loss.name = "loss"
    return layer, loss


def luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


def hidden_states(dot: Dot) -> dict[int, str]:
    """Step k -> the id of the tensor node leaving cluster t=k (its hidden state)."""
    found = {}
    for cluster in dot.clusters:
        if re.fullmatch(r"t=\d+", cluster["label"]):
            boxes = [
                n
                for n in cluster["nodes"]
                if dot.nodes[n].get("shape") == "box"
                and n.startswith("out")
                and dot.nodes[n]["label"].startswith("h_")
            ]
            assert len(boxes) == 1, (cluster["label"], boxes)
            found[int(cluster["label"][2:])] = boxes[0]
    return found


# ---------------------------------------------------------------- what the picture shows


def test_five_labelled_steps_inside_the_layer_and_the_weights_once_outside_them():
    _, loss = rnn_loss(steps=5)
    digraph = viz.draw(loss)
    assert isinstance(digraph, graphviz.Digraph) and hasattr(digraph, "_repr_mimebundle_")
    dot = Dot(digraph.source)
    steps = [c for c in dot.clusters if c["label"].startswith("t=")]
    assert [c["path"] for c in steps] == [("rnn", "l0", f"t={k}") for k in range(1, 6)]
    for name in WEIGHTS:
        (node_id,) = dot.labelled(name)
        assert dot.cluster_of(node_id) == ("rnn", "l0"), name
        assert dot.nodes[node_id]["peripheries"] == "2", "parameters have a double border"
    (x,) = dot.labelled("input (5, 2, 4)")
    assert "peripheries" not in dot.nodes[x], "inputs do not look like parameters"
    ops = [n for n, a in dot.nodes.items() if a.get("shape") == "ellipse"]
    boxes = [n for n, a in dot.nodes.items() if a.get("shape") == "box"]
    assert ops and boxes and {dot.nodes[n]["label"] for n in ops} >= {"linear", "tanh", "add"}
    slices = [dot.labelled(f"x_{k} W_ih^T + b_ih") for k in range(1, 6)]
    assert [dot.cluster_of(n) for (n,) in slices] == [("rnn", "l0", f"t={k}") for k in range(1, 6)]
    assert "getitem" not in {dot.nodes[n]["label"] for n in ops}, "a named slice is one box"
    (root,) = dot.labelled("loss")
    assert dot.nodes[root]["penwidth"] == "2.5"


def test_each_weight_reaches_every_step_along_one_rail():
    _, loss = rnn_loss(steps=5)
    dot = Dot(viz.draw(loss).source)
    for name in ("weight_hh_l0", "bias_hh_l0"):
        (weight,) = dot.labelled(name)
        (rail_start,) = [b for a, b, _ in dot.edges if a == weight]
        reached, point = set(), rail_start
        while point is not None:
            taps = [b for a, b, _ in dot.edges if a == point and not b.startswith("rail_")]
            reached |= {dot.cluster_of(t)[-1] for t in taps}
            following = [b for a, b, _ in dot.edges if a == point and b.startswith("rail_")]
            point = following[0] if following else None
        assert reached == {f"t={k}" for k in range(1, 6)}, (name, reached)


def test_rails_keep_the_drawing_linear_in_the_number_of_steps():
    sizes = {}
    for steps in (10, 40):
        dot = Dot(viz.draw(rnn_loss(steps=steps)[1], fold=False).source)
        sizes[steps] = len(dot.edges)
        for name in WEIGHTS:
            (weight,) = dot.labelled(name)
            assert len([e for e in dot.edges if e[0] == weight]) == 1, f"{name}: one edge, into its rail"
    assert sizes[40] < 4.2 * sizes[10], sizes


def test_steps_are_chained_left_to_right_by_invisible_edges():
    _, loss = rnn_loss(steps=3)
    dot = Dot(viz.draw(loss).source)
    invisible = [(a, b) for a, b, attrs in dot.edges if attrs.get("style") == "invis"]
    pairs = {(dot.cluster_of(a)[-1], dot.cluster_of(b)[-1]) for a, b in invisible}
    assert pairs == {("t=1", "t=2"), ("t=2", "t=3")}


def test_a_reverse_direction_keeps_time_left_to_right_with_arrows_pointing_back():
    _, loss = rnn_loss(steps=4, bidirectional=True)
    dot = Dot(viz.draw(loss).source)
    backwards = [(a, b) for a, b, attrs in dot.edges if attrs.get("dir") == "back"]
    # the reverse direction hands its state from t=k+1 to t=k: drawn as t=k -> t=k+1, dir=back
    steps = sorted((dot.cluster_of(a), dot.cluster_of(b)) for a, b in backwards)
    assert steps == [
        (("rnn", "l0_reverse", f"t={k}"), ("rnn", "l0_reverse", f"t={k + 1}")) for k in (1, 2, 3)
    ]


def test_show_grad_fills_tensors_by_gradient_norm_fading_back_in_time():
    _, loss = rnn_loss(steps=5)
    dot = Dot(viz.draw(loss, show_grad=True).source)
    hidden = hidden_states(dot)
    fills = [dot.nodes[hidden[k]]["fillcolor"] for k in range(1, 6)]
    brightness = [luminance(c) for c in fills]
    assert all(a > b for a, b in zip(brightness, brightness[1:])), (fills, "t=1 palest")
    norms = [float(dot.nodes[hidden[k]]["label"].split("grad ")[1]) for k in range(1, 6)]
    assert all(a < b for a, b in zip(norms, norms[1:])), norms
    legend = dot.nodes["gradient_legend"]["label"]
    assert "loss" in legend and "log scale" in legend and GRADIENT_COLOURS[-1] in legend
    (root,) = dot.labelled("loss")
    assert dot.nodes[root]["fillcolor"] == GRADIENT_COLOURS[-1], "the root's gradient is the largest: 1"
    for name in WEIGHTS:
        (weight,) = dot.labelled(name)
        assert "grad " in dot.nodes[weight]["label"] and dot.nodes[weight]["fillcolor"].startswith("#")
        assert dot.nodes[weight]["peripheries"] == "2", "still recognisable as a parameter"


def test_without_show_grad_nothing_is_coloured_by_gradient():
    dot = Dot(viz.draw(rnn_loss(steps=3)[1]).source)
    assert "gradient_legend" not in dot.nodes
    assert not any("grad " in a.get("label", "") for a in dot.nodes.values())
    assert {dot.nodes[n]["fillcolor"] for n in hidden_states(dot).values()} == {"white"}


def test_a_truncated_state_is_a_dashed_ghost_with_a_dashed_edge():
    tg.manual_seed(0)
    layer = nn.GRU(4, 8)
    _, h = layer(tg.randn(3, 2, 4))
    _, h2 = layer(tg.randn(3, 2, 4), h.detach())
    dot = Dot(viz.draw(h2.sum(), show_grad=True).source)
    ghosts = [n for n, a in dot.nodes.items() if "dashed" in a.get("style", "")]
    assert len(ghosts) == 1
    ghost = dot.nodes[ghosts[0]]
    assert "detached from stack in gru" in ghost["label"] and "truncated BPTT" in ghost["label"]
    assert "fillcolor" not in ghost, "no gradient reaches it"
    edges = [attrs for a, _, attrs in dot.edges if a == ghosts[0]]
    assert edges and all(attrs["style"] == "dashed" for attrs in edges), "a GRU step reads h twice"
    assert dot.cluster_of(ghosts[0]) == ("gru", "l0", "t=1")


def test_collapse_draws_one_node_per_step():
    _, loss = rnn_loss(steps=5, cell=nn.LSTM)
    dot = Dot(viz.draw(loss, collapse=True, show_grad=True, fold=False).source)
    steps = [n for n, a in dot.nodes.items() if re.match(r"t=\d+\\n\d+ ops", a.get("label", ""))]
    assert [dot.nodes[n]["label"].split("\\n")[:2] for n in steps] == [
        [f"t={k}", "11 ops"] for k in range(1, 6)
    ]
    assert not [c for c in dot.clusters if c["label"].startswith("t=")]
    assert all(dot.cluster_of(n) == ("lstm", "l0") for n in steps)
    assert "linear, add, sigmoid, mul, tanh" in dot.nodes[steps[0]]["tooltip"]
    for name in WEIGHTS:
        assert len(dot.labelled(name)) == 1
    brightness = [luminance(dot.nodes[n]["fillcolor"]) for n in steps]
    assert all(a > b for a, b in zip(brightness, brightness[1:])), brightness


def test_a_collapsed_100_step_lstm_has_few_nodes():
    _, loss = rnn_loss(steps=100, cell=nn.LSTM)
    collapsed = Dot(viz.draw(loss, collapse=True, fold=False).source)
    drawn = [n for n, a in collapsed.nodes.items() if a.get("shape") != "point"]
    assert len(drawn) < 115, len(drawn)
    full = Dot(viz.draw(loss, fold=False).source)
    assert len(full.nodes) > 1700


def test_title_rankdir_and_all_tensors():
    _, loss = rnn_loss(steps=2)
    source = viz.draw(loss, title="two steps", rankdir="TB").source
    assert 'label="two steps"' in source and "rankdir=TB" in source
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw(loss, rankdir="sideways")
    fewer, every = (len(Dot(viz.draw(loss, all_tensors=a).source).nodes) for a in (False, True))
    assert every > fewer


def test_gradient_colour_scale_and_labels():
    assert gradient_colour(1e-3, 1e-3, 1.0) == (GRADIENT_COLOURS[0], False)
    assert gradient_colour(1.0, 1e-3, 1.0) == (GRADIENT_COLOURS[-1], True)
    assert gradient_colour(1e-9, 1e-3, 1.0)[0] == GRADIENT_COLOURS[0], "clamped below"
    samples = [gradient_colour(10.0**e, 1e-4, 1.0)[0] for e in np.linspace(-4, 0, 9)]
    assert samples == list(GRADIENT_COLOURS), "the scale is logarithmic"
    assert gradient_colour(5.0, 5.0, 5.0) == (GRADIENT_COLOURS[-1], True)
    assert [format_norm(v) for v in (0.0, 0.00123, 0.5, 12.0, 3e5, float("inf"))] == [
        "0.0", "1.2e-3", "0.5", "12", "3.0e5", "inf",
    ]  # fmt: skip


def test_names_with_quotes_and_backslashes_survive(tmp_path: Path) -> None:
    weight = tg.ones(2, requires_grad=True)
    path = viz.render((weight * 2).sum(), path=tmp_path / "names.svg", params={'w"eird\\name': weight})
    assert 'w"eird\\name (2,)' in svg_texts(path)
    assert (
        'tooltip="w\\"eird\\\\name (2,)"'
        in viz.draw((weight * 2).sum(), params={'w"eird\\name': weight}).source
    )


# ---------------------------------------------------------------- files, both renderers


def svg_texts(path: Path) -> set[str]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NAMESPACE}svg"
    return {(element.text or "").strip() for element in root.iter(f"{SVG_NAMESPACE}text")}


def test_svg_shows_steps_weights_and_gradients(renderer: str, tmp_path: Path) -> None:
    _, loss = rnn_loss(steps=5)
    path = viz.render(loss, path=tmp_path / "rnn.svg", show_grad=True)
    assert path == tmp_path / "rnn.svg"
    texts = svg_texts(path)
    assert {f"t={k}" for k in range(1, 6)} <= texts
    assert all(any(t.startswith(name) for t in texts) for name in WEIGHTS), texts
    assert any(t.startswith("grad ") for t in texts) and "loss ()" in texts


def test_png_is_a_wide_picture(renderer: str, tmp_path: Path) -> None:
    _, loss = rnn_loss(steps=5)
    data = viz.render(loss, path=tmp_path / "rnn.png").read_bytes()
    width, height = png_size(data)
    assert data.startswith(PNG_SIGNATURE) and width > 2 * height > 200, (width, height)


def test_backend_argument_overrides_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV_VAR, "dot")
    _, loss = rnn_loss(steps=2)
    path = viz.render(loss, path=tmp_path / "pure.svg", backend="graphviz-pure")
    assert "t=2" in svg_texts(path)
    with pytest.raises(ValueError, match="unknown renderer"):
        viz.render(loss, path=tmp_path / "x.svg", backend="nope")


def test_jupyter_shows_the_picture_inline_with_either_renderer(renderer: str) -> None:
    _, loss = rnn_loss(steps=2)
    bundle = viz.draw(loss)._repr_mimebundle_(include=["image/svg+xml", "image/png"])
    assert bundle["image/svg+xml"].lstrip().startswith(("<?xml", "<svg")) and "t=2" in bundle["image/svg+xml"]
    assert bundle["image/png"].startswith(PNG_SIGNATURE)


def test_dot_suffix_writes_the_source(tmp_path: Path) -> None:
    _, loss = rnn_loss(steps=2)
    path = viz.render(loss, path=tmp_path / "graph.dot", collapse=True)
    assert path.read_text() == viz.draw(loss, collapse=True).source
