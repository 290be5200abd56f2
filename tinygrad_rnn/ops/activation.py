"""Activations kept primitive, so an unrolled step stays legible in a rendered graph:
tanh, sigmoid and relu, and the softmax family along a dimension."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..engine import OUTPUT, Op, apply_op
from .elementwise import Exp
from .reduce import Sum


class Tanh(Op):
    name = "tanh"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(OUTPUT)
        return np.tanh(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class Sigmoid(Op):
    name = "sigmoid"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
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

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


@functools.cache
@functools.cache
def _exp_limit(dtype: np.dtype) -> float:
    """The largest x whose exp(x) is finite in ``dtype`` (rounded down)."""
    return float(np.floor(np.log(np.finfo(dtype).max)))


class ReLU(Op):
    name = "relu"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.positive = ~(x <= 0)  # a constant mask; NaN passes its gradient, as in torch
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad * ctx.positive


class Softmax(Op):
    name = "softmax"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, dim: int) -> np.ndarray:
        ctx.dim = axis = _axis(x, dim)
        ctx.save_for_backward(OUTPUT)
        if x.size == 0:  # a dim of size 0: nothing to normalise
            return x.copy()
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        (y,) = ctx.saved_tensors
        return y * (grad - apply_op(Sum, grad * y, ctx.dim, True)), None


class LogSoftmax(Op):
    name = "log_softmax"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, dim: int) -> np.ndarray:
        ctx.dim = axis = _axis(x, dim)
        ctx.save_for_backward(OUTPUT)
        if x.size == 0:
            return x.copy()
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        (y,) = ctx.saved_tensors
        return grad - apply_op(Exp, y) * apply_op(Sum, grad, ctx.dim, True), None


def _axis(x: np.ndarray, dim: int) -> int | None:
    """The numpy axis of the softmax family's ``dim``: None for a 0-d tensor (torch takes
    dim 0 or -1 there, and the one element is the whole distribution)."""
    return None if x.ndim == 0 else dim
