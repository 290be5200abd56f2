"""Every op's forward, gradient and second derivative against torch, in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tinygrad_rnn as tg

from .helpers import check_op

rng = np.random.default_rng(1234)


def randn(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def positive(*shape: int) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=25, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4))
def test_binary_broadcasting(name, shapes):
    fn = BINARY[name]
    a_shape, b_shape = shapes.input_shapes
    b = positive(*b_shape) if name == "div" else randn(*b_shape)
    check_op(fn, fn, [randn(*a_shape), b])


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("scalar", [2.5, -3])
def test_binary_with_python_number_on_either_side(name, scalar):
    fn = BINARY[name]
    x = positive(3, 4)
    check_op(lambda a: fn(a, scalar), lambda a: fn(a, scalar), [x])
    check_op(lambda a: fn(scalar, a), lambda a: fn(scalar, a), [x])


def test_pow_forms():
    check_op(lambda a: a**3, lambda a: a**3, [randn(3, 4)])
    check_op(lambda a: a**0.5, lambda a: a**0.5, [positive(3, 4)])
    check_op(lambda a: 2.0**a, lambda a: 2.0**a, [randn(3, 4)])
    check_op(lambda a, b: a**b, lambda a, b: a**b, [positive(3, 4), randn(4)])


def test_pow_zero_exponent_has_zero_gradient_at_zero():
    x = tg.Tensor(np.zeros(3), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), np.zeros(3))


def test_neg():
    check_op(lambda a: -a, lambda a: -a, [randn(2, 3)])


@pytest.mark.parametrize(
    "name, make",
    [
        ("exp", randn),
        ("log", positive),
        ("sqrt", positive),
        ("abs", randn),
        ("tanh", randn),
        ("sigmoid", randn),
        ("relu", randn),
    ],
)
def test_unary(name, make):
    check_op(lambda a: getattr(a, name)(), lambda a: getattr(a, name)(), [make(3, 5)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_exact_in_the_tails(dtype):
    x = np.array([-800.0, -100.0, -40.0, -20.0, -5.0, 0.0, 5.0, 40.0, 800.0], dtype=dtype)
    ours = tg.Tensor(x).sigmoid().detach().numpy()
    theirs = torch.sigmoid(torch.tensor(x)).numpy()
    assert ours.dtype == dtype
    tiny = np.finfo(dtype).tiny * 1e8  # where torch underflows towards 0, ours stops just above
    np.testing.assert_allclose(ours, theirs, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=tiny)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family(name, dim):
    x = randn(3, 4) * 3
    check_op(lambda a: getattr(a, name)(dim), lambda a: getattr(a, name)(dim), [x])


def test_log_softmax_is_stable_for_huge_logits():
    x = np.array([[1000.0, 0.0, -1000.0]])
    ours = tg.Tensor(x).log_softmax(1).detach().numpy()
    np.testing.assert_allclose(ours, torch.tensor(x).log_softmax(1).numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), (-1, False), ((0, 2), True)])
def test_reductions(name, dim, keepdim):
    def ours(a):
        return getattr(a, name)(dim=dim, keepdim=keepdim)

    def theirs(a):
        return getattr(a, name)() if dim is None else getattr(a, name)(dim=dim, keepdim=keepdim)

    check_op(ours, theirs, [randn(2, 3, 4)])


def test_max_without_dim_and_ties_share_the_gradient():
    check_op(lambda a: a.max(), lambda a: a.max(), [randn(3, 4)])
    x = np.array([1.0, 3.0, 3.0, 2.0])
    check_op(lambda a: a.max(), lambda a: a.max(), [x])


@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, True), (-1, False)])
def test_max_with_dim_returns_values_and_indices(dim, keepdim):
    x = randn(3, 4, 2)
    check_op(lambda a: a.max(dim, keepdim)[0], lambda a: a.max(dim, keepdim)[0], [x])
    ours = tg.Tensor(x).max(dim, keepdim)[1]
    theirs = torch.tensor(x).max(dim, keepdim)[1]
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.numpy())
    assert ours.dtype == np.int64


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [
        ((3,), (3,)),
        ((3,), (3, 4)),
        ((2, 3), (3,)),
        ((2, 3), (3, 4)),
        ((5, 2, 3), (3, 4)),
        ((2, 3), (5, 3, 4)),
        ((5, 1, 2, 3), (4, 3, 2)),
        ((5, 2, 3), (5, 3, 4)),
    ],
)
def test_matmul(a_shape, b_shape):
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [randn(*a_shape), randn(*b_shape)])


def test_linear_op_with_and_without_bias():
    from tinygrad_rnn.ops import Linear

    x, w, b = randn(2, 5, 3), randn(4, 3), randn(4)
    check_op(lambda x, w, b: Linear.apply(x, w, b), torch.nn.functional.linear, [x, w, b])
    check_op(lambda x, w: Linear.apply(x, w, None), torch.nn.functional.linear, [x, w])


def test_shape_ops():
    x = randn(2, 3, 4)
    check_op(lambda a: a.reshape(6, 4), lambda a: a.reshape(6, 4), [x])
    check_op(lambda a: a.view(-1), lambda a: a.view(-1), [x])
    check_op(lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), [x])
    check_op(lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), [x])
    check_op(lambda a: a.T, lambda a: a.permute(2, 1, 0), [x])
    check_op(lambda a: a.mT, lambda a: a.mT, [x])
    check_op(lambda a: a.unsqueeze(1).squeeze(1), lambda a: a.unsqueeze(1).squeeze(1), [x])


@pytest.mark.parametrize(
    "index",
    [
        1,
        -1,
        slice(1, 3),
        (slice(None), 2),
        (None, 0, Ellipsis),
        (Ellipsis, slice(None, None, 2)),
        np.array([0, 2, 2, 0, 1]),  # repeats: gradient scatter-adds
        (np.array([0, 1, 1]), np.array([3, 3, 0])),
        (slice(None), np.array([1, 1, 3])),
    ],
    ids=str,
)
def test_getitem(index):
    x = randn(3, 4, 2)
    check_op(
        lambda a: a[index],
        lambda a: a[torch.as_tensor(index) if isinstance(index, np.ndarray) else index],
        [x],
    )


def test_getitem_with_tensor_and_list_indices():
    x = randn(5, 3)
    check_op(lambda a: a[tg.Tensor(np.array([4, 0, 4]))], lambda a: a[torch.tensor([4, 0, 4])], [x])
    check_op(lambda a: a[[1, 1, 2]], lambda a: a[[1, 1, 2]], [x])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack(dim):
    a, b, c = randn(2, 3), randn(2, 3), randn(2, 3)
    check_op(lambda *t: tg.cat(t, dim), lambda *t: torch.cat(t, dim), [a, b, c])
    check_op(lambda *t: tg.stack(t, dim), lambda *t: torch.stack(t, dim), [a, b, c])


def test_cat_with_unequal_sizes():
    check_op(lambda *t: tg.cat(t, 1), lambda *t: torch.cat(t, 1), [randn(2, 1), randn(2, 4)])


def test_chunk_matches_torch():
    x = randn(3, 8)
    for i in range(4):
        check_op(lambda a, i=i: a.chunk(4, 1)[i], lambda a, i=i: a.chunk(4, 1)[i], [x])


def test_cast_float_double():
    x = randn(3)
    check_op(lambda a: a.float().double() * 2, lambda a: a.float().double() * 2, [x], second_order=False)
    t = tg.Tensor(x, requires_grad=True)
    y = t.float()
    assert y.dtype == np.float32
    y.sum().backward()
    assert t.grad.dtype == np.float64


def test_fan_out_accumulates():
    """A tensor used several times gets the sum of its gradients."""
    x = randn(3, 3)

    def f(a):
        return (a * a + a.tanh() * a) @ a

    check_op(f, f, [x])


def test_composite_rnn_step():
    """A hand-written tanh RNN unrolled for 4 steps: every gradient and second derivative."""

    def unroll(x, w_ih, w_hh, b):
        h = x[0] @ w_ih.T * 0
        for t in range(4):
            h = (x[t] @ w_ih.T + h @ w_hh.T + b).tanh()
        return h.log_softmax(1)

    check_op(unroll, unroll, [randn(4, 2, 3), randn(5, 3) * 0.5, randn(5, 5) * 0.5, randn(5)])


def test_many_slices_of_one_tensor_accumulate_like_torch():
    """Slices (kept sparse in backward), overlapping slices, repeated advanced indices and
    a dense use of the same tensor all add up; for a leaf and for an op's output."""

    def f(a):
        a2 = a * 1.5
        total = a2.tanh()
        for t in range(3):
            total = total + a2[t] * a[t]
        total = total + a2[0:2].sum(0) + a2[np.array([2, 2, 0])].sum(0) + a[1]
        return total

    check_op(f, f, [randn(3, 4)])


