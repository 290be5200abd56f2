"""Elementwise arithmetic with numpy broadcasting; gradients are summed back to each
input's shape (``sum_to``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import INPUT, OUTPUT, Grad, Op, apply_op
from ..tensor import Tensor
from .reduce import ShapeError, sum_to


def _raw(x: Any) -> Any:
    """The array of a Tensor (under create_graph saved values are Tensors), else ``x``."""
    return x._data if isinstance(x, Tensor) else x


def _shape(x: Any) -> tuple[int, ...] | None:
    """The shape of an array argument, None for a Python number (it gets no gradient)."""
    return x.shape if isinstance(x, np.ndarray) else None


def _shapes(a: Any, b: Any) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """The shapes of a binary op's operands, checked to broadcast (torch's RuntimeError)."""
    a_shape = a.shape if isinstance(a, np.ndarray) else None  # _shape, inlined: every add runs it
    b_shape = b.shape if isinstance(b, np.ndarray) else None
    if a_shape != b_shape and a_shape is not None and b_shape is not None:
        try:
            np.broadcast_shapes(a_shape, b_shape)
        except ValueError:
            raise ShapeError(
                f"the shapes {a_shape} and {b_shape} cannot broadcast together: each dim, aligned "
                "from the right, must match or be 1"
            ) from None
    return a_shape, b_shape


def _is_bool(x: Any) -> bool:
    return x.dtype.kind == "b" if isinstance(x, np.ndarray) else isinstance(x, (bool, np.bool_))


class Add(Op):
    name = "add"

    def forward(ctx, a: Any, b: Any) -> np.ndarray:
        ctx.shapes = _shapes(a, b)
        return a + b

    def backward(ctx, grad: Grad) -> tuple[Grad | None, Grad | None]:
        a_shape, b_shape = ctx.shapes
        return sum_to(grad, a_shape), sum_to(grad, b_shape)


class Sub(Op):
    name = "sub"

    def forward(ctx, a: Any, b: Any) -> np.ndarray:
        ctx.shapes = _shapes(a, b)
        if _is_bool(a) and _is_bool(b):
            raise RuntimeError(
                "sub: the `-` operator with two bool tensors is not supported; use `^` (xor) instead"
            )
        return a - b

    def backward(ctx, grad: Grad) -> tuple[Grad | None, Grad | None]:
        a_shape, b_shape = ctx.shapes
        return sum_to(grad, a_shape), None if b_shape is None else sum_to(-grad, b_shape)


class Mul(Op):
    name = "mul"

    def forward(ctx, a: Any, b: Any) -> np.ndarray:
        a_shape, b_shape = ctx.shapes = _shapes(a, b)
        # save only what backward reads (as torch): with a Python number, that number alone,
        # so the tensor may be changed in place before backward
        if b_shape is None:
            ctx.save_for_backward(INPUT[1])
        elif a_shape is None:
            ctx.save_for_backward(INPUT[0])
        else:
            ctx.save_for_backward(INPUT[0], INPUT[1])
        return a * b

    def backward(ctx, grad: Grad) -> tuple[Grad | None, Grad | None]:
        saved = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        if b_shape is None:
            return sum_to(grad * saved[0], a_shape), None
        if a_shape is None:
            return None, sum_to(grad * saved[0], b_shape)
        a, b = saved
        return sum_to(grad * b, a_shape), sum_to(grad * a, b_shape)


class Div(Op):
    name = "div"

    def forward(ctx, a: Any, b: Any) -> np.ndarray:
        ctx.shapes = _shapes(a, b)
        if ctx.shapes[1] is None:  # divided by a Python number: that number is all backward needs
            ctx.save_for_backward(INPUT[1])
        else:
            ctx.save_for_backward(INPUT[1], OUTPUT)
        return a / b

    def backward(ctx, grad: Grad) -> tuple[Grad | None, Grad | None]:
        a_shape, b_shape = ctx.shapes
        if b_shape is None:
            (b,) = ctx.saved_tensors
            return sum_to(grad / b, a_shape), None
        b, y = ctx.saved_tensors
        grad_a = None if a_shape is None else sum_to(grad / b, a_shape)
        # -grad * a / b**2 written as -grad * (a / b) / b: b*b under/overflows for tiny or huge b
        grad_b = None if b_shape is None else sum_to(-grad * y / b, b_shape)
        return grad_a, grad_b


class Pow(Op):
    name = "pow"

    def forward(ctx, a: Any, b: Any) -> np.ndarray:
        ctx.shapes = _shapes(a, b)
        if ctx.shapes[1] is None:  # a Python exponent: the result is not needed, as in torch
            ctx.save_for_backward(INPUT[0], INPUT[1])
        else:
            ctx.save_for_backward(INPUT[0], INPUT[1], OUTPUT)
        kind = np.result_type(a, b).kind
        if kind == "b":
            if not isinstance(b, np.ndarray):  # torch's shortcuts for the exponents 1 and 0
                return a.copy() if b else np.ones_like(a)
            raise NotImplementedError("pow: not implemented for bool tensors; convert first (.int())")
        if kind in "iu" and np.any(np.less(b, 0)):
            return _integer_pow(a, b)
        return a**b

    def backward(ctx, grad: Grad) -> tuple[Grad | None, Grad | None]:
        a_shape, b_shape = ctx.shapes
        if b_shape is None:
            a, b = ctx.saved_tensors
        else:
            a, b, y = ctx.saved_tensors
        grad_a = grad_b = None
        if a_shape is not None:
            # d(a**b)/da = b * a**(b-1), and 0 where b == 0 (even at a == 0), as in torch
            if b_shape is None:
                grad_a = 0 * grad if b == 0 else grad * (b * a ** (b - 1))
            else:
                grad_a = apply_op(Where, _raw(b) == 0, 0.0, grad * (b * a ** (b - 1)))
            grad_a = sum_to(grad_a, a_shape)
        if b_shape is not None:
            # d(a**b)/db = a**b * log(a), and 0 where a == 0 and b >= 0 (not 0 * -inf), as in torch
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_b = grad * (y * apply_op(Log, a))
            zero = (_raw(a) == 0) & (_raw(b) >= 0)
            grad_b = sum_to(apply_op(Where, zero, 0.0, grad_b), b_shape)
        return grad_a, grad_b


class Neg(Op):
    name = "neg"

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        return -a

    def backward(ctx, grad: Grad) -> Grad:
        return -grad


class Exp(Op):
    name = "exp"

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(OUTPUT)
        return np.exp(a)

    def backward(ctx, grad: Grad) -> Grad:
        (y,) = ctx.saved_tensors
        return grad * y


class Log(Op):
    name = "log"

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(INPUT[0])
        return np.log(a)

    def backward(ctx, grad: Grad) -> Grad:
        (a,) = ctx.saved_tensors
        return grad / a


class Sqrt(Op):
    name = "sqrt"

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(OUTPUT)
        return np.sqrt(a)

    def backward(ctx, grad: Grad) -> Grad:
        (y,) = ctx.saved_tensors
        return grad / (2 * y)


class Abs(Op):
    name = "abs"

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        ctx.sign = np.nan_to_num(np.sign(a), nan=0.0)  # a constant (0 at NaN, as torch's sgn)
        return np.abs(a)

    def backward(ctx, grad: Grad) -> Grad:
        return grad * ctx.sign


class Cast(Op):
    name = "cast"

    def forward(ctx, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
        ctx.in_dtype = a.dtype
        return a.astype(dtype)

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        return apply_op(Cast, grad, ctx.in_dtype), None


class Where(Op):
    """``where(condition, a, b)``: ``a`` where the boolean ``condition`` holds, else ``b``
    (broadcast together; the condition is a constant)."""

    name = "where"

    def forward(ctx, condition: np.ndarray, a: Any, b: Any) -> np.ndarray:
        ctx.condition = condition = np.asarray(condition, dtype=bool)
        ctx.shapes = (_shape(a), _shape(b))
        return np.where(condition, a, b)

    def backward(ctx, grad: Grad) -> tuple[None, Grad | None, Grad | None]:
        a_shape, b_shape = ctx.shapes
        zero = np.zeros((), dtype=grad.dtype)
        grad_a = None if a_shape is None else sum_to(apply_op(Where, ctx.condition, grad, zero), a_shape)
        grad_b = None if b_shape is None else sum_to(apply_op(Where, ctx.condition, zero, grad), b_shape)
        return None, grad_a, grad_b


class Clamp(Op):
    """``clamp(x, min, max)``: limits are numbers (or None); the gradient passes where
    ``min <= x <= max``, as in torch."""

    name = "clamp"

    def forward(ctx, x: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
        if low is None and high is None:
            raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.inside = inside  # a constant mask
        out = x if low is None else np.maximum(x, np.asarray(low, dtype=x.dtype))
        return out if high is None else np.minimum(out, np.asarray(high, dtype=x.dtype))

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None]:
        return grad * ctx.inside, None, None


def _integer_pow(a: Any, b: Any) -> np.ndarray:
    """Integer ``a ** b`` with negative exponents, as torch: 1/a**|b| truncated to an
    integer (so 1, -1 or 0). torch refuses a negative Python number as the exponent."""
    if not isinstance(b, np.ndarray):
        raise RuntimeError(
            f"pow: Integers to negative integer powers are not allowed (exponent {b}); "
            "use a float base (x.double() ** -1) for a fractional result"
        )
    a, b = np.broadcast_arrays(np.asarray(a), b)
    magnitude = np.where(a == -1, np.where(b % 2 == 0, 1, -1), (a == 1).astype(b.dtype))
    return np.where(b < 0, magnitude, a ** np.maximum(b, 0)).astype(np.result_type(a, b))
