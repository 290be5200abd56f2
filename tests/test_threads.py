"""Grad mode, scope and anomaly mode are per thread, and concurrent backwards into one leaf
add up exactly. Bounded: every test runs a few hundred small steps."""

from __future__ import annotations

import threading

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn


def _run_threads(targets: list, timeout: float = 60.0) -> None:
    errors: list[BaseException] = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as error:  # reported in the main thread
                errors.append(error)

        return run

    threads = [threading.Thread(target=guarded(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a thread did not finish"
    if errors:
        raise errors[0]


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside = threading.Event()
    release = threading.Event()
    recorded = []

    def quiet():
        with tg.no_grad():
            inside.set()
            release.wait(10)

    def busy():
        inside.wait(10)
        x = tg.Tensor([1.0, 2.0], requires_grad=True)
        recorded.append((x * 2).requires_grad)
        release.set()

    _run_threads([quiet, busy])
    assert recorded == [True]
    assert tg.is_grad_enabled()


def test_overlapping_no_grad_blocks_leave_grad_mode_on():
    barrier = threading.Barrier(4)

    def worker():
        with tg.no_grad():
            barrier.wait(10)  # all four blocks are open at once
        for _ in range(200):
            with tg.no_grad():
                assert not tg.is_grad_enabled()
            assert tg.is_grad_enabled()

    _run_threads([worker] * 4)
    assert tg.is_grad_enabled()


def test_scope_is_per_thread():
    seen = {}
    both_inside = threading.Barrier(2)

    def tagged(name):
        def run():
            with tg.scope(name):
                both_inside.wait(10)
                x = tg.Tensor([1.0], requires_grad=True)
                seen[name] = (x * 2).op.scope

        return run

    _run_threads([tagged("a"), tagged("b")])
    assert seen == {"a": ("a",), "b": ("b",)}


def test_backward_in_one_thread_keeps_recording_in_another():
    stop = threading.Event()
    missed = []

    def backwards():
        x = tg.Tensor(np.ones(50), requires_grad=True)
        for _ in range(200):
            (x * x).tanh().sum().backward()
        stop.set()

    def forwards():
        w = tg.Tensor([1.0], requires_grad=True)
        while not stop.is_set():
            if not (w * 3).requires_grad:
                missed.append(1)

    _run_threads([backwards, forwards])
    assert not missed


def test_concurrent_backwards_into_one_leaf_lose_no_update():
    w = tg.Tensor(np.zeros(4), requires_grad=True)
    threads, steps = 4, 100

    def worker():
        for _ in range(steps):
            (w * 1.0 + 1.0).sum().backward()

    _run_threads([worker] * threads)
    np.testing.assert_array_equal(w.grad.numpy(), np.full(4, float(threads * steps)))


def test_two_models_training_in_two_threads_get_their_sequential_gradients():
    def make(seed):
        tg.manual_seed(seed)
        return nn.RNN(3, 5).double()

    def grads(model, x):
        model.zero_grad()
        out, _ = model(x)
        (out * out).sum().backward()
        return {n: p.grad.numpy().copy() for n, p in model.named_parameters()}

    rng = np.random.default_rng(0)
    xs = [tg.Tensor(rng.standard_normal((20, 2, 3))) for _ in range(2)]
    models = [make(1), make(2)]
    expected = [grads(m, x) for m, x in zip(models, xs)]
    got: list[dict] = [{}, {}]

    def train(i):
        def run():
            for _ in range(20):
                got[i] = grads(models[i], xs[i])

        return run

    _run_threads([train(0), train(1)])
    for want, have in zip(expected, got):
        for name in want:
            np.testing.assert_array_equal(have[name], want[name], err_msg=name)


def test_set_grad_enabled_as_a_decorator_switches_only_while_the_function_runs():
    @tg.set_grad_enabled(False)
    def predict(x):
        return x * 2, tg.is_grad_enabled()

    assert tg.is_grad_enabled(), "decorating must not switch grad mode off"
    y, mode_inside = predict(tg.Tensor([1.0], requires_grad=True))
    assert not mode_inside and not y.requires_grad
    assert tg.is_grad_enabled()


def test_set_grad_enabled_called_alone_switches_now_and_as_context_restores():
    try:
        tg.set_grad_enabled(False)
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_nested_reuse_of_one_no_grad_object_restores_each_level():
    quiet = tg.no_grad()
    with quiet:
        with tg.enable_grad():
            with quiet:
                assert not tg.is_grad_enabled()
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
