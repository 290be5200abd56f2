"""The graph model the renderer draws: nodes, edges and clusters built from a walk of the graph."""

from __future__ import annotations

import gc
import weakref

import numpy as np

import tinygrad_rnn as tg


def test_detach_remembers_where_the_graph_was_cut_without_keeping_it_alive():
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    with tg.scope("rnn"), tg.scope("t=4"):
        hidden = (x * 2).tanh()
    op = weakref.ref(hidden.op)
    cut = hidden.detach()
    assert cut._detached_from == ("tanh", ("rnn", "t=4"))
    assert cut.data is hidden.data and cut.op is None and not cut.requires_grad
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