def test_a_weight_shared_by_many_products_and_a_dense_use_sums_like_torch():
    """Weight gradients of Linear and 2-D matmul are kept as lazy outer products and merged;
    mixing them with an ordinary gradient of the same weight must give torch's sum."""
    from tinygrad_rnn.ops import Linear

    def f(x, w, v):
        h = x[0]
        for t in range(1, 4):
            h = (Linear.apply(h, w, None) + x[t] @ v).tanh()
        return (h * w.sum(0)).sum(1) + (x[0] @ v.T).sum(1)

    def torch_f(x, w, v):
        h = x[0]
        for t in range(1, 4):
            h = (torch.nn.functional.linear(h, w) + x[t] @ v).tanh()
        return (h * w.sum(0)).sum(1) + (x[0] @ v.T).sum(1)

    check_op(f, torch_f, [randn(4, 2, 3), randn(3, 3) * 0.5, randn(3, 3) * 0.5])


def test_gradients_of_many_slices_of_one_tensor_sum_like_torch():
    """The sparse gradients of slices of one tensor (chunks, steps, index arrays with repeats)
    absorb each other and are written into one buffer: the sum must be torch's."""

    def f(x):
        a, b, c = x.chunk(3, -1)
        picked = x[:, [0, 0, 5]]
        return (a.tanh() * b + c).sum(1) + x[1].sum() + picked.sum(1) * x[0, 2]

    check_op(f, f, [randn(3, 6)])


def test_a_sparse_gradient_of_several_slices_converts_every_slice():
    from tinygrad_rnn.ops.shape import SparseGrad

    rows = SparseGrad((4, 3), (slice(0, 2),), np.ones((2, 3), np.float32), False)
    repeated = SparseGrad((4, 3), (np.array([3, 3]),), np.full((2, 3), 2, np.float32), True)
    assert rows.absorb(repeated)
    converted = rows.astype(np.float64)
    assert converted.dtype == np.float64 and converted.shape == (4, 3)
    expected = np.array([[1, 1, 1], [1, 1, 1], [0, 0, 0], [4, 4, 4]], dtype=np.float64)
    np.testing.assert_array_equal(converted.dense(), expected)
    assert converted.dense().dtype == np.float64
