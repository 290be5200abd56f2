"""The ops added for torch breadth: forward, gradient and second derivative against torch
(float64, through ``check_op``), plus torch's tie, NaN and error rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tinygrad_rnn as tg

from .helpers import assert_close, check_op

rng = np.random.default_rng(2024)


def randn(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def positive(*shape: int) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


UNARY = {
    "sin": (lambda t: t.sin(), randn),
    "cos": (lambda t: t.cos(), randn),
    "log1p": (lambda t: t.log1p(), positive),
    "expm1": (lambda t: t.expm1(), randn),
    "rsqrt": (lambda t: t.rsqrt(), positive),
    "erf": (lambda t: t.erf(), randn),
    "sign": (lambda t: t.sign(), randn),
    "cumsum0": (lambda t: t.cumsum(0), randn),
    "cumsum-1": (lambda t: t.cumsum(-1), randn),
    "tril": (lambda t: t.tril(), randn),
    "triu1": (lambda t: t.triu(1), randn),
    "tril-1": (lambda t: t.tril(-1), randn),
    "amax": (lambda t: t.amax(), randn),
    "amax1": (lambda t: t.amax(1), randn),
    "amin01k": (lambda t: t.amin((0, 1), keepdim=True), randn),
    "var": (lambda t: t.var(), randn),
    "var1": (lambda t: t.var(1), randn),
    "var_c0": (lambda t: t.var(0, correction=0, keepdim=True), randn),
    "std": (lambda t: t.std(), randn),
    "std1k": (lambda t: t.std(1, keepdim=True), randn),
    "norm": (lambda t: t.norm(), randn),
    "norm1": (lambda t: t.norm(1), randn),
    "norm3d1": (lambda t: t.norm(3, dim=1), randn),
    "norm_inf": (lambda t: t.norm(float("inf"), dim=0), randn),
    "expand": (lambda t: t[:, :1].expand(2, 3, 4), randn),
    "expand-1": (lambda t: t[:1].expand(3, -1), randn),
    "repeat": (lambda t: t.repeat(2, 1, 3), randn),
    "flatten": (lambda t: t.reshape(3, 2, 2).flatten(1), randn),
    "flatten01": (lambda t: t.reshape(3, 2, 2).flatten(0, 1), randn),
    "unflatten": (lambda t: t.unflatten(1, (2, -1)), randn),
    "narrow": (lambda t: t.narrow(1, 1, 2), randn),
    "narrow-": (lambda t: t.narrow(-1, -3, 2), randn),
    "min": (lambda t: t.min(), randn),
    "min1": (lambda t: t.min(1)[0], randn),
    "max0k": (lambda t: t.max(0, keepdim=True)[0], randn),
    "sort": (lambda t: t.sort()[0], randn),
    "sort0d": (lambda t: t.sort(0, descending=True)[0], randn),
    "topk": (lambda t: t.topk(2)[0], randn),
    "topk_small": (lambda t: t.topk(2, dim=0, largest=False)[0], randn),
    "clamp": (lambda t: t.clamp(-0.5, 0.5), randn),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name):
    fn, make = UNARY[name]
    check_op(fn, fn, [make(3, 4)])


def test_unbind_and_split():
    check_op(lambda t: tg.stack(t.unbind(1), 0) * 2, lambda t: torch.stack(t.unbind(1), 0) * 2, [randn(3, 4)])
    for spec in (2, 3, [1, 3], [4, 0]):
        ours = tg.Tensor(randn(3, 4)).split(spec, 1)
        theirs = (
            torch.tensor(ours[0]._data).new_tensor(np.concatenate([o._data for o in ours], 1)).split(spec, 1)
        )
        assert [tuple(o.shape) for o in ours] == [tuple(t.shape) for t in theirs]
    check_op(
        lambda t: tg.cat([p * (i + 1) for i, p in enumerate(t.split([1, 3], 1))], 1),
        lambda t: torch.cat([p * (i + 1) for i, p in enumerate(t.split([1, 3], 1))], 1),
        [randn(3, 4)],
    )


BINARY = {
    "maximum": (lambda a, b: a.maximum(b), lambda a, b: torch.maximum(a, b)),
    "minimum": (lambda a, b: a.minimum(b), lambda a, b: torch.minimum(a, b)),
    "max_binary": (lambda a, b: a.max(b), lambda a, b: torch.max(a, b)),
    "where": (lambda a, b: a.where(a > b, b), lambda a, b: a.where(a > b, b)),
    "bmm": (
        lambda a, b: a.reshape(2, 3, 2).bmm(b.reshape(2, 2, 3)),
        lambda a, b: a.reshape(2, 3, 2).bmm(b.reshape(2, 2, 3)),
    ),
    "clamp_t": (lambda a, b: a.clamp(b - 0.5, b + 0.5), lambda a, b: a.clamp(b - 0.5, b + 0.5)),
    "clamp_min": (lambda a, b: a.clamp(min=b), lambda a, b: a.clamp(min=b)),
    "clamp_max": (lambda a, b: a.clamp(max=b), lambda a, b: a.clamp(max=b)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(name):
    ours, theirs = BINARY[name]
    check_op(ours, theirs, [randn(3, 4), randn(3, 4)])


def test_maximum_broadcasts_and_ties_split_the_gradient():
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    check_op(lambda x, y: x.maximum(y), torch.maximum, [a, b])
    check_op(lambda x, y: x.minimum(y), torch.minimum, [a, b])


def test_clamp_with_tensor_limits_follows_torch_where_limits_cross():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    low = np.array([1.0, 1.0, 3.0, 0.0])
    high = np.array([2.0, 2.0, 2.5, -1.0])
    check_op(lambda a, b, c: a.clamp(b, c), lambda a, b, c: a.clamp(b, c), [x, low, high])


def test_amax_ties_and_nan():
    x = np.array([[1.0, 3.0, 3.0], [2.0, np.nan, 0.0]])
    check_op(lambda t: t.amax(1), lambda t: t.amax(1), [x[:1]])
    check_op(lambda t: t.amin(), lambda t: t.amin(), [np.array([1.0, 1.0, 2.0])])
    np.testing.assert_array_equal(tg.tensor(x).amax(1).numpy(), torch.tensor(x).amax(1).numpy())
    np.testing.assert_array_equal(tg.tensor(x).amin().numpy(), torch.tensor(x).amin().numpy())


def test_min_max_along_dim_ties_and_nan_match_torch_indices():
    x = np.array([[3.0, 1.0, 3.0, 1.0], [np.nan, 2.0, np.nan, 0.0], [5.0, 5.0, 5.0, 5.0]])
    for fn in ("min", "max"):
        v, i = getattr(tg.tensor(x), fn)(1)
        tv, ti = getattr(torch.tensor(x), fn)(1)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(tg.tensor(x).argmin(1).numpy(), torch.tensor(x).argmin(1).numpy())
    assert tg.tensor(x).argmin().item() == torch.tensor(x).argmin().item()
    np.testing.assert_array_equal(
        tg.tensor(x).argmin(0, keepdim=True).numpy(), torch.tensor(x).argmin(0, keepdim=True).numpy()
    )


def test_sort_and_topk_ties_and_nan_match_torch():
    x = np.array([[3.0, 1.0, np.nan, 1.0, 3.0, -np.inf, np.inf]])
    for descending in (False, True):
        v, i = tg.tensor(x).sort(descending=descending, stable=True)
        tv, ti = torch.tensor(x).sort(descending=descending, stable=True)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
    ints = np.array([[3, 1, 2, 1, 3]])
    for descending in (False, True):
        v, i = tg.tensor(ints).sort(descending=descending)
        tv, ti = torch.tensor(ints).sort(descending=descending, stable=True)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
    y = np.array([0.5, np.nan, 3.0, -1.0])
    for largest in (True, False):
        v, i = tg.tensor(y).topk(2, largest=largest)
        tv, ti = torch.tensor(y).topk(2, largest=largest)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(v.numpy(), tv.numpy())


def test_gather_and_scatter_add():
    index = np.array([[0, 2, 2], [1, 0, 0]])
    check_op(lambda t: t.gather(1, index), lambda t: t.gather(1, torch.tensor(index)), [randn(2, 4)])
    check_op(
        lambda t: t.gather(0, index[:, :2]), lambda t: t.gather(0, torch.tensor(index[:, :2])), [randn(3, 4)]
    )
    check_op(
        lambda t, s: t.scatter_add(1, index, s),
        lambda t, s: t.scatter_add(1, torch.tensor(index), s),
        [randn(2, 4), randn(2, 3)],
    )
    # src larger than index: the rest is unused (torch has no gradient for that case)
    base, src = randn(3, 3), randn(2, 4)
    out = tg.tensor(base).scatter_add(0, index[:1], tg.tensor(src))
    assert_close(
        out, torch.tensor(base).scatter_add(0, torch.tensor(index[:1]), torch.tensor(src)), "scatter_add"
    )


def test_masked_fill():
    mask = rng.random((3, 4)) > 0.5
    check_op(
        lambda t: t.masked_fill(mask, -1.5), lambda t: t.masked_fill(torch.tensor(mask), -1.5), [randn(3, 4)]
    )
    check_op(
        lambda t: t.masked_fill(mask[0], float("-inf")).softmax(-1),
        lambda t: t.masked_fill(torch.tensor(mask[0]), float("-inf")).softmax(-1),
        [randn(3, 4)],
    )
    check_op(
        lambda t, v: t.masked_fill(mask, v),
        lambda t, v: t.masked_fill(torch.tensor(mask), v),
        [randn(3, 4), np.array(0.25)],
    )


EINSUM = [
    "ij,jk->ik",
    "bij,bjk->bik",
    "bhqd,bhkd->bhqk",
    "ij->ji",
    "ij->",
    "ij,ij->i",
    "i,j->ij",
    "ij,k->ik",
    "bqk,bkd->bqd",
]


@pytest.mark.parametrize("equation", EINSUM)
def test_einsum(equation):
    sizes = {"i": 2, "j": 3, "k": 4, "b": 2, "h": 2, "q": 3, "d": 4}
    terms = equation.split("->")[0].split(",")
    arrays = [randn(*(sizes[c] for c in term)) for term in terms]
    check_op(lambda *t: tg.einsum(equation, *t), lambda *t: torch.einsum(equation, *t), arrays)


def test_einsum_implicit_output_and_list_operands():
    a, b = randn(2, 3), randn(3, 4)
    check_op(lambda x, y: tg.einsum("ij,jk", [x, y]), lambda x, y: torch.einsum("ij,jk", [x, y]), [a, b])
    with pytest.raises(RuntimeError, match="einsum"):
        tg.einsum("ii->i", tg.tensor(randn(2, 2)))


def test_pad():
    cases = [(1, 2), (0, 1, 2, 0), (-1, 1), (1, -2, 0, 1)]
    for pad in cases:
        check_op(
            lambda t, p=pad: tg.nn.functional.pad(t, p),
            lambda t, p=pad: torch.nn.functional.pad(t, p),
            [randn(3, 4)],
        )
    check_op(
        lambda t: tg.nn.functional.pad(t, (1, 1), value=-2.0),
        lambda t: torch.nn.functional.pad(t, (1, 1), value=-2.0),
        [randn(2, 3, 4)],
    )


def test_shape_errors_are_torchs():
    t = tg.tensor(randn(2, 3))
    with pytest.raises(RuntimeError, match="expand"):
        t.expand(2, 4)
    with pytest.raises(RuntimeError, match="repeat"):
        t.repeat(2)
    with pytest.raises(RuntimeError, match="split"):
        t.split([1, 1], 1)
    with pytest.raises(RuntimeError, match="gather"):
        t.gather(1, np.array([0, 1]))
    with pytest.raises(RuntimeError, match="gather"):
        t.gather(1, np.array([[0.0]]))
    with pytest.raises(RuntimeError, match="bmm"):
        t.bmm(t)
    with pytest.raises(RuntimeError, match="tril"):
        tg.tensor(randn(3)).tril()
    with pytest.raises(RuntimeError, match="topk"):
        t.topk(4)
    with pytest.raises(RuntimeError, match="narrow"):
        t.narrow(1, 2, 2)
    with pytest.raises(RuntimeError, match="masked_fill"):
        t.masked_fill(np.array([1, 0, 1]), 0.0)


@pytest.mark.parametrize("name", ["maximum", "minimum", "where"])
@settings(max_examples=20, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
def test_binary_broadcasting(name, shapes):
    a_shape, b_shape = shapes.input_shapes
    a, b = randn(*a_shape), randn(*b_shape)
    ours, theirs = BINARY[name]
    check_op(ours, theirs, [a, b])


def test_masked_fill_in_place():
    mask = np.array([True, False, True])
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.masked_fill_(mask, 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 4.0, 0.0])
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 0.0])
