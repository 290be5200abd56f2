"""Differential testing against torch: the same code runs with ``tinygrad_rnn`` and with
``torch`` as its module, and must give the same values, dtypes, shapes, gradients and second
derivatives, or raise the same exception class.

Three parts: a table of edge cases found by earlier runs (each a one-liner that once
crashed, gave another shape, or differentiated wrongly); hypothesis-driven checks of every
Tensor op over 0-d, size-1 and empty dims, broadcasting pairs, the dtypes bool, int32, int64,
float32 and float64, and Python numbers as operands; and random multi-op graphs whose
values fan out to several consumers.

The default hypothesis profile is small and deterministic; ``HYPOTHESIS_PROFILE=deep`` runs
many more examples (CI runs it as a separate, time-bounded step).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F  # noqa: N812 - the name torch code uses

LIBS = {"ours": tg, "torch": torch}
FUNCTIONAL = {"ours": F, "torch": torch.nn.functional}


# --------------------------------------------------------------------------- comparing


def _run(fn: Callable[..., Any], side: str) -> tuple[Any, BaseException | None]:
    try:
        return fn(LIBS[side], FUNCTIONAL[side]), None
    except Exception as error:  # the comparison is the point: any exception is a result
        return None, error


def _plain(value: Any) -> Any:
    """A result as numpy arrays, dtype names and Python values, for comparison."""
    if isinstance(value, tg.Tensor):
        return ("tensor", str(value.dtype), value.detach().numpy())
    if isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype).replace("torch.", ""), value.detach().numpy(force=True))
    if isinstance(value, (tuple, list)):  # also torch.return_types and Size
        return tuple(_plain(v) for v in value)
    if isinstance(value, np.dtype):
        return ("dtype", str(value))
    if isinstance(value, torch.dtype):
        return ("dtype", str(value).replace("torch.", ""))
    return value


def _compare(ours: Any, theirs: Any, what: str, rtol: float, atol: float) -> None:
    if isinstance(theirs, tuple) and theirs and theirs[0] == "tensor":
        assert isinstance(ours, tuple) and ours[:1] == ("tensor",), f"{what}: ours {ours!r} is not a tensor"
        _, our_dtype, a = ours
        _, their_dtype, b = theirs
        assert our_dtype == their_dtype, f"{what}: dtype {our_dtype} != torch {their_dtype}"
        assert a.shape == b.shape, f"{what}: shape {a.shape} != torch {b.shape}"
        if a.dtype.kind == "f" and a.dtype.itemsize < 8:
            rtol, atol = max(rtol, 1e-3 if a.dtype.itemsize == 2 else 1e-5), max(atol, 1e-5)
        if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            raise AssertionError(f"{what}: values differ\nours  {a.ravel()[:8]}\ntorch {b.ravel()[:8]}")
    elif isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), f"{what}: {ours!r} vs torch {theirs!r}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            _compare(a, b, f"{what}[{k}]", rtol, atol)
    elif isinstance(theirs, float):
        assert isinstance(ours, (float, int)), f"{what}: {ours!r} vs torch {theirs!r}"
        assert math.isclose(ours, theirs, rel_tol=rtol, abs_tol=atol) or (
            math.isnan(ours) and math.isnan(theirs)
        ), f"{what}: {ours!r} vs torch {theirs!r}"
    else:
        assert ours == theirs, f"{what}: {ours!r} vs torch {theirs!r}"


def same_as_torch(fn: Callable[..., Any], rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """Run ``fn(module, functional)`` on both sides: same results, or the same exception
    class (ours may be a subclass of torch's: ``except RuntimeError:`` keeps working)."""
    ours, our_error = _run(fn, "ours")
    theirs, their_error = _run(fn, "torch")
    if their_error is not None:
        assert our_error is not None, f"torch raised {their_error!r}, ours returned {ours!r}"
        assert isinstance(our_error, type(their_error)), (
            f"torch raised {type(their_error).__name__} ({their_error}), ours "
            f"{type(our_error).__name__} ({our_error})"
        )
        return
    if our_error is not None:
        raise AssertionError(f"torch returned {theirs!r}, ours raised") from our_error
    _compare(_plain(ours), _plain(theirs), "result", rtol, atol)


def grads(L: Any, out: Any, inputs: list[Any], seed: Any = None) -> tuple[Any, ...]:
    """``out`` (reduced to a sum) and its gradient with respect to each input."""
    total = out.sum() if seed is None else (out * seed).sum()
    return (total, *L.autograd.grad(total, inputs, allow_unused=True))


def f64(L: Any, values: Any, grad: bool = True) -> Any:
    return L.tensor(values, dtype=L.float64, requires_grad=grad)


# --------------------------------------------------------------------------- edge cases

NAN, INF = float("nan"), float("inf")


class MyExp(tg.Op):
    """exp as a custom op that saves its OUTPUT (the contract for second derivatives)."""

    name = "my_exp"

    @staticmethod
    def forward(ctx: Any, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(tg.OUTPUT)
        return np.exp(a)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (y,) = ctx.saved_tensors
        return grad * y


class TorchExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        y = a.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (y,) = ctx.saved_tensors
        return grad * y


def custom_exp(L: Any, x: Any) -> Any:
    return MyExp.apply(x) if L is tg else TorchExp.apply(x)


def second(L: Any, build: Callable[[Any, Any], Any], values: Any) -> tuple[Any, ...]:
    """First and second derivative of a scalar function of one float64 tensor."""
    x = f64(L, values)
    y = build(L, x)
    (g,) = L.autograd.grad(y.sum(), [x], create_graph=True)
    if not g.requires_grad:
        return y, g, None
    (h,) = L.autograd.grad(g.sum(), [x], allow_unused=True)
    return y, g, h


def backward_of(L: Any, build: Callable[[Any, Any], Any], values: Any, dtype: Any = None) -> tuple[Any, Any]:
    x = L.tensor(values, dtype=dtype or L.float64, requires_grad=True)
    y = build(L, x)
    y.sum().backward()
    return y, x.grad


EDGE_CASES: dict[str, Callable[..., Any]] = {
    # 0-d tensors
    "sigmoid of 0-d": lambda L, F: backward_of(L, lambda L, x: x.sigmoid(), 0.3),
    "sum(dim) of 0-d": lambda L, F: backward_of(L, lambda L, x: x.sum(0) + x.sum(-1, keepdim=True), 0.3),
    "mean(dim) of 0-d": lambda L, F: backward_of(L, lambda L, x: x.mean(0), 0.3),
    "max(dim) of 0-d": lambda L, F: (
        f64(L, 0.3, False).max(0),
        backward_of(L, lambda L, x: x.max(-1)[0], 0.3),
    ),
    "softmax of 0-d": lambda L, F: backward_of(L, lambda L, x: x.softmax(0) * 3, 0.3),
    "log_softmax of 0-d": lambda L, F: backward_of(L, lambda L, x: x.log_softmax(-1) * 3, 0.3),
    "transpose(0, -1) of 0-d": lambda L, F: backward_of(L, lambda L, x: x.transpose(0, -1) * 2, 0.3),
    "transpose(0, 1) of 0-d": lambda L, F: f64(L, 0.3).transpose(0, 1),
    "argmax(keepdim) of 0-d": lambda L, F: (f64(L, 0.3).argmax(0), f64(L, 0.3).argmax(keepdim=True)),
    "iterating a 0-d tensor": lambda L, F: list(f64(L, 0.3, False)),
    "len of a 0-d tensor": lambda L, F: len(f64(L, 0.3, False)),
    "custom op at 0-d, second derivative": lambda L, F: second(L, lambda L, x: x * custom_exp(L, x), 1.0),
    # empty dims
    "softmax over a size-0 dim": lambda L, F: (L.zeros(2, 0).softmax(1), L.zeros(0, 3).log_softmax(1)),
    "matmul with an empty contracted dim": lambda L, F: backward_of(
        L, lambda L, x: x @ L.ones(0, 3, dtype=L.float64), np.zeros((2, 0))
    ),
    "F.linear with an empty contracted dim": lambda L, F: backward_of(
        L,
        lambda L, x: F.linear(x, L.ones(3, 0, dtype=L.float64), L.ones(3, dtype=L.float64)),
        np.zeros((2, 0)),
    ),
    "nn.Linear(0, 3)": lambda L, F: L.nn.Linear(0, 3).double()(L.zeros(2, 0, dtype=L.float64)).shape,
    "t[[]]": lambda L, F: (L.arange(5)[[]], L.zeros(3, 4)[[]].shape),
    "cat with a 1-D empty tensor (legacy rule)": lambda L, F: (
        L.cat([L.ones(2, 3), L.zeros(0)]),
        L.cat([L.zeros(0), L.ones(2, 3)], 1),
        L.cat([L.zeros(0), L.zeros(0)]),
    ),
    "cat of 0-d tensors": lambda L, F: L.cat([L.ones(()), L.ones(())]),
    "cat promotes dtypes": lambda L, F: L.cat([L.ones(2, dtype=L.int64), L.ones(2)]),
    "mean over an empty dim, second derivative": lambda L, F: second(
        L, lambda L, x: (x * x).mean(1) * L.ones(2, dtype=L.float64), np.zeros((2, 0))
    ),
    "mean over an empty dim with another input": lambda L, F: (
        lambda x, w: (lambda g: (g[0], L.autograd.grad((g[0] * 1).sum() + (g[1] * w).sum(), [w]))[1])(
            L.autograd.grad((x.mean(1) * w).sum(), [x, w], create_graph=True)
        )
    )(f64(L, np.zeros((2, 0))), f64(L, [1.0, 2.0])),
    # indexing: torch's rules
    "x[0, :, idx]": lambda L, F: L.arange(24).reshape(2, 3, 4)[0, :, [0, 1, 2]],
    "x[:, 0, :, idx]": lambda L, F: L.arange(48).reshape(2, 2, 3, 4)[:, 0, :, [0, 1]],
    "x[0, None, idx]": lambda L, F: L.arange(12).reshape(3, 4)[0, None, [0, 3]],
    "x[0, :, mask]": lambda L, F: L.arange(24).reshape(2, 3, 4)[0, :, L.tensor([True, False, True, False])],
    "x[idx, :, 0]": lambda L, F: L.arange(24).reshape(2, 3, 4)[[1, 0], :, 0],
    "x[0-d int tensor, :, idx]": lambda L, F: L.arange(24).reshape(2, 3, 4)[L.tensor(1), :, [0, 2]],
    "x[[[0, 1], [1, 0]]] (a list of lists is a tuple)": lambda L, F: L.arange(6).reshape(3, 2)[
        [[0, 1], [1, 0]]
    ],
    "x[[0, slice, [1, 2]]]": lambda L, F: L.arange(24).reshape(2, 3, 4)[[0, slice(None), [1, 2]]],
    "x[array of arrays] is one index": lambda L, F: L.arange(6).reshape(3, 2)[np.array([[0, 1], [1, 0]])],
    "gradient of x[0, :, idx] with repeats": lambda L, F: backward_of(
        L, lambda L, x: x[0, :, [1, 1, 3]] * L.arange(9.0, dtype=L.float64).reshape(3, 3), np.ones((2, 3, 4))
    ),
    "x[::-1] is refused": lambda L, F: L.arange(4)[::-1],
    "a mask of the wrong shape": lambda L, F: L.zeros(0, 1)[..., L.tensor([], dtype=L.bool)],
    "a mask after an int": lambda L, F: L.arange(24).reshape(2, 3, 4)[1, L.tensor([True, False, True])],
    "a mask of the wrong shape after an int": lambda L, F: L.arange(24).reshape(2, 3, 4)[
        1, ..., L.tensor([True])
    ],
    "float index tensor": lambda L, F: L.arange(4)[L.tensor([0.0])],
    # integer and mixed arithmetic
    "2 ** int tensor with negatives": lambda L, F: 2 ** L.tensor([-2, -1, 0, 3]),
    "int ** negative int tensor": lambda L, F: L.tensor([2, 1, -1, -1, 0]) ** L.tensor([-1, -2, -3, -2, 2]),
    "int tensor ** negative Python int": lambda L, F: L.tensor([2, 1]) ** -1,
    "np.float32 ** float64 tensor": lambda L, F: backward_of(
        L, lambda L, x: np.float32(1.1) ** x, [1.0, 2.0]
    ),
    "-bool tensor": lambda L, F: -L.tensor([True]),
    "bool - bool": lambda L, F: L.tensor([True]) - L.tensor([False]),
    # gradients at special values
    "pow gradient at base 0": lambda L, F: (
        backward_of(L, lambda L, x: x**2.0, [0.0, 1.0]),
        backward_of(L, lambda L, x: x**0, [0.0, 1.0]),
        backward_of(L, lambda L, x: x**0.5, [0.0, 1.0]),
        backward_of(L, lambda L, x: L.tensor([0.0, 0.0, 2.0], dtype=L.float64) ** x, [2.0, 0.0, 1.0]),
    ),
    "max() over NaN": lambda L, F: backward_of(L, lambda L, x: x.max(), [1.0, NAN, 3.0]),
    "max(dim) over NaN": lambda L, F: backward_of(L, lambda L, x: x.max(0)[0], [1.0, NAN, 3.0]),
    "max() with ties": lambda L, F: backward_of(L, lambda L, x: x.max(), [3.0, 1.0, 3.0]),
    "relu at NaN": lambda L, F: backward_of(L, lambda L, x: x.relu(), [NAN, 1.0, -1.0, 0.0]),
    "abs at NaN": lambda L, F: backward_of(L, lambda L, x: x.abs(), [NAN, 1.0, -1.0, 0.0]),
    "d(a/b)/db for tiny b": lambda L, F: backward_of(
        L, lambda L, x: L.tensor([1e-300, 1.0], dtype=L.float64) / x, [1e-170, 2.0]
    ),
    "second derivative of x * x.detach()": lambda L, F: second(
        L, lambda L, x: x * x.detach() * x + x * x.detach(), [3.0, -2.0]
    ),
    "second derivative of x.detach() * x * x": lambda L, F: second(
        L, lambda L, x: (x.detach() * x).tanh() * x, [0.3, -0.2]
    ),
    # cross_entropy
    "cross_entropy with an ignored target's logits -inf": lambda L, F: backward_of(
        L, lambda L, x: F.cross_entropy(x, L.tensor([1, -100])), [[0.0, 1.0], [-INF, -INF]]
    ),
    "cross_entropy, every target ignored": lambda L, F: backward_of(
        L, lambda L, x: F.cross_entropy(x, L.tensor([-100, -100])), [[0.0, 1.0], [2.0, 3.0]]
    ),
    "cross_entropy, every target ignored, reduction none and sum": lambda L, F: (
        backward_of(
            L,
            lambda L, x: F.cross_entropy(x, L.tensor([-100, 1]), reduction="none"),
            [[0.0, 1.0], [2.0, 3.0]],
        ),
        backward_of(
            L,
            lambda L, x: F.cross_entropy(x, L.tensor([-100, -100]), reduction="sum"),
            [[0.0, 1.0], [2.0, 3.0]],
        ),
    ),
    # linear
    "F.linear with a 1-D weight": lambda L, F: backward_of(
        L, lambda L, x: F.linear(x, x[0] * 1), np.ones((2, 3))
    ),
    "F.linear with a 1-D weight and a bias": lambda L, F: F.linear(L.ones(2, 3), L.ones(3), L.ones(())),
    "F.linear of a 0-d input": lambda L, F: F.linear(L.ones(()), L.ones(2, 3)),
    "F.linear with mismatched features": lambda L, F: F.linear(L.ones(2, 4), L.ones(2, 3)),
    "matmul with mismatched shapes": lambda L, F: L.ones(2, 4) @ L.ones(3, 2),
    "add with shapes that do not broadcast": lambda L, F: L.ones(2, 4) + L.ones(3),
    "reshape to the wrong size": lambda L, F: L.ones(2, 3).reshape(4, 2),
    # reductions and shapes
    "sum/mean(dim=()) reduce everything": lambda L, F: (L.ones(2, 3).sum(dim=()), L.ones(2, 3).mean(dim=())),
    "argmax(keepdim=True) without dim": lambda L, F: L.tensor([[1.0, 3.0], [2.0, 0.0]]).argmax(keepdim=True),
    "argmax of an empty tensor": lambda L, F: L.zeros(0).argmax(),
    "max() of an empty tensor": lambda L, F: L.zeros(0).max(),
    "max(dim) over a size-0 dim": lambda L, F: L.zeros(0, 3).max(0),
    "max(dim) along a non-empty dim of an empty tensor": lambda L, F: L.zeros(0, 3).max(1),
    "max over several dims": lambda L, F: L.ones(2, 3).max((0, 1)),
    "sum over a repeated dim": lambda L, F: L.ones(2, 3).sum(dim=(0, -2)),
    "mean of an int tensor": lambda L, F: L.tensor([1, 2]).mean(),
    "sum of bool and int32 give int64": lambda L, F: (
        L.tensor([True, True]).sum(),
        L.tensor([1, 2], dtype=L.int32).sum(),
    ),
    "squeeze(dim) out of range": lambda L, F: L.ones(2, 1).squeeze(2),
    "squeeze(dim) of 0-d out of range": lambda L, F: L.ones(()).squeeze(1),
    "squeeze of a tuple of dims": lambda L, F: L.ones(1, 2, 1).squeeze((0, 2)),
    "chunk with a short last piece": lambda L, F: (
        [c.shape for c in L.arange(5).chunk(3)],
        [c.shape for c in L.arange(6).chunk(4)],
        [c.shape for c in L.zeros(0, 2).chunk(3)],
        [c.shape for c in L.arange(12).reshape(3, 4).chunk(3, dim=-1)],
    ),
    "chunk(0)": lambda L, F: L.zeros(5).chunk(0),
    "chunk of 0-d": lambda L, F: L.zeros(()).chunk(3),
    "softmax dim out of range": lambda L, F: L.zeros(2, 3).softmax(2),
    # dtypes and kinds
    "softmax of an int tensor": lambda L, F: L.tensor([1, 2]).softmax(0),
    "relu of a bool tensor": lambda L, F: L.tensor([True]).relu(),
    "clamp of int and bool tensors promotes with the limits": lambda L, F: (
        L.tensor([1, -3]).clamp(-0.5, 1.0),
        L.tensor([1, -3]).clamp(min=0),
        L.tensor([True, False]).clamp(0.25),
    ),
    "float16 sigmoid stays float16": lambda L, F: L.tensor([1.0, -2.0], dtype=L.float16).sigmoid(),
    "float() of a one-element tensor": lambda L, F: (float(L.tensor([2.5])), int(L.tensor(3))),
    "tensor(values, dtype=float64) keeps full precision": lambda L, F: L.tensor(
        [0.1, 1e-170], dtype=L.float64
    ),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_case_matches_torch(name: str) -> None:
    same_as_torch(EDGE_CASES[name])


# --------------------------------------------------------------------------- ops, generated

DTYPES = ["bool", "int32", "int64", "float32", "float64"]
FLOATS = ["float32", "float64"]


def shapes(min_dims: int = 0, max_dims: int = 3) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes with 0-d, size-1 and empty dims among them."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=3)


def values(dtype: str, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    if dtype == "bool":
        elements: st.SearchStrategy[Any] = st.booleans()
    elif dtype.startswith("int"):
        elements = st.integers(-4, 4)
    else:  # a few exact values, so that ties and zeros come up
        elements = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0]), st.floats(-3, 3, width=32))
    return hnp.arrays(np.dtype(dtype), shape, elements=elements)


def make(L: Any, array: np.ndarray) -> Any:
    return L.tensor(array, requires_grad=array.dtype.kind == "f")


def check_function(
    fn: Callable[[Any, Any], Any], arrays: list[np.ndarray], second_order: bool = True
) -> None:
    """``fn(module, *tensors)`` on both sides: the forward result (or exception class), the
    gradient of each float input, and, in float64, the second derivative."""
    same_as_torch(lambda L, F: fn(L, *[make(L, a).detach() for a in arrays]))

    def with_grads(L: Any, F: Any) -> Any:
        inputs = [make(L, a) for a in arrays]
        out = fn(L, *inputs)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        outs = [o for o in outs if isinstance(o, (tg.Tensor, torch.Tensor)) and o.requires_grad]
        wanted = [x for x in inputs if x.requires_grad]
        if not outs or not wanted:
            return None
        rng = np.random.default_rng(0)
        total = sum((o * L.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype)).sum() for o in outs)
        create = second_order and all(a.dtype == np.float64 for a in arrays if a.dtype.kind == "f")
        first = L.autograd.grad(total, wanted, allow_unused=True, create_graph=create)
        if not create:
            return first, None
        weighted = [
            (g * L.tensor(rng.standard_normal(tuple(g.shape)), dtype=g.dtype)).sum()
            for g in first
            if g is not None
        ]
        connected = [c for c in weighted if c.requires_grad]
        if not connected:  # the gradient does not depend on the inputs: no second derivative
            return first, None
        return first, L.autograd.grad(sum(connected), wanted, allow_unused=True)

    ours, error = _run(with_grads, "ours")
    theirs, their_error = _run(with_grads, "torch")
    if their_error is not None:
        return  # the forward check above already compared the exception class
    if error is not None:
        raise AssertionError("torch differentiated it, ours raised") from error
    if ours is None or theirs is None:
        assert ours is None and theirs is None, f"gradients: ours {ours!r}, torch {theirs!r}"
        return
    _compare(_zeros_for_none(ours, theirs), _nones_as_ours(ours, theirs), "gradients", 1e-8, 1e-10)


