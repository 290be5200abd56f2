"""Ops that move data without changing it: reshape, transpose, permute, indexing, cat, stack."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import LazyGrad, Op, apply_op
from ..tensor import Tensor
from .reduce import sum_to


class Reshape(Op):
    name = "reshape"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        return grad.reshape(ctx.in_shape), None


class Transpose(Op):
    name = "transpose"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, dim0: int, dim1: int) -> np.ndarray:
        ctx.dims = (dim0, dim1)
        return np.swapaxes(x, dim0, dim1)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None, None]:
        return apply_op(Transpose, grad, *ctx.dims), None, None


class Permute(Op):
    name = "permute"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        if len(dims) != x.ndim:
            raise ValueError(
                f"permute: got {len(dims)} dims {tuple(dims)} for a {x.ndim}-d tensor of shape "
                f"{x.shape}; give one entry per dimension"
            )
        out = np.transpose(x, dims)  # checks the dims first
        inverse = [0] * len(dims)
        for i, d in enumerate(dims):
            inverse[d] = i
        ctx.inverse = tuple(inverse)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        return apply_op(Permute, grad, ctx.inverse), None


def _normalize_index(index: Any) -> tuple[Any, bool]:
    """Tensors and lists inside an index become arrays; also tell whether any is an array
    (advanced indexing, where repeated positions must add up in backward)."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    advanced = False
    for p in parts:
        if isinstance(p, Tensor):
            p = p._data
        elif isinstance(p, list):
            p = np.asarray(p)
        if isinstance(p, np.ndarray):
            if p.dtype.kind not in "iub":
                raise IndexError(f"getitem: index arrays must be integers or booleans, got {p.dtype}")
            advanced = True
        out.append(p)
    return (tuple(out) if isinstance(index, tuple) else out[0]), advanced


class GetItem(Op):
    """``x[index]``: ints, slices, None, Ellipsis and integer arrays (repeats allowed)."""

    name = "getitem"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, index: Any) -> np.ndarray:
        index, advanced = _normalize_index(index)
        ctx.in_shape = x.shape
        ctx.index = index
        ctx.advanced = advanced
        return x[index]

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        if isinstance(grad, np.ndarray):  # kept sparse: the engine adds it where it lands
            return SparseGrad(ctx.in_shape, ctx.index, grad, ctx.advanced), None
        return apply_op(IndexAdd, grad, ctx.in_shape, ctx.index, ctx.advanced), None


def _index_add(out: np.ndarray, index: Any, values: Any, advanced: bool) -> None:
    """``out[index] += values`` in place; with index arrays, repeated positions add up."""
    if advanced:
        np.add.at(out, index, values)
    else:
        out[index] += values


class SparseGrad(LazyGrad):
    """The gradient of ``x[index]`` kept sparse: zero except ``values`` at ``index``.

    Reading a sequence step by step (``xs[t]`` for every t) then costs O(T) in backward
    instead of T full-size arrays of zeros added together. (The lazy-gradient protocol is
    described at ``LazyGrad`` in engine.py.)"""

    __slots__ = ("shape", "dtype", "index", "values", "advanced")

    def __init__(self, shape: tuple[int, ...], index: Any, values: np.ndarray, advanced: bool) -> None:
        self.shape, self.dtype = shape, values.dtype
        self.index, self.values, self.advanced = index, values, advanced

    def add_to(self, out: np.ndarray) -> None:
        _index_add(out, self.index, self.values, self.advanced)

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.dtype)
        self.add_to(out)
        return out

    def astype(self, dtype: Any) -> SparseGrad:
        return SparseGrad(self.shape, self.index, self.values.astype(dtype), self.advanced)


class IndexAdd(Op):
    """Zeros of ``shape`` with ``values`` added at ``index``: the backward of getitem."""

    name = "index_add"

    @staticmethod
    def forward(
        ctx: Any, values: np.ndarray, shape: tuple[int, ...], index: Any, advanced: bool
    ) -> np.ndarray:
        ctx.index = index
        out = np.zeros(shape, dtype=values.dtype)
        _index_add(out, index, values, advanced)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None, None, None]:
        return grad[ctx.index], None, None, None


class SetItem(Op):
    """``x`` with ``x[index] = value`` (on a copy): the op behind ``t[index] = value`` and
    the in-place fills. ``value`` is a tensor, an array or a number, broadcast to the slot."""

    name = "setitem"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, index: Any, value: Any) -> np.ndarray:
        index, _ = _normalize_index(index)
        ctx.index = index
        ctx.value_shape = value.shape if isinstance(value, np.ndarray) else None
        out = x.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None, Any]:
        grad_x = apply_op(SetItem, grad, ctx.index, 0.0)
        grad_value = None
        if ctx.value_shape is not None:
            grad_value = sum_to(grad[ctx.index], ctx.value_shape)
        return grad_x, None, grad_value


class Clone(Op):
    """A copy with its own memory."""

    name = "clone"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return x.copy()

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad


class Cat(Op):
    name = "cat"

    @staticmethod
    def forward(ctx: Any, dim: int, *arrays: np.ndarray) -> np.ndarray:
        if not arrays:
            raise ValueError("cat: expected a non-empty sequence of tensors")
        out = np.concatenate(arrays, axis=dim)
        axis = dim % out.ndim
        bounds = np.cumsum([0] + [a.shape[axis] for a in arrays]).tolist()
        lead = (slice(None),) * axis
        ctx.pieces = [lead + (slice(lo, hi),) for lo, hi in zip(bounds[:-1], bounds[1:])]
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, ...]:
        return (None, *(grad[piece] for piece in ctx.pieces))


class Stack(Op):
    name = "stack"

    @staticmethod
    def forward(ctx: Any, dim: int, *arrays: np.ndarray) -> np.ndarray:
        if not arrays:
            raise ValueError("stack: expected a non-empty sequence of tensors")
        out = np.stack(arrays, axis=dim)
        ctx.lead = (slice(None),) * (dim % out.ndim)
        ctx.count = len(arrays)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, ...]:
        return (None, *(grad[ctx.lead + (i,)] for i in range(ctx.count)))


def cat(tensors: Any, dim: int = 0) -> Any:
    """Join tensors along an existing dimension ``dim``."""
    return Cat.apply(dim, *tensors)


def stack(tensors: Any, dim: int = 0) -> Any:
    """Join tensors of equal shape along a new dimension ``dim``."""
    return Stack.apply(dim, *tensors)
