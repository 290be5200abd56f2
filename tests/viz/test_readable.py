"""Pictures a newcomer reads at any length: folding, names that explain (gates, slices, initial
states, module paths, the root), label contrast, and a Picture that renders like a graphviz
object with or without a system Graphviz."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz
from tinygrad_rnn.viz.dot import label_colour
from tinygrad_rnn.viz.graph import FOLD, INPUT, PARAMETER, TENSOR, build_graph, step_of

from .conftest import hide_system_dot
from .test_backends import PNG_SIGNATURE, png_size


def lstm_loss(steps: int, layers: int = 1, bidirectional: bool = False, cell=nn.LSTM):
    tg.manual_seed(0)
    model = cell(4, 8, num_layers=layers, bidirectional=bidirectional)
    _, final = model(tg.randn(steps, 2, 4))
    h_n = final[0] if isinstance(final, tuple) else final
    return model, (h_n * h_n).mean()


def labels(model) -> list[str]:
    return [n.label for n in model.nodes.values()]


# ---------------------------------------------------------------- folding


def test_a_100_step_lstm_folds_to_its_first_and_last_step_and_says_what_it_hides() -> None:
    model, loss = lstm_loss(100)
    graph = build_graph(loss, model=model, show_grad=True)
    (fold,) = [n for n in graph.nodes.values() if n.kind == FOLD]
    assert fold.label == "… 98 steps …" and fold.steps == (2, 99) and fold.scope == ("lstm", "l0")
    assert fold.detail.startswith("t=2 … t=99 folded: ") and f"{fold.op_count} ops" in fold.detail
    assert re.search(r"gradient norm \S+ at t=99, \S+ at t=2", fold.detail), fold.detail
    steps = sorted({found[1] for n in graph.nodes.values() if (found := step_of(n.path)) is not None})
    assert steps == [1, 100]
    # the hidden state flows h_1 -> fold -> step 100, and the weights reach the fold
    names = {n.id: n.label for n in graph.nodes.values()}
    into = {names[e.source] for e in graph.edges if e.target == fold.id}
    out_of = {names[e.target] for e in graph.edges if e.source == fold.id}
    assert {"h_1", "c_1", "weight_hh_l0", "bias_hh_l0", "x W_ih^T + b_ih"} <= into, into
    assert "linear" in out_of and "mul" in out_of  # h_99 into step 100's product, c_99 into f * c
    full = build_graph(loss, model=model, fold=False)
    assert not [n for n in full.nodes.values() if n.kind == FOLD]
    assert (
        fold.op_count
        == sum(n.kind == "op" and step_of(n.path) is not None for n in full.nodes.values()) - 2 * 11
    )


def test_an_rnn_keeps_two_steps_at_each_end_and_fold_k_keeps_k() -> None:
    _, loss = lstm_loss(30, cell=nn.RNN)
    graph = build_graph(loss)
    steps = sorted({found[1] for n in graph.nodes.values() if (found := step_of(n.path)) is not None})
    assert steps == [1, 2, 29, 30]
    graph = build_graph(loss, fold=3)
    steps = sorted({found[1] for n in graph.nodes.values() if (found := step_of(n.path)) is not None})
    assert steps == [1, 2, 3, 28, 29, 30]
    short = build_graph(lstm_loss(5, cell=nn.RNN)[1])
    assert not [n for n in short.nodes.values() if n.kind == FOLD], "5 RNN steps: nothing to fold"
    with pytest.raises(ValueError, match="fold must be True, False or the number of steps"):
        build_graph(loss, fold=0)


def test_fold_and_collapse_together() -> None:
    _, loss = lstm_loss(50)
    graph = build_graph(loss, collapse=True)
    (fold,) = [n for n in graph.nodes.values() if n.kind == FOLD]
    assert fold.label == "… 48 steps …" and fold.op_count == 48 * 11
    assert sorted(n.label for n in graph.nodes.values() if n.kind == "scope") == ["t=1", "t=50"]


@pytest.mark.parametrize(("cell", "steps", "layers", "bidirectional"), [
    (nn.RNN, 5, 1, False), (nn.GRU, 30, 1, False), (nn.LSTM, 100, 2, False), (nn.LSTM, 100, 2, True),
])  # fmt: skip
def test_default_pictures_fit_4000_px(
    renderer: str, tmp_path: Path, cell, steps, layers, bidirectional
) -> None:
    model, loss = lstm_loss(steps, layers, bidirectional, cell)
    for show_grad in (False, True):
        data = viz.render(loss, path=tmp_path / "p.png", model=model, show_grad=show_grad).read_bytes()
        width, height = png_size(data)
        assert max(width, height) <= 4000 and min(width, height) > 150, (width, height)


def test_layers_of_one_module_stack_as_rows() -> None:
    model, loss = lstm_loss(20, layers=2)
    source = viz.draw(loss, model=model).source
    # the edge from layer 0's outputs into layer 1's input projection does not rank the layers
    unconstrained = [line for line in source.splitlines() if "constraint=false" in line]
    assert len(unconstrained) == 1, unconstrained


# ---------------------------------------------------------------- names that explain


def test_lstm_gates_slices_and_zero_initial_states_are_named() -> None:
    model, loss = lstm_loss(3)
    graph = build_graph(loss, model=model, fold=False)
    for k in (1, 2, 3):
        in_step = [n for n in graph.nodes.values() if n.path == ("lstm", "l0", f"t={k}")]
        named = sorted(n.label for n in in_step if n.kind == TENSOR)
        assert named == sorted(["i", "f", "g", "o", f"h_{k}", f"c_{k}", f"x_{k} W_ih^T + b_ih"]), named
        gates = {n.label: n for n in in_step if n.label in "ifgo"}
        activation = {
            label: {graph.nodes[e.target].label for e in graph.edges if e.source == gate.id}
            for label, gate in gates.items()
        }
        assert activation == {"i": {"sigmoid"}, "f": {"sigmoid"}, "g": {"tanh"}, "o": {"sigmoid"}}
        assert "getitem" not in {n.label for n in in_step}, "a named slice is drawn as one box"
    zeros = [n for n in graph.nodes.values() if n.kind == INPUT and n.zeros]
    assert sorted(n.label for n in zeros) == ["c_0", "h_0"], "two nodes, not one shared zeros"
    assert all(n.path == ("lstm", "l0", "t=1") for n in zeros)
    assert "h_0 = 0 (2, 8)" in viz.draw(loss).source


def test_gru_gate_slices_are_named_and_a_given_state_is_not_marked_zero() -> None:
    tg.manual_seed(0)
    gru = nn.GRU(4, 8, num_layers=2)
    h0 = tg.randn(2, 2, 8)
    _, h_n = gru(tg.randn(2, 2, 4), h0)
    graph = build_graph(h_n.sum(), fold=False)
    in_step = [n.label for n in graph.nodes.values() if n.path == ("gru", "l1", "t=2")]
    assert {"r_x", "z_x", "n_x", "r_h", "z_h", "n_h", "h_2", "x_2 W_ih^T + b_ih"} <= set(in_step)
    assert not [n for n in graph.nodes.values() if n.zeros]


class Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(3, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.head(output)


def test_parameters_are_named_by_module_path_and_the_root_is_the_loss() -> None:
    tg.manual_seed(0)
    net = Regressor()
    out = net(tg.randn(5, 1, 3))
    loss = (out * out).mean()
    with_model = build_graph(loss, model=net, show_grad=True)
    assert sorted(n.label for n in with_model.nodes.values() if n.kind == PARAMETER) == sorted(
        name for name, _ in net.named_parameters()
    ) and "head.weight" in labels(with_model)
    renamed = build_graph(loss, model=net, params={"W_out": net.head.weight})
    assert "W_out" in labels(renamed) and "head.weight" not in labels(renamed), "params wins over model"
    assert with_model.root_name == "loss" and "‖∂loss/∂tensor‖" in viz.draw(loss, show_grad=True).source
    loss.name = "nll"
    assert "‖∂nll/∂tensor‖" in viz.draw(loss, show_grad=True).source
    output = net(tg.randn(5, 1, 3))
    assert build_graph(output).root_name == "output"
    assert build_graph(output, loss).root_name == "sum of outputs"
    with pytest.raises(TypeError, match="draw: model must be an nn.Module, got dict"):
        build_graph(loss, model={"w": 1})


def test_label_colour_follows_the_fill_luminance() -> None:
    assert label_colour("#800026") == "white" and label_colour("#bd0026") == "white"
    assert label_colour("#ffffcc") == "black" and label_colour("#feb24c") == "black"
    model, loss = lstm_loss(3, cell=nn.RNN)
    source = viz.draw(loss, show_grad=True).source
    for fill, font in re.findall(r'fillcolor="(#[0-9a-f]{6})" fontcolor=(\w+)', source):
        assert font == label_colour(fill), (fill, font)
    assert re.findall(r'fillcolor="(#[0-9a-f]{6})" fontcolor=(\w+)', source)


# ---------------------------------------------------------------- Picture like a graphviz object


def test_picture_pipe_and_render_work_without_a_system_dot(tmp_path: Path, monkeypatch) -> None:
    hide_system_dot(monkeypatch, tmp_path)
    _, loss = lstm_loss(2, cell=nn.RNN)
    picture = viz.draw(loss)
    assert picture.format == "png" and picture.pipe().startswith(PNG_SIGNATURE)
    assert picture.pipe(format="svg", encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    written = picture.render(tmp_path / "graph")
    assert written == str(tmp_path / "graph.png") and Path(written).read_bytes().startswith(PNG_SIGNATURE)
    assert (tmp_path / "graph").read_text() == picture.source
    written = picture.render("g2", directory=tmp_path, format="svg", cleanup=True)
    assert written == str(tmp_path / "g2.svg") and not (tmp_path / "g2").exists()
    assert picture.render(outfile=tmp_path / "out.svg") == str(tmp_path / "out.svg")
    with pytest.raises(ValueError, match="view=True is not supported"):
        picture.render(tmp_path / "x", view=True)
    bundle = picture._repr_mimebundle_(include=["image/svg+xml"])
    assert "t=2" in bundle["image/svg+xml"]


def test_the_drawing_does_not_change_the_numbers() -> None:
    model, loss = lstm_loss(4)
    before = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    viz.draw(loss, model=model, show_grad=True)
    loss.backward()
    assert all(np.array_equal(before[n], p.detach().numpy()) for n, p in model.named_parameters())
    assert all(p.grad is not None for p in model.parameters())


def test_a_given_initial_state_is_named_h_0_and_c_0_per_layer_without_the_zero_mark() -> None:
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2)
    h0, c0 = tg.randn(2, 1, 4, requires_grad=True), tg.randn(2, 1, 4)
    _, (h_n, _) = lstm(tg.randn(3, 1, 3), (h0, c0))
    graph = build_graph(h_n.sum(), fold=False)
    initial = sorted((n.label, n.kind) for n in graph.nodes.values() if n.label in ("h_0", "c_0"))
    assert initial == [("c_0", INPUT), ("c_0", INPUT), ("h_0", TENSOR), ("h_0", TENSOR)]
    assert not [n for n in graph.nodes.values() if n.zeros]