def _nones_as_ours(ours: Any, theirs: Any) -> Any:
    """torch's side of ``_zeros_for_none``: None where either side has none."""
    if isinstance(theirs, (tuple, list)) or isinstance(ours, (tuple, list)):
        ours = [None] * len(theirs) if ours is None else ours
        theirs = [None] * len(ours) if theirs is None else theirs
        return tuple(_nones_as_ours(a, b) for a, b in zip(ours, theirs))
    return None if ours is None or theirs is None else _plain(theirs)


def _zeros_for_none(ours: Any, theirs: Any) -> Any:
    """A gradient that one side leaves as None (not connected) and the other gives as zeros
    are the same thing; so is a second derivative that one side knows to be constant."""
    if isinstance(theirs, (tuple, list)) or isinstance(ours, (tuple, list)):
        if ours is None:
            ours = [None] * len(theirs)
        if theirs is None:
            theirs = [None] * len(ours)
        return tuple(_zeros_for_none(a, b) for a, b in zip(ours, theirs))
    if theirs is None and ours is not None:
        assert not np.any(ours.detach().numpy()), f"ours has a non-zero gradient {ours} where torch has none"
        return None
    if ours is None and theirs is not None:
        assert not torch.any(theirs), f"torch has a non-zero gradient {theirs} where ours has none"
        return None
    return _plain(ours)


