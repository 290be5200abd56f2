"""tinygrad_rnn: a small reverse-mode autodiff engine on numpy, built to show
back-propagation through time as ordinary backprop over an unrolled graph."""

import numpy as _np

from . import autograd
from .creation import arange, manual_seed, ones, ones_like, rand, randn, zeros, zeros_like
from .engine import Op, enable_grad, is_grad_enabled, no_grad, scope, set_grad_enabled
from .ops import cat, stack
from .serialization import load, save
from .tensor import Tensor

float32 = _np.float32
float64 = _np.float64
int64 = _np.int64

__version__ = "0.1.0"

__all__ = [
    "Op",
    "Tensor",
    "arange",
    "autograd",
    "cat",
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
