"""tinygrad_rnn: a small reverse-mode autodiff engine on numpy, built to show
back-propagation through time as ordinary backprop over an unrolled graph."""

import builtins as _builtins
from typing import Any as _Any

import numpy as _np

from . import autograd, nn, optim
from .creation import (
    arange,
    as_tensor,
    from_numpy,
    manual_seed,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .engine import INPUT, OUTPUT, Op, enable_grad, is_grad_enabled, no_grad, scope, set_grad_enabled
from .jit import compile
from .ops import cat, stack
from .serialization import load, save
from .tensor import Size, Tensor, device, result_type

float16 = half = _np.dtype(_np.float16)
float32 = float = _np.dtype(_np.float32)
float64 = double = _np.dtype(_np.float64)
int32 = int = _np.dtype(_np.int32)
int64 = long = _np.dtype(_np.int64)
bool = _np.dtype(_np.bool_)


def is_tensor(obj: _Any) -> _builtins.bool:
    return isinstance(obj, Tensor)


def __getattr__(name: str) -> _Any:
    # the renderer imports graphviz: loaded on first use of tinygrad_rnn.viz
    if name == "viz":
        import importlib

        return importlib.import_module(".viz", __name__)
    raise AttributeError(f"module 'tinygrad_rnn' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "INPUT",
    "OUTPUT",
    "Op",
    "Size",
    "as_tensor",
    "bool",
    "device",
    "double",
    "float",
    "float16",
    "from_numpy",
    "half",
    "int",
    "int32",
    "is_tensor",
    "long",
    "nn",
    "optim",
    "result_type",
    "tensor",
    "Tensor",
    "arange",
    "autograd",
    "cat",
    "compile",
    "enable_grad",
    "float32",
    "float64",
    "int64",
    "is_grad_enabled",
    "load",
    "manual_seed",
    "no_grad",
    "ones",
    "ones_like",
    "rand",
    "randn",
    "save",
    "scope",
    "set_grad_enabled",
    "stack",
    "zeros",
    "zeros_like",
]