UNARY: dict[str, Callable[[Any, Any], Any]] = {
    "neg": lambda L, x: -x,
    "abs": lambda L, x: x.abs(),
    "exp": lambda L, x: x.exp(),
    "log": lambda L, x: (x.abs() + 0.5).log() if x.dtype != L.bool else x.log(),
    "sqrt": lambda L, x: (x.abs() + 0.5).sqrt() if x.dtype != L.bool else x.sqrt(),
    "tanh": lambda L, x: x.tanh(),
    "sigmoid": lambda L, x: x.sigmoid(),
    "relu": lambda L, x: x.relu(),
    "clamp": lambda L, x: x.clamp(-0.5, 1.0),
    "clamp min only": lambda L, x: x.clamp(min=0),
    "sum": lambda L, x: x.sum(),
    "max": lambda L, x: x.max(),
    "argmax": lambda L, x: x.argmax(),
    "reshape(-1)": lambda L, x: x.reshape(-1),
    "flatten": lambda L, x: x.flatten(),
    "squeeze": lambda L, x: x.squeeze(),
    "clone": lambda L, x: x.clone(),
    "float": lambda L, x: x.float(),
    "double": lambda L, x: x.double(),
    "long": lambda L, x: x.long(),
    "bool": lambda L, x: x.bool(),
    "data": lambda L, x: x.data,
    "detach": lambda L, x: x.detach(),
    "size": lambda L, x: (tuple(x.size()), x.numel(), x.dim(), x.ndim),
    "tolist": lambda L, x: x.tolist(),
    "T": lambda L, x: x.T if x.dim() == 2 else x.permute(tuple(reversed(range(x.dim())))),
    "matmul with itself transposed": lambda L, x: x @ x.mT if x.dim() >= 2 else x @ x,
    "add/sub/mul/div/pow methods": lambda L, x: (
        x.add(x, alpha=2),
        x.sub(1, alpha=3),
        x.mul(x),
        x.div(2),
        x.abs().pow(2) if x.dtype != L.bool else x.pow(2),
    ),
    "permute reversed": lambda L, x: (x.permute(tuple(reversed(range(x.dim())))), x.permute(*range(x.dim()))),
    "view(-1, 1)": lambda L, x: x.view(-1, 1),
    "F.relu, F.tanh, F.sigmoid": lambda L, x: (
        L.nn.functional.relu(x),
        L.nn.functional.tanh(x),
        L.nn.functional.sigmoid(x),
    ),
    "F.softmax, F.log_softmax over the last dim": lambda L, x: (
        L.nn.functional.softmax(x, dim=-1),
        L.nn.functional.log_softmax(x, dim=-1),
    ),
    "F.dropout with p=0 and in eval": lambda L, x: (
        L.nn.functional.dropout(x, p=0.0),
        L.nn.functional.dropout(x, p=0.5, training=False),
    ),
    "F.mse_loss against its own tanh (float inputs)": lambda L, x: (
        tuple(L.nn.functional.mse_loss(x, x.detach().tanh(), reduction=r) for r in ("mean", "sum", "none"))
        if x.is_floating_point()
        else None
    ),
    "size(dim) of each dim": lambda L, x: tuple(x.size(d) for d in range(-x.dim(), x.dim())),
}

