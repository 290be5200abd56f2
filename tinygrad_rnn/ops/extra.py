"""More elementwise functions and activations (sin, log1p, gelu, softplus, ...) and the
binary maximum/minimum. Backward is written with operators and ``apply_op``, so second
derivatives work under ``create_graph``."""

from __future__ import annotations

import math

import numpy as np

from ..engine import INPUT, OUTPUT, Grad, Op, apply_op
from .activation import Sigmoid, Tanh
from .elementwise import Exp, Where
from .reduce import sum_to

_erf = np.frompyfunc(math.erf, 1, 1)
_SQRT_2PI = math.sqrt(2 * math.pi)


class Sin(Op):
    name = "sin"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(INPUT[0])
        return np.sin(x)

    def backward(ctx, grad: Grad) -> Grad:
        (x,) = ctx.saved_tensors
        return grad * apply_op(Cos, x)


class Cos(Op):
    name = "cos"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(INPUT[0])
        return np.cos(x)

    def backward(ctx, grad: Grad) -> Grad:
        (x,) = ctx.saved_tensors
        return -grad * apply_op(Sin, x)


class Log1p(Op):
    name = "log1p"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(INPUT[0])
        return np.log1p(x)

    def backward(ctx, grad: Grad) -> Grad:
        (x,) = ctx.saved_tensors
        return grad / (x + 1)


class Expm1(Op):
    name = "expm1"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(OUTPUT)
        return np.expm1(x)

    def backward(ctx, grad: Grad) -> Grad:
        (y,) = ctx.saved_tensors
        return grad * (y + 1)


class Rsqrt(Op):
    name = "rsqrt"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(OUTPUT)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1 / np.sqrt(x)

    def backward(ctx, grad: Grad) -> Grad:
        (y,) = ctx.saved_tensors
        return grad * (-0.5 * y * y * y)


class Sign(Op):
    """``sign(x)``: -1, 0 or 1; its gradient is zero everywhere, as in torch."""

    name = "sign"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        return np.sign(x)

    def backward(ctx, grad: Grad) -> Grad:
        return grad * 0


class Erf(Op):
    name = "erf"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(INPUT[0])
        return np.asarray(_erf(x), dtype=x.dtype)

    def backward(ctx, grad: Grad) -> Grad:
        (x,) = ctx.saved_tensors
        return grad * (2 / math.sqrt(math.pi)) * apply_op(Exp, -x * x)


class LeakyReLU(Op):
    name = "leaky_relu"

    def forward(ctx, x: np.ndarray, slope: float) -> np.ndarray:
        ctx.factor = np.where(x > 0, 1, slope).astype(x.dtype)  # a constant
        return x * ctx.factor

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        return grad * ctx.factor, None


class Hardtanh(Op):
    name = "hardtanh"

    def forward(ctx, x: np.ndarray, low: float, high: float) -> np.ndarray:
        ctx.inside = (x > low) & (x < high)  # torch passes no gradient at the corners either
        return np.clip(x, low, high).astype(x.dtype)

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None]:
        return grad * ctx.inside, None, None


class ELU(Op):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""

    name = "elu"

    def forward(ctx, x: np.ndarray, alpha: float) -> np.ndarray:
        ctx.alpha, ctx.positive = alpha, x > 0
        ctx.save_for_backward(OUTPUT)
        return np.where(ctx.positive, x, alpha * np.expm1(np.minimum(x, 0)))

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        (y,) = ctx.saved_tensors  # where x <= 0: d/dx alpha * (exp(x) - 1) = y + alpha
        return apply_op(Where, ctx.positive, grad, grad * (y + ctx.alpha)), None


class Softplus(Op):
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold``."""

    name = "softplus"

    def forward(ctx, x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
        ctx.beta, ctx.linear = beta, x * beta > threshold
        ctx.save_for_backward(INPUT[0])
        return np.where(ctx.linear, x, np.logaddexp(0, x * beta) / beta).astype(x.dtype)

    def backward(ctx, grad: Grad) -> tuple[Grad, None, None]:
        (x,) = ctx.saved_tensors
        return apply_op(Where, ctx.linear, grad, grad * apply_op(Sigmoid, x * ctx.beta)), None, None


class GELU(Op):
    """``x * Phi(x)`` (``approximate='none'``, Phi the normal CDF, with erf) or its tanh
    approximation ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""

    name = "gelu"

    def forward(ctx, x: np.ndarray, approximate: str) -> np.ndarray:
        ctx.approximate = approximate
        ctx.save_for_backward(INPUT[0])
        if approximate == "tanh":
            return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        return x * 0.5 * (1 + np.asarray(_erf(x / math.sqrt(2)), dtype=x.dtype))

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            c = math.sqrt(2 / math.pi)
            t = apply_op(Tanh, c * (x + 0.044715 * x * x * x))
            slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        else:
            cdf = 0.5 * (1 + apply_op(Erf, x * (1 / math.sqrt(2))))
            slope = cdf + x * apply_op(Exp, -0.5 * x * x) / _SQRT_2PI
        return grad * slope, None


class SiLU(Op):
    name = "silu"

    def forward(ctx, x: np.ndarray) -> np.ndarray:
        y = x * Sigmoid.forward(ctx, x)
        ctx.save_for_backward(INPUT[0])  # after Sigmoid.forward, which saves its own
        return y

    def backward(ctx, grad: Grad) -> Grad:
        (x,) = ctx.saved_tensors
        s = apply_op(Sigmoid, x)
        return grad * s * (1 + x * (1 - s))


class Maximum(Op):
    """Elementwise ``maximum(a, b)`` (``minimum`` with ``largest=False``), broadcast; where
    the two are equal each gets half the gradient, as in torch. NaN wins, as in torch."""

    name = "maximum"
    largest = True

    def forward(ctx, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.shapes = (a.shape, b.shape)
        largest = ctx.largest
        wins = (a > b if largest else a < b) | np.isnan(a)
        ctx.share = np.where(a == b, 0.5, wins).astype(np.result_type(a, b))  # a constant
        return np.maximum(a, b) if largest else np.minimum(a, b)

    def backward(ctx, grad: Grad) -> tuple[Grad, Grad]:
        a_shape, b_shape = ctx.shapes
        return sum_to(grad * ctx.share, a_shape), sum_to(grad * (1 - ctx.share), b_shape)


class Minimum(Maximum):
    name = "minimum"
    largest = False
