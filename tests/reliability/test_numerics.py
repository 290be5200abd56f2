"""Numerics under stress: float16 gradient clipping, gradcheck on any memory layout,
Module.to's dtype and device rules, and the memory a large recurrent layer needs to build."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.autograd import Function, GradcheckError, gradcheck
from tinygrad_rnn.nn.utils import clip_grad_norm_

# --------------------------------------------------------------------------- clip_grad_norm_


def _clip_both(grads: list[np.ndarray], max_norm: float, norm_type: float):
    ours = [tg.Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=getattr(torch, g.dtype.name))) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad = g.copy()
        t.grad = torch.from_numpy(g.copy())
    total = clip_grad_norm_(ours, max_norm, norm_type)
    reference = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    return total, reference, ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_float16_gradients_clip_like_torch_without_overflow(norm_type):
    """Elements of 300: each square (90000) overflows float16; the norm (~5500) does not."""
    grads = [np.linspace(-300, 300, 1000).astype(np.float16), np.full(10, 7.0, np.float16)]
    total, reference, ours, theirs = _clip_both(grads, 1.0, norm_type)
    if norm_type == 1.0:
        assert np.isinf(reference.item())  # the 1-norm (~150000) does not fit float16 in torch either
    assert total.dtype == np.float16
    assert total.item() == reference.item()
    for p, t in zip(ours, theirs):
        if np.isfinite(reference.item()):
            np.testing.assert_array_equal(p.grad._data, t.grad.numpy())
        assert np.isfinite(p.grad._data).all() and p.grad._data.any(), "gradients were zeroed"


def test_a_norm_beyond_float16_scales_instead_of_zeroing():
    """torch returns inf and zeroes every gradient; we return inf too but scale by the true norm."""
    grads = [np.full(1000, 3000.0, np.float16)]
    total, reference, ours, theirs = _clip_both(grads, 1.0, 2.0)
    assert np.isinf(total.item()) and np.isinf(reference.item())
    assert not theirs[0].grad.numpy().any()
    true_norm = math.sqrt(1000) * 3000.0
    np.testing.assert_allclose(ours[0].grad._data.astype(np.float64), 3000.0 / true_norm, rtol=1e-3)


def test_float32_and_float64_still_match_torch():
    rng = np.random.default_rng(0)
    for dtype, rtol in ((np.float32, 1e-6), (np.float64, 1e-12)):
        grads = [rng.standard_normal(50).astype(dtype), rng.standard_normal((4, 5)).astype(dtype)]
        total, reference, ours, theirs = _clip_both(grads, 0.5, 2.0)
        np.testing.assert_allclose(total.item(), reference.item(), rtol=rtol)
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.grad._data, t.grad.numpy(), rtol=rtol, atol=0)


# --------------------------------------------------------------------------- gradcheck


def _layouts() -> dict[str, tg.Tensor]:
    base = np.random.default_rng(1).standard_normal((3, 4))
    fortran = tg.Tensor._make(np.asfortranarray(base), True, None)
    transposed = tg.Tensor._make(base.T.copy().T, True, None)  # C data seen through a transpose
    strided = tg.Tensor._make(np.random.default_rng(2).standard_normal((6, 8))[::2, ::2], True, None)
    read_only = base.copy()
    read_only.flags.writeable = False
    return {
        "fortran": fortran,
        "transposed": transposed,
        "strided": strided,
        "read-only": tg.Tensor._make(read_only, True, None),
    }


@pytest.mark.parametrize("layout", ["fortran", "transposed", "strided", "read-only"])
def test_gradcheck_passes_correct_gradients_for_any_layout(layout):
    x = _layouts()[layout]
    assert not x._data.flags.c_contiguous or layout == "read-only"
    before = x._data
    copy = before.copy()
    assert gradcheck(lambda t: (t * t).tanh().sum(1) * t[:, 0], x)
    assert x._data is before
    np.testing.assert_array_equal(x._data, copy)


class WrongSquare(Function):
    """x**2 with a backward that is wrong for one element: gradcheck must catch it."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        result = 2 * x * grad
        result.flat[5] += 1.0
        return result


@pytest.mark.parametrize("layout", ["fortran", "transposed"])
def test_gradcheck_still_catches_a_wrong_gradient_for_any_layout(layout):
    x = _layouts()[layout]
    with pytest.raises(GradcheckError, match=r"element \(1, 1\)"):
        gradcheck(lambda t: WrongSquare.apply(t), x)


