"""The factories added for torch breadth (full, eye, linspace, randint, ...) and the
``tinygrad_rnn.*`` function forms of Tensor methods, against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg

from .helpers import assert_close, check_op

rng = np.random.default_rng(11)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: tg.full((2, 3), 1.5), lambda: torch.full((2, 3), 1.5)),
        (lambda: tg.full((2,), 7), lambda: torch.full((2,), 7)),
        (lambda: tg.full([2, 2], True), lambda: torch.full([2, 2], True)),
        (lambda: tg.full((3,), 2, dtype=tg.float64), lambda: torch.full((3,), 2, dtype=torch.float64)),
        (lambda: tg.eye(3), lambda: torch.eye(3)),
        (lambda: tg.eye(2, 4, dtype=tg.float64), lambda: torch.eye(2, 4, dtype=torch.float64)),
        (
            lambda: tg.linspace(-1, 2, 7, dtype=tg.float64),
            lambda: torch.linspace(-1, 2, 7, dtype=torch.float64),
        ),
        (lambda: tg.linspace(0, 1, 5), lambda: torch.linspace(0, 1, 5)),
        (lambda: tg.empty(2, 3), lambda: torch.zeros(2, 3)),
        (
            lambda: tg.full_like(tg.zeros(2, dtype=tg.int64), 3),
            lambda: torch.full_like(torch.zeros(2, dtype=torch.int64), 3),
        ),
    ],
)
def test_factories_match_torch_values_and_dtypes(ours, theirs):
    a, b = ours(), theirs()
    assert a.dtype == np.dtype(str(b.dtype).replace("torch.", "")), (a.dtype, b.dtype)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7)


def test_random_factories():
    tg.manual_seed(0)
    ints = tg.randint(3, 7, (1000,))
    assert ints.dtype == np.int64 and ints.shape == (1000,)
    assert set(np.unique(ints.numpy())) == {3, 4, 5, 6}
    assert tg.randint(5, (2, 3)).numpy().max() < 5
    assert tg.randint(2, size=(4,)).shape == (4,)
    x = tg.zeros(2, 3, dtype=tg.float64)
    for made in (tg.randn_like(x), tg.rand_like(x)):
        assert made.shape == (2, 3) and made.dtype == np.float64
    assert tg.randn_like(x, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="randint"):
        tg.randint(3, 3, (2,))
    with pytest.raises(RuntimeError, match="linspace"):
        tg.linspace(0, 1, -1)


FUNCTION_FORMS = {
    "sin": ((), {}),
    "exp": ((), {}),
    "amax": ((1,), {}),
    "max": ((), {}),
    "min": ((0,), {"keepdim": True}),
    "clamp": ((), {"min": -0.5, "max": 0.5}),
    "cumsum": ((1,), {}),
    "std": ((1,), {}),
    "var": ((), {"correction": 0}),
    "norm": ((), {}),
    "tril": ((), {}),
    "flatten": ((), {}),
    "sort": ((), {"descending": True}),
    "topk": ((2,), {}),
    "split": ((2, 1), {}),
    "unbind": ((), {}),
    "narrow": ((1, 1, 2), {}),
    "softmax": ((1,), {}),
    "transpose": ((0, 1), {}),
}


@pytest.mark.parametrize("name", sorted(FUNCTION_FORMS))
def test_function_forms_are_the_methods_and_match_torch(name):
    args, kwargs = FUNCTION_FORMS[name]
    x = rng.standard_normal((3, 4))
    ours = getattr(tg, name)(tg.tensor(x), *args, **kwargs)
    theirs = getattr(torch, name)(torch.tensor(x), *args, **kwargs)
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert_close(a, b, name)


def test_function_forms_need_a_tensor():
    with pytest.raises(TypeError, match="sin"):
        tg.sin(1.0)


def test_where_and_binary_max_function_forms():
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    check_op(lambda x, y: tg.where(x > y, x, y), lambda x, y: torch.where(x > y, x, y), [a, b])
    check_op(lambda x: tg.where(x > 0, x, 0.0), lambda x: torch.where(x > 0, x, 0.0), [a])
    check_op(lambda x, y: tg.max(x, y), lambda x, y: torch.max(x, y), [a, b])
    check_op(lambda x, y: tg.min(x, y), lambda x, y: torch.min(x, y), [a, b])


def test_remaining_method_branches():
    x = tg.tensor(rng.standard_normal((3, 4)))
    check_op(lambda t: t.norm(float("-inf"), dim=1), lambda t: t.norm(float("-inf"), dim=1), [x.numpy()])
    assert_close(x.norm(0), torch.tensor(x.numpy()).norm(0), "norm(0)")  # a count: no gradient
    check_op(lambda t: t[:1].expand_as(t), lambda t: t[:1].expand_as(t), [x.numpy()])
    check_op(lambda t: t.var(1, False, True), lambda t: t.var(1, False, True), [x.numpy()])
    with pytest.raises(TypeError, match="unbiased or correction"):
        x.var(unbiased=True, correction=1)
    with pytest.raises(RuntimeError, match="expand"):
        x.expand(4)
    with pytest.raises(IndexError, match="argmin"):
        tg.zeros(2, 0).argmin(1)
    with pytest.raises(IndexError, match="amax"):
        tg.zeros(2, 0).amax(1)
    assert tg.tensor(3.0).flatten().shape == (1,)
    with pytest.raises(RuntimeError, match="start_dim"):
        x.flatten(1, 0)