WITH_DIM: dict[str, Callable[[Any, Any, int, bool], Any]] = {
    "sum(dim)": lambda L, x, d, k: x.sum(d, keepdim=k),
    "sum(dims)": lambda L, x, d, k: x.sum((d, 0), keepdim=k),
    "mean(dim)": lambda L, x, d, k: x.mean(d, keepdim=k),
    "max(dim)": lambda L, x, d, k: x.max(d, keepdim=k),
    "argmax(dim)": lambda L, x, d, k: x.argmax(d, keepdim=k),
    "softmax": lambda L, x, d, k: x.softmax(d),
    "log_softmax": lambda L, x, d, k: x.log_softmax(d),
    "transpose": lambda L, x, d, k: x.transpose(d, 0),
    "unsqueeze": lambda L, x, d, k: x.unsqueeze(d),
    "squeeze(dim)": lambda L, x, d, k: x.squeeze(d),
    "chunk": lambda L, x, d, k: x.chunk(2 + k, d),
    "cat with itself": lambda L, x, d, k: L.cat([x, x * 2], d),
    "stack with itself": lambda L, x, d, k: L.stack([x, x], d),
}


@given(
    name=st.sampled_from(sorted(UNARY)),
    dtype=st.sampled_from(DTYPES),
    data=st.data(),
)
def test_unary_op_matches_torch(name: str, dtype: str, data: Any) -> None:
    array = data.draw(values(dtype, data.draw(shapes())))
    if "softmax" in name and array.size == 0 and array.dtype.kind != "f":
        return  # torch skips its dtype check on an empty tensor; here it always applies
    check_function(UNARY[name], [array])


