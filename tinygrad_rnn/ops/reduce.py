"""Reductions (sum, mean, max) and the broadcasting pair sum_to / broadcast_to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np

from ..engine import Grad, Op, apply_op


class ShapeError(RuntimeError, ValueError):
    """Shapes that do not fit an op. torch raises RuntimeError for these (so code written
    ``except RuntimeError:`` keeps working); it is also a ValueError, numpy's class for them."""


def _axes(dim: int | Sequence[int] | None, ndim: int, where: str = "reduction") -> tuple[int, ...]:
    """``dim`` (None, an int or a sequence) as a sorted tuple of non-negative axes, with
    torch's rules: ``()`` and None mean every dim; a 0-d tensor accepts dim 0 and -1 (and
    has no axis to reduce); a repeated dim is an error."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not dims:
        return tuple(range(ndim))
    out = set()
    for d in dims:
        axis = dim_index(d, ndim, where)
        if axis in out:
            raise RuntimeError(f"{where}: dim {axis} appears multiple times in the list of dims {dims}")
        out.add(axis)
    return tuple(sorted(out)) if ndim else ()


def dim_index(dim: int, ndim: int, where: str) -> int:
    """``dim`` as a non-negative axis, or torch's IndexError (a 0-d tensor takes 0 and -1)."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{where}: dim must be an int, got {type(dim).__name__} {dim!r}")
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(
            f"{where}: dim {dim} is out of range for a {ndim}-d tensor "
            f"(Dimension out of range: expected to be in range of [{-bound}, {bound - 1}])"
        )
    return int(dim) % bound


def _keepdim_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class SumTo(Op):
    """Sum a broadcast gradient back to the shape of the input that was broadcast."""

    name = "sum_to"

    def forward(ctx, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.in_shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1
        )
        return x.sum(axis=axes, keepdims=True).reshape(shape) if axes else x.reshape(shape)

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        return apply_op(BroadcastTo, grad, ctx.in_shape), None


class BroadcastTo(Op):
    name = "broadcast_to"

    def forward(ctx, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.in_shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        return sum_to(grad, ctx.in_shape), None


@overload
def sum_to(grad: Grad, shape: tuple[int, ...]) -> Grad: ...
@overload
def sum_to(grad: Grad, shape: None) -> None: ...
def sum_to(grad: Grad, shape: tuple[int, ...] | None) -> Grad | None:
    """``grad`` summed over the dimensions that broadcasting added to an input of ``shape``
    (None for a Python number, which gets no gradient)."""
    if shape is None:
        return None
    if grad.shape == shape:
        return grad
    return apply_op(SumTo, grad, shape)


class Sum(Op):
    name = "sum"

    def forward(ctx, x: np.ndarray, dim: int | Sequence[int] | None, keepdim: bool) -> np.ndarray:
        ctx.in_shape = x.shape
        if dim is None:  # the common loss.sum(): no axes to work out
            ctx.kept_shape = (1,) * x.ndim
            return x.sum(keepdims=keepdim)
        axes = _axes(dim, x.ndim, "sum")
        ctx.kept_shape = _keepdim_shape(x.shape, axes)
        return x.sum(axis=axes, keepdims=keepdim)

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None]:
        return apply_op(BroadcastTo, grad.reshape(ctx.kept_shape), ctx.in_shape), None, None


class Mean(Op):
    name = "mean"

    def forward(ctx, x: np.ndarray, dim: int | Sequence[int] | None, keepdim: bool) -> np.ndarray:
        axes = _axes(dim, x.ndim, "mean")
        ctx.in_shape = x.shape
        ctx.kept_shape = _keepdim_shape(x.shape, axes)
        count = 1
        for a in axes:
            count *= x.shape[a]
        # over an empty dim the gradient is empty: any factor will do, and 0 keeps the
        # second derivative finite (1/0 would give 0 * inf = NaN there)
        ctx.scale = 1.0 / count if count else 0.0
        if count:
            return x.mean(axis=axes, keepdims=keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN, silently, as in torch
            return np.divide(x.sum(axis=axes, keepdims=keepdim), count, dtype=x.dtype)

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None]:
        grad = grad.reshape(ctx.kept_shape) * ctx.scale
        return apply_op(BroadcastTo, grad, ctx.in_shape), None, None


class Max(Op):
    """The largest element. Ties share the gradient equally, as in torch."""

    name = "max"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            raise RuntimeError(
                f"max: the tensor of shape {x.shape} is empty; give a dim to reduce "
                "(max(dim) of a non-empty dim), as torch requires"
            )
        y = x.max()
        winners = np.isnan(x) if np.isnan(y) else x == y  # a NaN is the max, and gets the gradient
        ctx.share = (winners / np.count_nonzero(winners)).astype(x.dtype)  # a constant
        return y

    def backward(ctx, grad: Grad) -> Grad:
        return grad * ctx.share


def argmax_indices(x: np.ndarray, dim: int | None, keepdim: bool, where: str = "max") -> np.ndarray:
    """The index of the largest value along ``dim`` (the first NaN, if any, as in torch);
    ``dim=None``: the flat index over all elements (kept as 1s per dim with ``keepdim``)."""
    if dim is None:
        if x.size == 0:
            raise IndexError(f"{where}: the tensor of shape {x.shape} is empty; give a dim to reduce")
        index = np.array(np.argmax(x))
        return index.reshape((1,) * x.ndim) if keepdim else index
    axis = dim_index(dim, x.ndim, where)
    if x.ndim == 0:
        return np.zeros((), dtype=np.int64)
    if x.shape[axis] == 0:
        raise IndexError(
            f"{where}: dim {dim} has size 0 (tensor shape {x.shape}): there is no largest value to take"
        )
    return np.argmax(x, axis=axis, keepdims=keepdim)


class MaxDim(Op):
    """``max(dim)``: the values at ``indices`` (argmax); the gradient goes to those places."""

    name = "max"

    def forward(ctx, x: np.ndarray, indices: np.ndarray, dim: int, keepdim: bool) -> np.ndarray:
        if x.ndim == 0:  # the one element is its own max
            ctx.kept_shape, ctx.mask = (), np.ones((), dtype=bool)
            return x.copy()
        axis = dim_index(dim, x.ndim, "max")
        kept = indices if keepdim else np.expand_dims(indices, axis)
        positions = np.arange(x.shape[axis]).reshape([-1 if i == axis else 1 for i in range(x.ndim)])
        ctx.mask = positions == kept  # a constant one-hot mask
        ctx.kept_shape = kept.shape
        values = np.take_along_axis(x, kept, axis)
        return values if keepdim else values.squeeze(axis)

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None, None]:
        return grad.reshape(ctx.kept_shape) * ctx.mask, None, None, None
