"""``torch.*`` functions that take a tensor first: ``tinygrad_rnn.sin(x)`` is ``x.sin()``,
``tinygrad_rnn.max(x, 1)`` is ``x.max(1)``; plus ``where`` and ``einsum``, which have no
method form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ops
from .tensor import Tensor, _promoted, _raw


def _method(name: str) -> Callable[..., Any]:
    def function(input: Tensor, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``{name}(input, *args, **kwargs)`` is ``input.{name}(*args, **kwargs)``."
    return function


abs = _method("abs")  # noqa: A001 - torch's names
amax = _method("amax")
amin = _method("amin")
argmax = _method("argmax")
argmin = _method("argmin")
argsort = _method("argsort")
bmm = _method("bmm")
clamp = _method("clamp")
clip = _method("clip")
clone = _method("clone")
cos = _method("cos")
cumsum = _method("cumsum")
erf = _method("erf")
exp = _method("exp")
expm1 = _method("expm1")
flatten = _method("flatten")
gather = _method("gather")
log = _method("log")
log1p = _method("log1p")
log_softmax = _method("log_softmax")
masked_fill = _method("masked_fill")
matmul = _method("matmul")
max = _method("max")  # noqa: A001
maximum = _method("maximum")
mean = _method("mean")
min = _method("min")  # noqa: A001
minimum = _method("minimum")
narrow = _method("narrow")
norm = _method("norm")
permute = _method("permute")
pow = _method("pow")  # noqa: A001
relu = _method("relu")
reshape = _method("reshape")
rsqrt = _method("rsqrt")
scatter_add = _method("scatter_add")
sigmoid = _method("sigmoid")
sign = _method("sign")
sin = _method("sin")
softmax = _method("softmax")
sort = _method("sort")
split = _method("split")
sqrt = _method("sqrt")
squeeze = _method("squeeze")
std = _method("std")
sum = _method("sum")  # noqa: A001
tanh = _method("tanh")
topk = _method("topk")
transpose = _method("transpose")
tril = _method("tril")
triu = _method("triu")
unbind = _method("unbind")
unflatten = _method("unflatten")
unsqueeze = _method("unsqueeze")
var = _method("var")


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """``input`` where the boolean ``condition`` holds, else ``other`` (all broadcast;
    either value may be a number)."""
    return ops.Where.apply(_raw(condition), *_promoted(input, other))


def einsum(equation: str, *operands: Any) -> Tensor:
    """``einsum("bij,bjk->bik", a, b)``: one letter per dimension, no ``...`` and no letter
    repeated within one operand. Operands may also come as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return ops.Einsum.apply(equation, *operands)
