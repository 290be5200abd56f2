"""Ops that move data without changing it: reshape, transpose, permute, indexing, cat, stack."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import Op, SparseGrad, dual
from ..tensor import Tensor


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
        return dual(Transpose, grad, *ctx.dims), None, None


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
        return dual(Permute, grad, ctx.inverse), None


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
        return dual(IndexAdd, grad, ctx.in_shape, ctx.index, ctx.advanced), None


class IndexAdd(Op):
    """Zeros of ``shape`` with ``values`` added at ``index``: the backward of getitem."""

    name = "index_add"

    @staticmethod
    def forward(
        ctx: Any, values: np.ndarray, shape: tuple[int, ...], index: Any, advanced: bool
    ) -> np.ndarray:
        ctx.index = index
        out = np.zeros(shape, dtype=values.dtype)
        if advanced:
            np.add.at(out, index, values)  # repeated positions add up
        else:
            out[index] = values
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None, None, None]:
        return grad[ctx.index], None, None, None


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
