"""Elementwise arithmetic with numpy broadcasting; gradients are summed back to each
input's shape (``sum_to``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import Op, dual
from .reduce import sum_to


def _shape(x: Any) -> tuple[int, ...] | None:
    """The shape of an array argument, None for a Python number (it gets no gradient)."""
    return x.shape if isinstance(x, np.ndarray) else None


class Add(Op):
    name = "add"

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.shapes = (_shape(a), _shape(b))
        return a + b

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        a_shape, b_shape = ctx.shapes
        return sum_to(grad, a_shape), sum_to(grad, b_shape)


class Sub(Op):
    name = "sub"

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.shapes = (_shape(a), _shape(b))
        return a - b

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        a_shape, b_shape = ctx.shapes
        return sum_to(grad, a_shape), None if b_shape is None else sum_to(-grad, b_shape)


class Mul(Op):
    name = "mul"

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.shapes = (_shape(a), _shape(b))
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        grad_a = None if a_shape is None else sum_to(grad * b, a_shape)
        grad_b = None if b_shape is None else sum_to(grad * a, b_shape)
        return grad_a, grad_b


class Div(Op):
    name = "div"

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.shapes = (_shape(a), _shape(b))
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        grad_a = None if a_shape is None else sum_to(grad / b, a_shape)
        grad_b = None if b_shape is None else sum_to(-grad * a / (b * b), b_shape)
        return grad_a, grad_b


class Pow(Op):
    name = "pow"

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.shapes = (_shape(a), _shape(b))
        y = np.asarray(a**b)  # an array, not a numpy scalar: backward finds it by identity
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        a, b, y = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        grad_a = grad_b = None
        if a_shape is not None:
            # d(a**b)/da = b * a**(b-1); b == 0 gives 0 even at a == 0, as in torch
            grad_a = 0 * grad if b_shape is None and b == 0 else sum_to(grad * b * a ** (b - 1), a_shape)
        if b_shape is not None:
            grad_b = sum_to(grad * y * dual(Log, a), b_shape)
        return grad_a, grad_b


class Neg(Op):
    name = "neg"

    @staticmethod
    def forward(ctx: Any, a: np.ndarray) -> np.ndarray:
        return -a

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return -grad


class Exp(Op):
    name = "exp"

    @staticmethod
    def forward(ctx: Any, a: np.ndarray) -> np.ndarray:
        y = np.asarray(np.exp(a))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (y,) = ctx.saved_tensors
        return grad * y


class Log(Op):
    name = "log"

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (a,) = ctx.saved_tensors
        return grad / a


class Sqrt(Op):
    name = "sqrt"

    @staticmethod
    def forward(ctx: Any, a: np.ndarray) -> np.ndarray:
        y = np.asarray(np.sqrt(a))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (y,) = ctx.saved_tensors
        return grad / (2 * y)


class Abs(Op):
    name = "abs"

    @staticmethod
    def forward(ctx: Any, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(np.sign(a))  # a constant: d sign(a)/da = 0
        return np.abs(a)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (sign,) = ctx.saved_tensors
        return grad * sign


class Cast(Op):
    name = "cast"

    @staticmethod
    def forward(ctx: Any, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
        ctx.in_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        return dual(Cast, grad, ctx.in_dtype), None
