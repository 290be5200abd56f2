"""Reductions with ties (amax/amin, min along a dim), cumulative sums, index-driven ops
(gather, scatter_add), triangles, repeat, constant padding and einsum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import INPUT, Grad, Op, apply_op
from .reduce import BroadcastTo, MaxDim, Sum, _axes, _keepdim_shape


class Amax(Op):
    """The largest values over ``dims`` (all if None or empty); ties share the gradient
    equally and NaN wins, as in torch. ``Amin`` is the same with the smallest values."""

    name = "amax"
    largest = True

    def forward(ctx, x: np.ndarray, dims: int | Sequence[int] | None, keepdim: bool) -> np.ndarray:
        axes = _axes(dims if dims != () else None, x.ndim)
        if x.size == 0 and len(axes) == x.ndim:
            raise RuntimeError(f"{ctx.name}: the tensor of shape {x.shape} is empty; it has no {ctx.name}")
        for a in axes:
            if x.shape[a] == 0:
                raise IndexError(
                    f"{ctx.name}: dim {a} has size 0 (tensor shape {x.shape}); it has no {ctx.name}"
                )
        y = (np.max if ctx.largest else np.min)(x, axis=axes, keepdims=True)
        winners = (x == y) | (np.isnan(x) & np.isnan(y))
        ctx.share = (winners / winners.sum(axis=axes, keepdims=True)).astype(x.dtype)  # a constant
        ctx.kept_shape = _keepdim_shape(x.shape, axes)
        return y if keepdim else y.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None]:
        return grad.reshape(ctx.kept_shape) * ctx.share, None, None


class Amin(Amax):
    name = "amin"
    largest = False


class MinDim(MaxDim):
    """``min(dim)``: the values at ``indices`` (argmin); the gradient goes to those places."""

    name = "min"


class Cumsum(Op):
    name = "cumsum"

    def forward(ctx, x: np.ndarray, dim: int, reverse: bool) -> np.ndarray:
        ctx.dim, ctx.reverse = dim, reverse
        if reverse:
            return np.flip(np.cumsum(np.flip(x, dim), axis=dim), dim).copy()
        return np.cumsum(x, axis=dim, dtype=np.int64 if x.dtype.kind in "biu" else x.dtype)

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None]:
        return apply_op(Cumsum, grad, ctx.dim, not ctx.reverse), None, None


def _full_index(index: np.ndarray, dim: int) -> tuple[Any, ...]:
    """The numpy index that picks ``x[..., index[i, j, k], ...]`` at each position of ``index``."""
    positions: list[Any] = list(np.indices(index.shape, sparse=True))
    positions[dim] = index
    return tuple(positions)


class Gather(Op):
    """``out[i][j] = x[index[i][j]][j]`` (for dim=0): values picked along ``dim``."""

    name = "gather"

    def forward(ctx, x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, index
        return x[_full_index(index, dim)]

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None]:
        zeros = np.zeros(ctx.shape, dtype=grad.dtype)
        return apply_op(ScatterAdd, zeros, ctx.dim, ctx.index, grad), None, None


class ScatterAdd(Op):
    """A copy of ``x`` with ``src`` added at ``index`` along ``dim`` (repeats add up)."""

    name = "scatter_add"

    def forward(ctx, x: np.ndarray, dim: int, index: np.ndarray, src: np.ndarray) -> np.ndarray:
        ctx.dim, ctx.index = dim, index
        ctx.src_pads = [(0, n - k) for n, k in zip(src.shape, index.shape)]
        out = x.copy()
        np.add.at(out, _full_index(index, dim), src[tuple(slice(0, k) for k in index.shape)])
        return out

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None, Grad]:
        grad_src = apply_op(Gather, grad, ctx.dim, ctx.index)
        if any(after for _, after in ctx.src_pads):  # src larger than index: the rest is unused
            grad_src = apply_op(Pad, grad_src, ctx.src_pads, 0)
        return grad, None, None, grad_src


class Tril(Op):
    """The lower triangle of the last two dims (below ``diagonal``); ``Triu`` the upper."""

    name = "tril"

    def forward(ctx, x: np.ndarray, diagonal: int) -> np.ndarray:
        ctx.diagonal = diagonal
        return np.triu(x, diagonal) if ctx.name == "triu" else np.tril(x, diagonal)

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        return apply_op(type(ctx), grad, ctx.diagonal), None


class Triu(Tril):
    name = "triu"


class Repeat(Op):
    """``x`` tiled ``sizes`` times along each dim (numpy ``tile``); backward sums the copies."""

    name = "repeat"

    def forward(ctx, x: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
        shape = (1,) * (len(sizes) - x.ndim) + x.shape
        ctx.in_shape, ctx.split = x.shape, tuple(n for pair in zip(sizes, shape) for n in pair)
        return np.tile(x, sizes)

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        copies = tuple(range(0, len(ctx.split), 2))
        return apply_op(Sum, grad.reshape(ctx.split), copies, False).reshape(ctx.in_shape), None


class Pad(Op):
    """Constant padding: ``pads`` holds one ``(before, after)`` pair per dim; a negative
    amount removes elements instead. Backward pads the gradient by the opposite amounts."""

    name = "pad"

    def forward(ctx, x: np.ndarray, pads: list[tuple[int, int]], value: float) -> np.ndarray:
        ctx.pads = pads
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pads, x.shape))
        grow = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
        return np.pad(x[crop], grow, constant_values=value)

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None]:
        return apply_op(Pad, grad, [(-lo, -hi) for lo, hi in ctx.pads], 0), None, None


def parse_einsum(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """The subscripts of each operand and of the output (implicit: the letters used once)."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if "." in equation or len(terms) != len(ndims):
        raise RuntimeError(
            f"einsum: equation {equation!r} needs one term per operand ({len(ndims)} given); "
            "'...' is not supported, name every dimension with a letter"
        )
    for term, ndim in zip(terms, ndims):
        if len(term) != ndim or len(set(term)) != len(term) or not all(c.isalpha() for c in term):
            raise RuntimeError(
                f"einsum: term {term!r} does not fit an operand with {ndim} dims: give one distinct "
                "letter per dim (repeated letters within one operand are not supported)"
            )
    if not arrow:
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, output


class Einsum(Op):
    """``einsum(equation, *operands)`` with one letter per dim; backward is an einsum too."""

    name = "einsum"

    def forward(ctx, equation: str, *operands: np.ndarray) -> np.ndarray:
        ctx.terms, ctx.out_term = parse_einsum(equation, [a.ndim for a in operands])
        ctx.save_for_backward(*(INPUT[k + 1] for k in range(len(operands))))
        return np.einsum(f"{','.join(ctx.terms)}->{ctx.out_term}", *operands)

    def backward(ctx, grad: Grad) -> tuple[Grad | None, ...]:
        operands = ctx.saved_tensors
        grads: list[Grad | None] = [None]
        for i, term in enumerate(ctx.terms):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            others = [t for j, t in enumerate(ctx.terms) if j != i]
            used = ctx.out_term + "".join(others)
            kept = "".join(c for c in term if c in used)  # letters only here are summed: broadcast
            spec = ",".join([ctx.out_term] + others) + "->" + kept
            g = apply_op(Einsum, spec, grad, *(a for j, a in enumerate(operands) if j != i))
            if kept != term:
                shape = operands[i].shape
                g = g.reshape(tuple(n if c in used else 1 for c, n in zip(term, shape)))
                g = apply_op(BroadcastTo, g, tuple(shape))
            grads.append(g)
        return tuple(grads)