@given(
    name=st.sampled_from(sorted(WITH_DIM)),
    dtype=st.sampled_from(DTYPES),
    dim=st.integers(-4, 3),
    keepdim=st.booleans(),
    data=st.data(),
)
def test_op_along_a_dim_matches_torch(name: str, dtype: str, dim: int, keepdim: bool, data: Any) -> None:
    array = data.draw(values(dtype, data.draw(shapes())))
    if name in ("softmax", "log_softmax") and array.size == 0 and array.dtype.kind != "f":
        return  # torch skips its dtype check on an empty tensor; here it always applies
    check_function(lambda L, x: WITH_DIM[name](L, x, dim, keepdim), [array])


BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


@given(
    op=st.sampled_from(sorted(BINARY)),
    dtypes=st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)),
    shapes_=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3),
    data=st.data(),
)
def test_binary_op_on_broadcast_tensors_matches_torch(op: str, dtypes: Any, shapes_: Any, data: Any) -> None:
    a_shape, b_shape = shapes_.input_shapes
    a = data.draw(values(dtypes[0], a_shape))
    b = data.draw(values(dtypes[1], b_shape))
    if op == "**":  # a positive base: real results, and away from torch's NaN second derivative at 0
        a = np.ones_like(a) if a.dtype.kind == "b" else np.abs(a) + np.array(1, a.dtype)
    check_function(lambda L, x, y: BINARY[op](x, y), [a, b])


