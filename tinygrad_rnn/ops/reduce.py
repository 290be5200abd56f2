"""Reductions (sum, mean, max) and the broadcasting pair sum_to / broadcast_to."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import Op, apply_op


def _axes(dim: Any, ndim: int) -> tuple[int, ...]:
    """``dim`` (None, an int or a sequence) as a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"dim {d} is out of range for a {ndim}-d tensor")
        out.append(int(d) % max(ndim, 1))
    return tuple(sorted(set(out)))


def _keepdim_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class SumTo(Op):
    """Sum a broadcast gradient back to the shape of the input that was broadcast."""

    name = "sum_to"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.in_shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1
        )
        return x.sum(axis=axes, keepdims=True).reshape(shape) if axes else x.reshape(shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        return apply_op(BroadcastTo, grad, ctx.in_shape), None


class BroadcastTo(Op):
    name = "broadcast_to"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.in_shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        return sum_to(grad, ctx.in_shape), None


def sum_to(grad: Any, shape: tuple[int, ...] | None) -> Any:
    """``grad`` summed over the dimensions that broadcasting added to an input of ``shape``
    (None for a Python number, which gets no gradient)."""
    if shape is None:
        return None
    if grad.shape == shape:
        return grad
    return apply_op(SumTo, grad, shape)


class Sum(Op):
    name = "sum"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
        ctx.in_shape = x.shape
        if dim is None:  # the common loss.sum(): no axes to work out
            ctx.kept_shape = (1,) * x.ndim
            return x.sum(keepdims=keepdim)
        axes = _axes(dim, x.ndim)
        ctx.kept_shape = _keepdim_shape(x.shape, axes)
        return x.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None, None]:
        return apply_op(BroadcastTo, grad.reshape(ctx.kept_shape), ctx.in_shape), None, None


class Mean(Op):
    name = "mean"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
        axes = _axes(dim, x.ndim)
        ctx.in_shape = x.shape
        ctx.kept_shape = _keepdim_shape(x.shape, axes)
        ctx.count = int(np.prod([x.shape[a] for a in axes])) if x.ndim else 1
        return x.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None, None]:
        grad = grad.reshape(ctx.kept_shape) / ctx.count
        return apply_op(BroadcastTo, grad, ctx.in_shape), None, None


class Max(Op):
    """The largest element. Ties share the gradient equally, as in torch."""

    name = "max"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            raise ValueError("max: cannot take the max of an empty tensor")
        y = x.max()
        winners = x == y
        ctx.share = (winners / np.count_nonzero(winners)).astype(x.dtype)  # a constant
        return y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad * ctx.share


def argmax_indices(x: np.ndarray, dim: int, keepdim: bool) -> np.ndarray:
    (axis,) = _axes(dim, x.ndim)
    if x.shape and x.shape[axis] == 0:
        raise IndexError(f"max: dim {dim} has size 0 (tensor shape {x.shape})")
    return np.argmax(x, axis=axis, keepdims=keepdim)


class MaxDim(Op):
    """``max(dim)``: the values at ``indices`` (argmax); the gradient goes to those places."""

    name = "max"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, indices: np.ndarray, dim: int, keepdim: bool) -> np.ndarray:
        (axis,) = _axes(dim, x.ndim)
        kept = indices if keepdim else np.expand_dims(indices, axis)
        positions = np.arange(x.shape[axis]).reshape([-1 if i == axis else 1 for i in range(x.ndim)])
        ctx.mask = positions == kept  # a constant one-hot mask
        ctx.kept_shape = kept.shape
        values = np.take_along_axis(x, kept, axis)
        return values if keepdim else values.squeeze(axis)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None, None, None]:
        return grad.reshape(ctx.kept_shape) * ctx.mask, None, None, None