def test_gradcheck_restores_the_input_when_fn_raises():
    x = tg.Tensor(np.random.default_rng(3).standard_normal(5), requires_grad=True)
    before, copy = x._data, x._data.copy()
    calls = []

    def fn(t):
        calls.append(1)
        if len(calls) == 4:  # during the finite differences, with an element perturbed
            raise ArithmeticError("fn failed")
        return t.tanh()

    with pytest.raises(ArithmeticError, match="fn failed"):
        gradcheck(fn, x)
    assert x._data is before
    np.testing.assert_array_equal(x._data, copy)


# --------------------------------------------------------------------------- Module.to


@pytest.mark.parametrize(
    "dtype", [np.int64, np.int32, np.bool_, np.complex128, torch.int64, np.dtype("int64")]
)
def test_module_to_refuses_non_floating_dtypes(dtype):
    layer = nn.Linear(2, 3)
    before = layer.weight._data
    with pytest.raises(TypeError, match="only accepts floating point dtypes.*dtype="):
        layer.to(dtype)
    assert layer.weight._data is before


def test_torch_refuses_integer_module_dtypes_with_the_same_class():
    with pytest.raises(TypeError, match="only accepts floating point"):
        torch.nn.Linear(2, 3).to(torch.int64)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        (("cpu",), {}),
        (("cpu:0",), {}),
        ((torch.device("cpu"),), {}),
        ((), {"device": "cpu"}),
        (("cpu", np.float64), {}),
        ((), {"device": "cpu", "dtype": np.float64}),
        ((torch.float64,), {}),
        ((tg.Tensor(np.zeros(1)),), {}),
        ((torch.zeros(1, dtype=torch.float64),), {}),
        ((np.float64, True), {}),
    ],
)
def test_module_to_takes_torchs_forms(args, kwargs):
    layer = nn.Linear(2, 3)
    assert layer.to(*args, **kwargs) is layer
    wants_double = any(
        a not in ("cpu", "cpu:0") and not isinstance(a, torch.device) for a in args
    ) or kwargs.get("dtype")
    assert layer.weight.dtype == (np.float64 if wants_double else np.float32)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", torch.device("meta")])
def test_module_to_another_device_is_a_clear_error(device):
    layer = nn.Linear(2, 3)
    with pytest.raises(RuntimeError, match="only 'cpu' is available.*device"):
        layer.to(device)
    with pytest.raises(RuntimeError, match="only 'cpu' is available"):
        layer.to(device=device, dtype=np.float64)
    assert layer.weight.dtype == np.float32


def test_a_string_is_a_device_as_in_torch():
    for name in ("banana", "float64"):
        with pytest.raises(RuntimeError, match="only 'cpu' is available"):
            nn.Linear(2, 3).to(name)
        with pytest.raises(RuntimeError):
            torch.nn.Linear(2, 3).to(name)


# --------------------------------------------------------------------------- building big layers


@pytest.mark.parametrize(
    "layer", [lambda: nn.RNN(10, 1500), lambda: nn.LSTM(10, 700), lambda: nn.GRUCell(10, 800)]
)
def test_building_a_recurrent_layer_needs_little_more_than_its_weights(layer):
    tracemalloc.start()
    try:
        built = layer()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    weights = sum(p._data.nbytes for p in built.parameters())
    assert peak < 1.1 * weights + 2_000_000, f"peak {peak / weights:.2f}x the weights"


def test_the_initial_weights_are_the_seeded_uniform_numbers():
    """Filling in chunks draws the same numbers, in the same order, as init.uniform_."""
    tg.manual_seed(5)
    layer = nn.GRU(3, 300, num_layers=2, bidirectional=True)
    tg.manual_seed(5)
    rng = tg.creation.generator()
    bound = 1 / math.sqrt(300)
    for name, p in layer.named_parameters():
        expected = rng.uniform(-bound, bound, p.shape).astype(np.float32)
        np.testing.assert_array_equal(p._data, expected, err_msg=name)
        assert p.dtype == np.float32 and p._data.flags.c_contiguous


def test_module_to_refuses_what_numpy_cannot_hold_and_unknown_keywords():
    layer = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="no bfloat16"):
        layer.to(torch.bfloat16)
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['colour'\\]"):
        layer.to(colour="red")
    with pytest.raises(RuntimeError, match="only 'cpu' is available"):
        layer.to(torch.zeros(1, device="meta"))
    assert layer.weight.dtype == np.float32