SCALARS = [True, False, 0, 2, -3, 0.5, -1.5, 2.0]


@given(
    op=st.sampled_from(sorted(BINARY)),
    dtype=st.sampled_from(DTYPES),
    scalar=st.sampled_from(SCALARS),
    scalar_first=st.booleans(),
    data=st.data(),
)
def test_binary_op_with_a_python_number_matches_torch(
    op: str, dtype: str, scalar: Any, scalar_first: bool, data: Any
) -> None:
    array = data.draw(values(dtype, data.draw(shapes())))
    if op == "**":
        array = np.ones_like(array) if array.dtype.kind == "b" else np.abs(array) + np.array(1, array.dtype)
        if scalar_first and isinstance(scalar, (int, float)) and scalar <= 0:
            scalar = -scalar or 2  # a positive base: torch's second derivative at 0 ** b is NaN
    if scalar_first:
        check_function(lambda L, x: BINARY[op](scalar, x), [array])
    else:
        check_function(lambda L, x: BINARY[op](x, scalar), [array])


@given(
    dtypes=st.tuples(
        st.sampled_from(["float32", "float64", "int64"]), st.sampled_from(["float32", "float64"])
    ),
    a_shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3),
    m=st.integers(0, 3),
    b_is_vector=st.booleans(),
    data=st.data(),
)
def test_matmul_matches_torch(dtypes: Any, a_shape: Any, m: int, b_is_vector: bool, data: Any) -> None:
    b_shape = (a_shape[-1],) if b_is_vector else (a_shape[-1], m)
    a = data.draw(values(dtypes[0], a_shape))
    b = data.draw(values(dtypes[1], b_shape))
    check_function(lambda L, x, y: x @ y, [a, b])


