"""The graph model the renderer draws: nodes, edges and clusters built from a walk of the graph
(pure Python: no graphviz involved)."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.viz.graph import (
    GHOST,
    INPUT,
    OP,
    PARAMETER,
    SCOPE,
    TENSOR,
    GraphModel,
    build_graph,
    flatten_roots,
    step_of,
)


def hand_rnn(steps=5, hidden=6, inputs=3, batch=2, seed=0, scale=0.4, carried=None):
    """A tanh RNN unrolled by hand inside scope("rnn") > scope("t=k"); returns
    (loss, hidden states, params). ``carried`` is the initial hidden state (zeros if None)."""
    rng = np.random.default_rng(seed)
    params = {
        "weight_ih": tg.Tensor(rng.standard_normal((hidden, inputs)) * scale, requires_grad=True),
        "weight_hh": tg.Tensor(rng.standard_normal((hidden, hidden)) * scale, requires_grad=True),
        "bias": tg.Tensor(np.zeros(hidden), requires_grad=True),
    }
    h = carried if carried is not None else tg.Tensor(np.zeros((batch, hidden)))
    states = []
    with tg.scope("rnn"):
        for t in range(steps):
            x = tg.Tensor(rng.standard_normal((batch, inputs)))
            with tg.scope(f"t={t + 1}"):
                h = (x @ params["weight_ih"].T + h @ params["weight_hh"].T + params["bias"]).tanh()
            states.append(h)
    loss = (h * h).mean()
    return loss, states, params


def named(model: GraphModel, name: str):
    found = [n for n in model.nodes.values() if n.name == name]
    assert len(found) == 1, f"{len(found)} nodes named {name!r}: {[n.label for n in model.nodes.values()]}"
    return found[0]


def step_index(model: GraphModel, node_id: str) -> int | None:
    found = step_of(model.nodes[node_id].path)
    return found[1] if found else None


# ---------------------------------------------------------------- structure


def test_one_cluster_per_time_step_nested_in_the_layer_scope():
    loss, _, params = hand_rnn(steps=5)
    model = build_graph(loss, params=params)
    steps = model.child_clusters(("rnn",))
    assert [c.label for c in steps] == ["t=1", "t=2", "t=3", "t=4", "t=5"]
    assert [c.step for c in steps] == [1, 2, 3, 4, 5]
    assert set(model.clusters) == {("rnn",)} | {("rnn", f"t={k}") for k in range(1, 6)}
    for k in range(1, 6):
        ops = [n.label for n in model.nodes_in(("rnn", f"t={k}")) if n.kind == OP]
        assert sorted(ops) == ["add", "add", "matmul", "matmul", "tanh", "transpose", "transpose"], (k, ops)
    top_level_ops = sorted(n.label for n in model.nodes_in(()) if n.kind == OP)
    assert top_level_ops == ["mean", "mul"]


def test_a_shared_parameter_is_one_node_outside_the_steps_with_an_edge_into_each_step():
    loss, _, params = hand_rnn(steps=5)
    model = build_graph(loss, params=params)
    parameters = model.nodes_of_kind(PARAMETER)
    assert sorted(n.name for n in parameters) == ["bias", "weight_hh", "weight_ih"]
    for node in parameters:
        assert node.scope == ("rnn",), f"{node.name} drawn inside {node.scope}"
        steps_fed = {step_index(model, e.target) for e in model.edges if e.source == node.id}
        assert steps_fed == {1, 2, 3, 4, 5}, (node.name, steps_fed)
    assert named(model, "weight_hh").shape == (6, 6)
    one_step, _, params = hand_rnn(steps=1)
    alone = build_graph(one_step, params=params)
    assert {n.scope for n in alone.nodes_of_kind(PARAMETER)} == {("rnn",)}, "never inside a step cluster"


def test_the_hidden_state_handed_to_the_next_step_is_a_tensor_node_and_intermediates_are_edges():
    loss, states, params = hand_rnn(steps=3)
    model = build_graph(loss, params=params)
    tensors = model.nodes_of_kind(TENSOR)
    by_scope = {}
    for node in tensors:
        by_scope.setdefault(node.scope, []).append(node)
    # h1 and h2 leave their step; h3 leaves it for the loss; then the root (the loss)
    assert {s: len(n) for s, n in by_scope.items()} == {("rnn", f"t={k}"): 1 for k in (1, 2, 3)} | {(): 1}
    assert all(n.shape == (2, 6) for s, ns in by_scope.items() if s for n in ns)
    root = by_scope[()][0]
    assert root.is_root and root.label == "loss" and root.shape == (), "an unnamed scalar root is the loss"
    assert model.root_name == "loss"
    every = build_graph(loss, params=params, all_tensors=True)
    assert len(every.nodes_of_kind(TENSOR)) == len(every.nodes_of_kind(OP)), "one tensor per op"


def test_inputs_sit_in_the_step_that_uses_them_and_edges_follow_data():
    loss, _, params = hand_rnn(steps=2)
    model = build_graph(loss, params=params)
    inputs = model.nodes_of_kind(INPUT)
    # x_1 and h_0 in t=1, x_2 in t=2
    assert sorted(n.scope[-1] for n in inputs) == ["t=1", "t=1", "t=2"]
    assert all(not n.requires_grad and n.grad_norm is None for n in inputs)
    ids = set(model.nodes)
    assert all(e.source in ids and e.target in ids for e in model.edges)
    assert len(model.edges) == len(set(model.edges)), "no duplicate edges"


def test_names_come_from_modules_params_and_tensor_names():
    tg.manual_seed(0)
    rnn = nn.RNN(3, 4, num_layers=2)
    x = tg.randn(4, 2, 3)
    x.name = "x"
    output, h_n = rnn(x)
    model = build_graph(output, h_n)
    names = sorted(n.name for n in model.nodes_of_kind(PARAMETER))
    assert names == sorted(name for name, _ in rnn.named_parameters())
    assert named(model, "x").kind == INPUT
    assert [n.label for n in model.nodes.values() if n.is_root] == ["output 1", "output 2"]
    # a dotted name from a parent module wins, as the params dict does
    outer = nn.Sequential(rnn)
    assert named(build_graph(h_n), "0.weight_hh_l1").shape == (4, 4)
    renamed = build_graph(h_n, params={"recurrent": outer[0].weight_hh_l1})
    assert named(renamed, "recurrent").kind == PARAMETER


def test_a_plain_leaf_that_requires_grad_is_drawn_as_a_parameter():
    weight = tg.randn(3, 3, requires_grad=True)
    model = build_graph((tg.ones(2, 3) @ weight).sum())
    (node,) = model.nodes_of_kind(PARAMETER)
    assert node.name is None and node.shape == (3, 3)


def test_layers_and_directions_of_nn_layers_are_nested_clusters():
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    output, (h_n, c_n) = lstm(tg.randn(3, 2, 3))
    model = build_graph(output, (h_n, c_n))
    layers = [c.label for c in model.child_clusters(("lstm",))]
    assert sorted(layers) == ["l0", "l0_reverse", "l1", "l1_reverse"]
    for layer in layers:
        assert [c.label for c in model.child_clusters(("lstm", layer))] == ["t=1", "t=2", "t=3"]
    weight = named(model, "weight_hh_l1_reverse")
    assert weight.scope == ("lstm", "l1_reverse")


def test_step_of_finds_the_innermost_time_step():
    assert step_of(("lstm", "l0", "t=3", "gates")) == (("lstm", "l0"), 3)
    assert step_of(("t=1", "inner", "t=12")) == (("t=1", "inner"), 12)
    assert step_of(("encoder", "tail")) is None
    assert step_of(("t=x",)) is None


def test_roots_may_nest_and_must_be_tensors():
    a = tg.ones(2, requires_grad=True)
    b = a * 2
    assert flatten_roots([b, (a, [b])]) == [b, a]
    with pytest.raises(TypeError, match="got int"):
        flatten_roots([b, 3])
    with pytest.raises(ValueError, match="at least one tensor"):
        flatten_roots([()])


def test_a_leaf_root_and_a_graph_without_scopes():
    leaf = tg.ones(3, requires_grad=True)
    model = build_graph(leaf)
    (node,) = model.nodes.values()
    assert node.kind == PARAMETER and node.is_root and not model.clusters and not model.edges


def test_a_deep_graph_is_walked_without_recursion():
    x = tg.Tensor(np.ones(2), requires_grad=True)
    h = x
    for t in range(3000):
        with tg.scope(f"t={t + 1}"):
            h = h * 0.5 + 1.0
    model = build_graph(h, fold=False)
    assert len(model.nodes_of_kind(OP)) == 6000
    assert len(build_graph(h, collapse=True, fold=False).nodes_of_kind(SCOPE)) == 3000


# ---------------------------------------------------------------- gradients


def test_show_grad_gives_the_norm_of_the_gradient_at_every_tensor():
    loss, states, params = hand_rnn(steps=4)
    model = build_graph(loss, params=params, show_grad=True)
    expected = tg.autograd.grad(loss, [*states, *params.values()], retain_graph=True)
    hidden = sorted((n for n in model.nodes_of_kind(TENSOR) if n.scope), key=lambda n: n.scope)
    names = [f"h{k}" for k in range(1, 5)] + list(params)
    got = [n.grad_norm for n in hidden] + [named(model, name).grad_norm for name in params]
    for name, norm, grad in zip(names, got, expected):
        assert norm == pytest.approx(float(np.linalg.norm(grad.detach().numpy())), rel=1e-6), name
    assert [n for n in model.nodes.values() if n.is_root][0].grad_norm == 1.0
    assert all(n.grad_norm is None for n in model.nodes_of_kind(INPUT))


def test_gradients_fade_back_through_time_in_a_contracting_rnn():
    loss, _, params = hand_rnn(steps=6, scale=0.3)
    model = build_graph(loss, params=params, show_grad=True)
    hidden = sorted((n for n in model.nodes_of_kind(TENSOR) if n.scope), key=lambda n: n.scope[-1])
    norms = [n.grad_norm for n in hidden]
    assert all(a < b for a, b in zip(norms, norms[1:])), norms
    low, high = model.grad_range()
    coloured = [n.grad_norm for n in model.nodes.values() if n.kind != OP and n.grad_norm is not None]
    assert (low, high) == (min(coloured), 1.0) and low <= norms[0]


def test_show_grad_leaves_grad_fields_alone_and_the_graph_usable():
    loss, _, params = hand_rnn(steps=3)
    weight_hh = params["weight_hh"]
    weight_hh.grad = np.full(weight_hh.shape, 7.0)
    build_graph(loss, params=params, show_grad=True)
    build_graph(loss, params=params, show_grad=True)  # twice: nothing accumulates anywhere
    assert params["weight_ih"].grad is None and params["bias"].grad is None
    assert np.all(weight_hh.grad.detach().numpy() == 7.0)
    expected = tg.autograd.grad(loss, [params["weight_ih"]], retain_graph=True)[0]
    loss.backward()  # the graph's saved arrays are still there
    np.testing.assert_allclose(params["weight_ih"].grad.detach().numpy(), expected.detach().numpy())


def test_show_grad_after_a_backward_that_freed_the_graph_says_what_to_do():
    loss, _, params = hand_rnn(steps=2)
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        build_graph(loss, params=params, show_grad=True)
    assert build_graph(loss, params=params).nodes, "drawing without gradients still works"


def test_show_grad_needs_a_root_that_requires_grad():
    with pytest.raises(ValueError, match="no root requires grad"):
        build_graph(tg.ones(2) * 2, show_grad=True)


# ---------------------------------------------------------------- truncated BPTT


def test_detach_remembers_where_the_graph_was_cut_without_keeping_it_alive():
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    with tg.scope("rnn"), tg.scope("t=4"):
        hidden = (x * 2).tanh()
    op = weakref.ref(hidden.op)
    cut = hidden.detach()
    assert cut._detached_from == ("tanh", ("rnn", "t=4"))
    assert np.shares_memory(cut.numpy(), hidden.detach().numpy()) and cut.op is None and not cut.requires_grad
    assert cut.detach()._detached_from == ("tanh", ("rnn", "t=4")), "detaching again keeps the mark"
    assert x.detach()._detached_from is None, "a leaf was never part of a graph"
    assert tg.Tensor(1.0)._detached_from is None and (x + 1)._detached_from is None
    del hidden
    gc.collect()
    assert op() is None, "the mark must not keep the old graph alive"


def test_values_computed_from_a_detached_tensor_outside_the_graph_keep_the_mark():
    weight = tg.Tensor(np.ones((3, 3)), requires_grad=True)
    with tg.scope("t=2"):
        carried = (tg.Tensor(np.ones((1, 2, 3)), requires_grad=True) * 2).tanh().detach()
    first_layer = carried[0]  # what a recurrent layer does with hx: a view, no graph recorded
    assert first_layer.op is None and first_layer._detached_from == ("tanh", ("t=2",))
    assert (first_layer * 0.5)._detached_from == ("tanh", ("t=2",))
    assert (first_layer @ weight).op is not None, "once the graph is recorded the leaf itself is the mark"
    with tg.no_grad():
        assert (weight * 2)._detached_from is None, "never marked without a detach"


def test_a_state_carried_with_detach_becomes_a_ghost_at_the_start_of_the_chunk():
    _, states, _ = hand_rnn(steps=3)
    loss, _, params = hand_rnn(steps=2, seed=1, carried=states[-1].detach())
    model = build_graph(loss, params=params, show_grad=True)
    (ghost,) = model.nodes_of_kind(GHOST)
    assert ghost.detail == "detached from tanh in rnn/t=3"
    assert ghost.scope == ("rnn", "t=1") and ghost.shape == (2, 6) and ghost.grad_norm is None
    (edge,) = [e for e in model.edges if e.source == ghost.id]
    assert edge.cut and step_index(model, edge.target) == 1
    assert not any(e.cut for e in model.edges if e.source != ghost.id)
    assert not model.nodes_of_kind(INPUT) or all(
        n.scope[-1] != "t=1" or n.shape != (2, 6) for n in model.nodes_of_kind(INPUT)
    )


def test_an_lstm_state_carried_between_chunks_gives_two_ghosts():
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 4)
    _, (h, c) = lstm(tg.randn(3, 2, 3))
    _, (h2, _) = lstm(tg.randn(3, 2, 3), (h.detach(), c.detach()))
    ghosts = build_graph(h2).nodes_of_kind(GHOST)
    assert len(ghosts) == 2
    assert all(g.detail == "detached from stack in lstm" for g in ghosts)
    assert all(g.scope == ("lstm", "l0", "t=1") for g in ghosts)


# ---------------------------------------------------------------- collapse


def test_collapse_makes_one_node_per_step_and_keeps_parameters_and_ghosts():
    _, states, _ = hand_rnn(steps=2)
    loss, _, params = hand_rnn(steps=5, carried=states[-1].detach())
    model = build_graph(loss, params=params, show_grad=True, collapse=True)
    steps = model.nodes_of_kind(SCOPE)
    assert [n.label for n in steps] == ["t=1", "t=2", "t=3", "t=4", "t=5"]
    assert all(n.scope == ("rnn",) and n.op_count == 7 for n in steps)
    assert set(steps[0].detail.split(", ")) == {"matmul", "transpose", "add", "tanh"}
    assert sorted(n.name for n in model.nodes_of_kind(PARAMETER)) == ["bias", "weight_hh", "weight_ih"]
    assert all(n.scope == ("rnn",) for n in model.nodes_of_kind(PARAMETER, GHOST))
    assert len(model.nodes_of_kind(GHOST)) == 1
    assert not model.nodes_of_kind(INPUT), "inputs used by one step are folded into it"
    assert [n.label for n in model.nodes_of_kind(OP)] == ["mul", "mean"]
    assert model.child_clusters(("rnn",)) == [], "no step clusters left"
    chain = {(step_index(model, e.source), step_index(model, e.target)) for e in model.edges}
    assert {(k, k + 1) for k in range(1, 5)} <= chain
    norms = [n.grad_norm for n in steps]
    assert all(a < b for a, b in zip(norms, norms[1:])), norms
    full = build_graph(loss, params=params, show_grad=True)
    last_hidden = [n for n in full.nodes_of_kind(TENSOR) if n.scope == ("rnn", "t=5")][0]
    assert norms[-1] == pytest.approx(last_hidden.grad_norm)


def test_a_collapsed_100_step_lstm_is_a_chain_of_100_nodes():
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 4)
    _, (h_n, _) = lstm(tg.randn(100, 1, 3))
    model = build_graph(h_n, collapse=True, fold=False)
    steps = model.nodes_of_kind(SCOPE)
    assert len(steps) == 100 and [n.label for n in steps[:2]] == ["t=1", "t=2"]
    assert len(model.nodes) < 115, len(model.nodes)
    assert len(build_graph(h_n, fold=False).nodes_of_kind(OP)) > 1000
