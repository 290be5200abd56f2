"""Training an unrolled LSTM does not keep old graphs alive: each step's graph is freed by
reference counting alone as soon as the step's tensors go out of scope (no gc pass)."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn

T, B, IN, H = 8, 4, 6, 16


class _GcDisabled:
    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


def _make_model():
    tg.manual_seed(0)
    return nn.LSTM(IN, H, num_layers=2, bidirectional=True)


def _train_step(lstm, x, target, state):
    """One truncated-BPTT step with a hand-written SGD update (no optimizer dependency):
    forward, squared error on the output, backward, update, detach the carried state."""
    output, (h_n, c_n) = lstm(x, state)
    loss = ((output - target) ** 2).mean()
    lstm.zero_grad()
    loss.backward()
    for p in lstm.parameters():
        p.data -= 0.01 * p.grad.data
    return loss.item(), (h_n.detach(), c_n.detach())


@pytest.mark.slow
def test_hundred_training_steps_do_not_grow_memory():
    """Traced memory after step 100 vs after step 50 (by then Python's free lists for
    small objects have filled up: over the first ~35 steps they grow by a few KB per step
    and then stop; after other tests ran in the same process, they still settle by some
    KB over steps 50-100). The tolerance is a quarter of what ONE step's graph holds, so a
    leak of even a single graph over the 50 steps fails."""
    lstm = _make_model()
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((T, B, IN)).astype(np.float32))
    target = tg.Tensor(rng.standard_normal((T, B, 2 * H)).astype(np.float32))
    state = None
    with _GcDisabled():
        tracemalloc.start()
        try:
            for step in range(1, 101):
                _, state = _train_step(lstm, x, target, state)
                if step == 50:
                    after_50, _ = tracemalloc.get_traced_memory()
                    tracemalloc.reset_peak()
            after_100, peak = tracemalloc.get_traced_memory()
            output, _ = lstm(x, state)
            one_graph = tracemalloc.get_traced_memory()[0] - after_100
            del output
        finally:
            tracemalloc.stop()
    assert one_graph > 100_000  # the measure below is meaningful: a graph is big
    growth = after_100 - after_50
    assert growth < one_graph / 4, f"memory grew by {growth} bytes over 50 steps (one graph: {one_graph})"
    assert peak - after_100 < 3 * one_graph, "a step held more than its own graph at its peak"


def test_a_steps_graph_dies_without_a_gc_pass():
    lstm = _make_model()
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.standard_normal((T, B, IN)).astype(np.float32))
    with _GcDisabled():
        output, (h_n, c_n) = lstm(x)
        step_op = output.op.inputs[1]  # the op that made a hidden state of one time step
        refs = [weakref.ref(t) for t in (output, h_n, c_n)]
        op_refs = [weakref.ref(op) for op in (output.op, h_n.op, step_op)]
        loss = (output * output).mean()
        loss.backward()
        carried = (h_n.detach(), c_n.detach())
        del output, h_n, c_n, step_op, loss
        assert all(r() is None for r in refs), "a tensor of the finished step is still alive"
        assert all(r() is None for r in op_refs), "an op of the finished step is still alive"
        lstm(x, carried)  # the detached state is all that the next step needs


def test_graph_dies_even_without_backward():
    """A forward whose result is dropped (e.g. evaluation without no_grad) frees itself."""
    lstm = _make_model()
    x = tg.randn(T, B, IN)
    with _GcDisabled():
        output, _ = lstm(x)
        first_op = weakref.ref(output.op.inputs[1])
        del output
        assert first_op() is None
