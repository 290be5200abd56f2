"""Activations kept primitive, so an unrolled step stays legible in a rendered graph:
tanh, sigmoid and relu, and the softmax family along a dimension."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..engine import Op, dual
from .elementwise import Exp
from .reduce import Sum


class Tanh(Op):
    name = "tanh"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        y = np.asarray(np.tanh(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class Sigmoid(Op):
    name = "sigmoid"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        # 1 / (1 + exp(-x)), in place; exp(-x) is capped where it would overflow (there the
        # result is below 1e-38 in float32, 1e-307 in float64, instead of underflowing to 0)
        y = np.negative(x, dtype=np.result_type(x, np.float32))
        np.minimum(y, _exp_limit(y.dtype), out=y)
        np.exp(y, out=y)
        y += 1
        np.reciprocal(y, out=y)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


@functools.cache
def _exp_limit(dtype: np.dtype) -> float:
    """The largest x whose exp(x) is finite in ``dtype`` (rounded down)."""
    return float(np.floor(np.log(np.finfo(dtype).max)))


class ReLU(Op):
    name = "relu"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        positive = x > 0
        ctx.save_for_backward(positive)  # a constant mask
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (positive,) = ctx.saved_tensors
        return grad * positive


class Softmax(Op):
    name = "softmax"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, dim: int) -> np.ndarray:
        ctx.dim = dim
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        y = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        (y,) = ctx.saved_tensors
        return y * (grad - dual(Sum, grad * y, ctx.dim, True)), None


class LogSoftmax(Op):
    name = "log_softmax"

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, dim: int) -> np.ndarray:
        ctx.dim = dim
        shifted = x - x.max(axis=dim, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        (y,) = ctx.saved_tensors
        return grad - dual(Exp, y) * dual(Sum, grad, ctx.dim, True), None