@given(
    dtype=st.sampled_from(FLOATS),
    batch=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
    features=st.integers(0, 3),
    out=st.integers(0, 3),
    bias=st.booleans(),
    data=st.data(),
)
def test_linear_matches_torch(dtype: str, batch: Any, features: int, out: int, bias: bool, data: Any) -> None:
    x = data.draw(values(dtype, (*batch, features)))
    w = data.draw(values(dtype, (out, features)))
    b = data.draw(values(dtype, (out,)))
    if bias:
        check_function(lambda L, x, w, b: L.nn.functional.linear(x, w, b), [x, w, b])
    else:
        check_function(lambda L, x, w: L.nn.functional.linear(x, w), [x, w])


@st.composite
def index_for(draw: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """An index mixing ints, slices, None, Ellipsis, integer lists and boolean masks."""
    parts: list[Any] = []
    dim = 0
    used_ellipsis = False
    while dim < len(shape) and draw(st.booleans()):
        n = shape[dim]
        kind = draw(st.sampled_from(["int", "slice", "none", "list", "mask", "ellipsis"]))
        if kind == "int" and n:
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            parts.append(
                slice(
                    draw(st.none() | st.integers(-4, 4)),
                    draw(st.none() | st.integers(-4, 4)),
                    draw(st.sampled_from([None, 1, 2])),
                )
            )
        elif kind == "none":
            parts.append(None)
            continue
        elif kind == "list" and n:
            parts.append(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=3)))
        elif kind == "mask":
            parts.append(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool))
        elif kind == "ellipsis" and not used_ellipsis:
            used_ellipsis = True
            parts.append(Ellipsis)
            dim = len(shape) - draw(st.integers(0, len(shape) - dim))
            continue
        else:
            parts.append(slice(None))
        dim += 1
    return tuple(parts)


def _index_on(L: Any, index: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(L.tensor(p) if isinstance(p, np.ndarray) else p for p in index)


@given(dtype=st.sampled_from(["int64", "float64"]), data=st.data())
def test_indexing_matches_torch(dtype: str, data: Any) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=3))
    index = data.draw(index_for(shape))
    array = data.draw(values(dtype, shape))
    check_function(lambda L, x: x[_index_on(L, index)], [array], second_order=False)


