"""Ops that move data without changing it: reshape, transpose, permute, indexing, cat, stack."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..engine import Grad, LazyGrad, Op, apply_op
from ..tensor import Tensor, result_type
from .reduce import ShapeError, sum_to


class Reshape(Op):
    name = "reshape"

    def forward(ctx, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError as error:  # torch's class for a size mismatch
            raise ShapeError(
                f"reshape: shape {list(shape)} is invalid for an input of shape {x.shape} ({x.size} "
                f"elements): {error}"
            ) from None

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        return grad.reshape(ctx.in_shape), None


class Transpose(Op):
    name = "transpose"

    def forward(ctx, x: np.ndarray, dim0: int, dim1: int) -> np.ndarray:
        ctx.dims = (dim0, dim1)
        return np.swapaxes(x, dim0, dim1)

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None]:
        return apply_op(Transpose, grad, *ctx.dims), None, None


class Permute(Op):
    name = "permute"

    def forward(ctx, x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        if len(dims) != x.ndim:
            raise ShapeError(
                f"permute: got {len(dims)} dims {tuple(dims)} for a {x.ndim}-d tensor of shape "
                f"{x.shape}; give one entry per dimension"
            )
        out = np.transpose(x, dims)  # checks the dims first
        inverse = [0] * len(dims)
        for i, d in enumerate(dims):
            inverse[d] = i
        ctx.inverse = tuple(inverse)
        return out

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        return apply_op(Permute, grad, ctx.inverse), None


class TwoStage:
    """An index that mixes integers with index arrays or masks, split the way torch reads
    it: the integers select first (``select``, basic indexing: a view), then ``index``
    applies the rest to that view. numpy instead counts the integers as index arrays, which
    moves the indexed dims to the front when they are separated by a slice or None:
    ``x[0, :, idx]`` would come out transposed."""

    __slots__ = ("select", "index")

    def __init__(self, select: tuple[Any, ...], index: tuple[Any, ...]) -> None:
        self.select, self.index = select, index

    def __repr__(self) -> str:
        return f"TwoStage({self.select!r}, {self.index!r})"


def _sequence_as_tuple(index: list[Any]) -> bool:
    """torch's rule for a list index (numpy's old one): ``x[[0, [1, 2]]]`` or any list holding
    a sequence, tensor, slice, Ellipsis or None, shorter than 32, means ``x[0, [1, 2]]``; a
    list of numbers is one index array."""
    return len(index) < 32 and any(
        isinstance(p, (Tensor, np.ndarray, list, tuple, slice)) or p is None or p is Ellipsis for p in index
    )


def _is_int(p: Any) -> bool:
    return isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_))


def _plain_slices(index: tuple[Any, ...]) -> bool:
    for p in index:  # noqa: SIM110 - a loop costs less than all() of a generator, on every chunk
        if type(p) is not slice or (p.step is not None and p.step <= 0):
            return False
    return True


def _normalize_index(index: Any) -> tuple[Any, bool]:
    """``index`` with torch's meaning, as a numpy index (or a ``TwoStage``), and whether it
    holds an index array or mask (advanced indexing: repeated positions add up in backward).
    Tensors and lists become arrays; an empty list is an empty integer array; a 0-d integer
    tensor is an integer."""
    if type(index) is int:  # a step of a sequence: the common case
        return index, False
    if type(index) is slice and (index.step is None or index.step > 0):
        return index, False
    if isinstance(index, TwoStage):
        return index, True
    if type(index) is tuple and _plain_slices(index):
        return index, False  # plain slices (chunk): numpy's meaning is torch's
    if isinstance(index, list) and _sequence_as_tuple(index):
        index = tuple(index)
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    advanced = has_int = False
    for p in parts:
        if isinstance(p, Tensor):
            p = p._data
        elif isinstance(p, slice) and p.step is not None and p.step < 0:
            raise ValueError(
                f"getitem: step must be greater than zero, got {p}; torch does not reverse by "
                "slicing (use x.flip(dim))"
            )
        elif isinstance(p, (list, tuple)):
            p = np.asarray([q._data if isinstance(q, Tensor) else q for q in p])
            if p.size == 0:
                p = p.astype(np.int64)
        if isinstance(p, np.ndarray):
            if p.dtype.kind not in "iub":
                raise IndexError(
                    f"getitem: tensors used as indices must be integer or bool tensors, got dtype {p.dtype}"
                )
            if p.ndim == 0 and p.dtype.kind in "iu":
                p = int(p)
            else:  # a copy: backward must not see later changes to the caller's array
                p = p.copy()
                advanced = True
        if _is_int(p):
            has_int = True
        out.append(p)
    if advanced and has_int:
        return _two_stage(out), True
    return (tuple(out) if isinstance(index, tuple) else out[0]), advanced


def _two_stage(parts: list[Any]) -> TwoStage:
    select: list[Any] = []
    for p in parts:
        if _is_int(p) or p is Ellipsis:
            select.append(p)
        elif isinstance(p, np.ndarray) and p.dtype.kind == "b":
            select.extend([slice(None)] * max(p.ndim, 1))
        elif p is not None:  # a slice or an index array: one dim, kept whole in the first stage
            select.append(slice(None))
    return TwoStage(tuple(select), tuple(p for p in parts if not _is_int(p)))


def _check_masks(shape: tuple[int, ...], index: Any) -> None:
    """A boolean mask must have the shape of the dims it covers (numpy lets an empty mask
    through on a dim of size 1; torch does not)."""
    if isinstance(index, TwoStage):  # the first stage consumed the ints: check the rest on what it left
        parts = index.index
        shape = tuple(n for n, p in zip(shape, _expand(index.select, len(shape))) if not _is_int(p))
    else:
        parts = index if isinstance(index, tuple) else (index,)
    dim = 0
    for p in parts:
        if p is Ellipsis:
            dim += len(shape) - sum(_width(q) for q in parts if q is not Ellipsis)
        elif isinstance(p, np.ndarray) and p.dtype.kind == "b" and p.ndim:
            if tuple(shape[dim : dim + p.ndim]) != p.shape:
                raise IndexError(
                    f"getitem: the shape of the mask {list(p.shape)} does not match the shape "
                    f"{list(shape[dim : dim + p.ndim])} of the dims it indexes (tensor shape {shape})"
                )
            dim += p.ndim
        else:
            dim += _width(p)


def _width(p: Any) -> int:
    """How many dims of the tensor one part of an index consumes."""
    if p is None:
        return 0
    if isinstance(p, np.ndarray) and p.dtype.kind == "b":
        return p.ndim
    return 1


def _expand(select: tuple[Any, ...], ndim: int) -> list[Any]:
    """The first stage of a ``TwoStage`` with its Ellipsis spelled out, one entry per dim."""
    out: list[Any] = []
    for p in select:
        if p is Ellipsis:
            out.extend([slice(None)] * (ndim - (len(select) - 1)))
        else:
            out.append(p)
    return out + [slice(None)] * (ndim - len(out))


def _take(x: Any, index: Any) -> Any:
    """``x[index]`` for an array or a Tensor, where ``index`` may be a ``TwoStage``."""
    if isinstance(x, Tensor) or not isinstance(index, TwoStage):
        return x[index]
    return x[index.select][index.index]


class GetItem(Op):
    """``x[index]``: ints, slices, None, Ellipsis, integer arrays (repeats allowed) and
    masks, with torch's rules where they differ from numpy's (see ``TwoStage``)."""

    name = "getitem"

    def forward(ctx, x: np.ndarray, index: Any) -> np.ndarray:
        index, advanced = _normalize_index(index)
        if advanced:
            _check_masks(x.shape, index)
        ctx.in_shape = x.shape
        ctx.index = index
        ctx.advanced = advanced
        return x[index] if type(index) is not TwoStage else x[index.select][index.index]

    def backward(ctx, grad: Grad) -> tuple[Grad | SparseGrad, None]:
        if isinstance(grad, np.ndarray):  # kept sparse: the engine adds it where it lands
            return SparseGrad(ctx.in_shape, ctx.index, grad, ctx.advanced), None
        return apply_op(IndexAdd, grad, ctx.in_shape, ctx.index, ctx.advanced), None


def _index_add(out: np.ndarray, index: Any, values: Any, advanced: bool) -> None:
    """``out[index] += values`` in place; with index arrays, repeated positions add up."""
    if isinstance(index, TwoStage):  # the first stage is a view: adding into it writes to out
        out, index = out[index.select], index.index
    if advanced:
        np.add.at(out, index, values)
    else:
        out[index] += values


class SparseGrad(LazyGrad):
    """The gradient of ``x[index]`` kept sparse: zero except ``values`` at ``index`` (and
    more such pieces absorbed from other slices of the same tensor).

    Reading a sequence step by step (``xs[t]`` for every t), or an LSTM's four gates from
    one array, then costs one write per piece in backward instead of full-size arrays of
    zeros added together. (The lazy-gradient protocol is described at ``LazyGrad`` in
    engine.py.)"""

    __slots__ = ("shape", "dtype", "pieces")

    def __init__(self, shape: tuple[int, ...], index: Any, values: np.ndarray, advanced: bool) -> None:
        self.shape, self.dtype = shape, values.dtype
        self.pieces = [(index, values, advanced)]

    def add_to(self, out: np.ndarray) -> None:
        for index, values, advanced in self.pieces:
            _index_add(out, index, values, advanced)

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.dtype)
        self.add_to(out)
        return out

    def absorb(self, other: Any) -> bool:
        if type(other) is not SparseGrad or other.dtype != self.dtype:
            return False
        self.pieces += other.pieces
        return True

    def astype(self, dtype: Any) -> SparseGrad:
        index, values, advanced = self.pieces[0]
        grad = SparseGrad(self.shape, index, values.astype(dtype), advanced)
        grad.pieces += [(i, v.astype(dtype), a) for i, v, a in self.pieces[1:]]
        return grad


class IndexAdd(Op):
    """Zeros of ``shape`` with ``values`` added at ``index``: the backward of getitem."""

    name = "index_add"

    def forward(ctx, values: np.ndarray, shape: tuple[int, ...], index: Any, advanced: bool) -> np.ndarray:
        ctx.index = index
        out = np.zeros(shape, dtype=values.dtype)
        _index_add(out, index, values, advanced)
        return out

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None, None]:
        return _take(grad, ctx.index), None, None, None


class SetItem(Op):
    """``x`` with ``x[index] = value`` (on a copy): the op behind ``t[index] = value`` and
    the in-place fills. ``value`` is a tensor, an array or a number, broadcast to the slot."""

    name = "setitem"

    def forward(ctx, x: np.ndarray, index: Any, value: Any) -> np.ndarray:
        index, _ = _normalize_index(index)
        ctx.index = index
        ctx.value_shape = value.shape if isinstance(value, np.ndarray) else None
        out = x.copy()
        if isinstance(index, TwoStage):  # the first stage is a view of out
            out[index.select][index.index] = value
        else:
            out[index] = value
        return out

    def backward(ctx, grad: Grad) -> tuple[Grad, None, Grad | None]:
        grad_x = apply_op(SetItem, grad, ctx.index, 0.0)
        grad_value = None
        if ctx.value_shape is not None:
            grad_value = sum_to(_take(grad, ctx.index), ctx.value_shape)
        return grad_x, None, grad_value


class Clone(Op):
    """A copy with its own memory."""

    name = "clone"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(ctx, grad: Grad) -> Grad:
        return grad


class Cat(Op):
    name = "cat"

    def forward(ctx, dim: int, *arrays: np.ndarray) -> np.ndarray:
        if not arrays:
            raise ShapeError("cat: expected a non-empty sequence of tensors")
        out = np.concatenate(arrays, axis=dim)
        axis = dim % out.ndim
        bounds = np.cumsum([0] + [a.shape[axis] for a in arrays]).tolist()
        lead = (slice(None),) * axis
        ctx.pieces = [lead + (slice(lo, hi),) for lo, hi in zip(bounds[:-1], bounds[1:])]
        return out

    def backward(ctx, grad: Grad) -> tuple[Grad | None, ...]:
        return (None,) + tuple(grad[piece] for piece in ctx.pieces)


class Stack(Op):
    name = "stack"

    def forward(ctx, dim: int, *arrays: np.ndarray) -> np.ndarray:
        if not arrays:
            raise ShapeError("stack: expected a non-empty sequence of tensors")
        out = np.stack(arrays, axis=dim)
        ctx.lead = (slice(None),) * (dim % out.ndim)
        ctx.count = len(arrays)
        return out

    def backward(ctx, grad: Grad) -> tuple[Grad | None, ...]:
        return (None,) + tuple(grad[ctx.lead + (i,)] for i in range(ctx.count))


def cat(tensors: Iterable[Any], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension ``dim``, as torch: their dtypes are promoted
    together, and a 1-D empty tensor (shape ``(0,)``) is skipped whatever the others' shape
    (torch's legacy rule, so ``cat([torch.zeros(0), x])`` grows a buffer from nothing)."""
    tensors = list(tensors)
    for position, t in enumerate(tensors):
        if isinstance(t, (Tensor, np.ndarray)) and t.ndim == 0:
            raise ShapeError(
                f"cat: zero-dimensional tensor (at position {position}) cannot be concatenated; "
                "use stack, or reshape it to (1,) first"
            )
    tensors = _same_dtype(tensors)
    kept = [t for t in tensors if tuple(t.shape) != (0,)]
    if not kept:  # only 1-D empty tensors: dim is not checked, as in torch
        return Cat.apply(0, *tensors[:1])
    return Cat.apply(dim, *kept)


def stack(tensors: Iterable[Any], dim: int = 0) -> Tensor:
    """Join tensors of equal shape along a new dimension ``dim`` (dtypes promoted together)."""
    return Stack.apply(dim, *_same_dtype(list(tensors)))


def _same_dtype(tensors: list[Any]) -> list[Any]:
    """The tensors cast to their torch result dtype (``cat`` of int64 and float32 is float32)."""
    dtypes = {t.dtype for t in tensors if isinstance(t, Tensor)}
    if len(dtypes) < 2:
        return tensors
    dtype = result_type(*(t for t in tensors if isinstance(t, Tensor)))
    return [t.to(dtype) if isinstance(t, Tensor) else t for t in tensors]
