"""Matrix products: matmul (``@``) and the fused affine map ``x @ W.T + b`` of a Linear
layer (one node in the graph instead of three, and one less temporary)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import INPUT, Grad, LazyGrad, Op
from .reduce import ShapeError, sum_to


class OuterGrad(LazyGrad):
    """``sum_i lefts[i].T @ rights[i]``: the gradient of a weight matrix, kept lazy.

    A weight shared by T time steps receives T such products; kept apart, they are
    multiplied out at the end as one large product (stacked rows), which is faster than T
    small products and T full-size additions. (The lazy-gradient protocol is described at
    ``LazyGrad`` in engine.py.)"""

    __slots__ = ("shape", "dtype", "lefts", "rights")

    def __init__(self, left: np.ndarray, right: np.ndarray) -> None:
        self.shape = (left.shape[1], right.shape[1])
        self.dtype = left.dtype if left.dtype == right.dtype else np.result_type(left, right)
        self.lefts, self.rights = [left], [right]

    def dense(self) -> np.ndarray:
        if len(self.lefts) == 1:
            return np.asarray(self.lefts[0].T @ self.rights[0])
        return np.concatenate(self.lefts).T @ np.concatenate(self.rights)

    def absorb(self, other: Any) -> bool:
        if type(other) is not OuterGrad:
            return False
        self.lefts += other.lefts
        self.rights += other.rights
        return True


class MatMul(Op):
    """``a @ b`` for 1-D, 2-D and batched operands (batch dims broadcast), as numpy/torch."""

    name = "matmul"

    def forward(ctx, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: both operands need at least 1 dim, got shapes {a.shape} and {b.shape}")
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            raise ShapeError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: {a.shape[-1]} (last dim "
                f"of the first) != {inner_b} ({'first' if b.ndim == 1 else 'second-to-last'} dim "
                "of the second)"
            )
        ctx.save_for_backward(INPUT[0], INPUT[1])
        if a.ndim > 2 and b.ndim == 2:  # one 2-D product runs far faster than a loop of them
            return (_matrix(a, a.shape[-1]) @ b).reshape(a.shape[:-1] + b.shape[-1:])
        return np.matmul(a, b)

    def backward(ctx, grad: Grad) -> tuple[Grad | None, Grad | OuterGrad | None]:
        a, b = ctx.saved_tensors
        needs = ctx.needs_input_grad
        if a.ndim >= 2 and b.ndim == 2:  # (..., n, k) @ (k, m): batch dims folded into rows
            g2 = _matrix(grad, b.shape[1])
            grad_a = (g2 @ b.mT).reshape(a.shape) if needs[0] else None
            grad_b = None
            if needs[1]:
                a2 = _matrix(a, b.shape[0])
                grad_b = OuterGrad(a2, g2) if isinstance(g2, np.ndarray) else a2.mT @ g2
            return grad_a, grad_b
        # treat 1-D operands as matrices (a row, b a column), as the forward did
        a2 = a.reshape((1, a.shape[0])) if a.ndim == 1 else a
        b2 = b.reshape((b.shape[0], 1)) if b.ndim == 1 else b
        g = grad
        if a.ndim == 1:
            g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) if b.ndim > 1 else g.reshape(g.shape + (1,))
        if b.ndim == 1:
            g = g.reshape(g.shape + (1,))
        grad_a = sum_to(g @ b2.mT, a2.shape).reshape(a.shape) if needs[0] else None
        grad_b = sum_to(a2.mT @ g, b2.shape).reshape(b.shape) if needs[1] else None
        return grad_a, grad_b


class Linear(Op):
    """``x @ weight.T + bias`` with x of shape (..., in), weight (out, in), bias (out,)."""

    name = "linear"

    def forward(ctx, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ShapeError(
                f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features "
                f"but weight of shape {weight.shape} expects {weight.shape[-1]}"
            )
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ShapeError(
                f"linear: bias of shape {bias.shape} does not match weight of shape {weight.shape}"
            )
        ctx.save_for_backward(INPUT[0], INPUT[1])
        # batch dims folded into rows: one 2-D product runs far faster than a loop of them
        out = _matrix(x, x.shape[-1]) @ weight.T
        if bias is not None:
            out += bias
        return out.reshape(x.shape[:-1] + weight.shape[:1])

    def backward(ctx, grad: Grad) -> tuple[Grad | None, Grad | OuterGrad | None, Grad | None]:
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_2d = _matrix(grad, weight.shape[0])
        grad_x = (grad_2d @ weight).reshape(x.shape) if needs[0] else None
        grad_w = None
        if needs[1]:  # grad_2d.T @ x; kept lazy so a weight shared by many steps does it once
            x_2d = _matrix(x, weight.shape[1])
            grad_w = OuterGrad(grad_2d, x_2d) if isinstance(grad_2d, np.ndarray) else grad_2d.mT @ x_2d
        grad_b = grad_2d.sum(0) if needs[2] else None
        return grad_x, grad_w, grad_b


def _matrix(x: Any, columns: int) -> Any:
    """``x`` with all but its last dim folded into rows (a -1 in reshape is ambiguous when
    there are no columns, so then the rows are counted)."""
    if columns:
        return x.reshape(-1, columns)
    rows = 1
    for n in x.shape[:-1]:
        rows *= n
    return x.reshape(rows, 0)