# --------------------------------------------------------------------------- random graphs

GRAPH_UNARY: dict[str, Callable[[Any], Any]] = {
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "square": lambda x: x * x,
    "exp of tanh": lambda x: x.tanh().exp(),
    "softmax(-1)": lambda x: x.softmax(-1),
    "log_softmax(0)": lambda x: x.log_softmax(0),
    "sum(-1, keepdim)": lambda x: x.sum(-1, keepdim=True),
    "mean(0, keepdim)": lambda x: x.mean(0, keepdim=True),
    "max(0, keepdim)": lambda x: x.max(0, keepdim=True)[0],
    "transposed twice": lambda x: x.transpose(0, -1).transpose(-1, 0),
    "reshaped back": lambda x: x.reshape(-1).reshape(3, 4),
    "abs": lambda x: x.abs(),
    "clamp": lambda x: x.clamp(-1, 1),
    "sqrt of 1 + x^2": lambda x: (1 + x * x).sqrt(),
}
GRAPH_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/ (1 + b^2)": lambda a, b: a / (1 + b * b),
    "matmul": lambda a, b: (a @ b.T) @ b * 0.1,
}


@st.composite
def programs(draw: Any) -> list[tuple[str, str, int, int]]:
    """A list of steps; each applies an op to earlier values (picked by index, so a value
    feeds several later ones: fan-out)."""
    steps = []
    for step in range(draw(st.integers(1, 8))):
        available = 3 + step
        if draw(st.booleans()):
            steps.append(
                ("unary", draw(st.sampled_from(sorted(GRAPH_UNARY))), draw(st.integers(0, available - 1)), 0)
            )
        else:
            steps.append(
                (
                    "binary",
                    draw(st.sampled_from(sorted(GRAPH_BINARY))),
                    draw(st.integers(0, available - 1)),
                    draw(st.integers(0, available - 1)),
                )
            )
    return steps


def run_program(L: Any, program: list[tuple[str, str, int, int]], leaves: list[Any]) -> Any:
    pool = list(leaves)
    for kind, name, i, j in program:
        if kind == "unary":
            pool.append(GRAPH_UNARY[name](pool[i]))
        else:
            pool.append(GRAPH_BINARY[name](pool[i], pool[j]))
    return sum((v * (k + 1)).sum() for k, v in enumerate(pool[3:]))


@given(program=programs(), data=st.data())
def test_random_graph_with_fan_out_matches_torch(program: Any, data: Any) -> None:
    away_from_kinks = st.floats(0.05, 2.5) | st.floats(-2.5, -0.05)  # of relu, abs and clamp
    arrays = [
        data.draw(hnp.arrays(np.float64, shape, elements=away_from_kinks)) for shape in [(3, 4), (4,), ()]
    ]
    check_function(lambda L, a, b, c: run_program(L, program, [a, b, c]), arrays)


# --------------------------------------------------------------------------- losses, generated


@given(
    batch=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
    classes=st.integers(1, 4),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    weighted=st.booleans(),
    data=st.data(),
)
def test_cross_entropy_matches_torch(
    batch: Any, classes: int, reduction: str, weighted: bool, data: Any
) -> None:
    """Logits (C,), (N, C) or (N, C, d); some targets ignored (perhaps all), logits of ignored
    rows sometimes -inf."""
    shape = (classes,) if not batch else (batch[0], classes, *batch[1:])
    logits = data.draw(values("float64", shape))
    target_shape = () if not batch else (batch[0], *batch[1:])
    targets = data.draw(hnp.arrays(np.int64, target_shape, elements=st.sampled_from([*range(classes), -100])))
    if targets.ndim and data.draw(st.booleans()):  # ignored targets' logits at -inf
        ignored = np.moveaxis(logits, 1 if logits.ndim > 1 else 0, -1)[targets == -100]
        ignored[...] = -np.inf
        np.moveaxis(logits, 1 if logits.ndim > 1 else 0, -1)[targets == -100] = ignored
    class_weights = data.draw(hnp.arrays(np.float64, (classes,), elements=st.floats(0.25, 2.0)))

    def loss(L: Any, x: Any) -> Any:
        w = L.tensor(class_weights) if weighted else None
        return L.nn.functional.cross_entropy(x, L.tensor(targets), weight=w, reduction=reduction)

    check_function(loss, [logits])


def test_error_hints_name_tensor_methods_not_numpy_ones() -> None:
    """A hint must be something a torch user can type on a Tensor: no ``.astype(np...)``."""
    import ast
    from pathlib import Path

    package = Path(tg.__file__).parent
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                assert ".astype(" not in text, f"{path.name}: hint {text!r} advises numpy's astype"
