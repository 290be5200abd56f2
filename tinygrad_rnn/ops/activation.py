"""Activations kept primitive, so an unrolled step stays legible in a rendered graph:
tanh, sigmoid and relu, and the softmax family along a dimension."""

from __future__ import annotations

import functools

import numpy as np

from ..engine import OUTPUT, Grad, Op, apply_op
from .elementwise import Exp
from .reduce import Sum


class Tanh(Op):
    name = "tanh"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(OUTPUT)
        return np.tanh(x)

    def backward(ctx, grad: Grad) -> Grad:
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class Sigmoid(Op):
    name = "sigmoid"

    def forward(ctx: Op, x: np.ndarray) -> np.ndarray:  # Op: SiLU.forward runs it too
        # 1 / (1 + exp(-x)), in place; exp(-x) is capped where it would overflow (there the
        # result is below 1e-38 in float32, 1e-307 in float64, instead of underflowing to 0).
        # float16 is computed in float32 and rounded once, as torch does.
        y = np.negative(x, dtype=x.dtype if x.dtype.itemsize >= 4 else np.float32)
        if type(y) is not np.ndarray:  # 0-d: numpy returned a scalar
            y = np.asarray(y)
        np.minimum(y, _exp_limit(y.dtype), out=y)
        np.exp(y, out=y)
        y += 1
        np.reciprocal(y, out=y)
        ctx.save_for_backward(OUTPUT)
        return y if y.dtype == x.dtype else y.astype(x.dtype)

    def backward(ctx, grad: Grad) -> Grad:
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


@functools.cache
def _exp_limit(dtype: np.dtype) -> float:
    """The largest x whose exp(x) is finite in ``dtype`` (rounded down)."""
    return float(np.floor(np.log(np.finfo(dtype).max)))


class ReLU(Op):
    name = "relu"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        ctx.positive = ~(x <= 0)  # a constant mask; NaN passes its gradient, as in torch
        return np.maximum(x, 0)

    def backward(ctx, grad: Grad) -> Grad:
        return grad * ctx.positive


class Softmax(Op):
    name = "softmax"

    def forward(ctx, x: np.ndarray, dim: int) -> np.ndarray:
        ctx.dim = axis = _axis(x, dim)
        ctx.save_for_backward(OUTPUT)
        if x.size == 0:  # a dim of size 0: nothing to normalise
            return x.copy()
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        (y,) = ctx.saved_tensors
        return y * (grad - apply_op(Sum, grad * y, ctx.dim, True)), None


class LogSoftmax(Op):
    name = "log_softmax"

    def forward(ctx, x: np.ndarray, dim: int) -> np.ndarray:
        ctx.dim = axis = _axis(x, dim)
        ctx.save_for_backward(OUTPUT)
        if x.size == 0:
            return x.copy()
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        (y,) = ctx.saved_tensors
        return grad - apply_op(Exp, y) * apply_op(Sum, grad, ctx.dim, True), None


def _axis(x: np.ndarray, dim: int) -> int | None:
    """The numpy axis of the softmax family's ``dim``: None for a 0-d tensor (torch takes
    dim 0 or -1 there, and the one element is the whole distribution)."""
    return None if x.ndim == 0 else dim
