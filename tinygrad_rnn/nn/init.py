"""In-place initialisers, drawing from the library's seeded generator (``manual_seed``)."""

from __future__ import annotations

import numpy as np

from ..creation import generator
from ..tensor import Tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    tensor._data = generator().uniform(a, b, tensor.shape).astype(tensor.dtype)
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    tensor._data = generator().normal(mean, std, tensor.shape).astype(tensor.dtype)
    return tensor


def constant_(tensor: Tensor, value: float) -> Tensor:
    tensor._data = np.full(tensor.shape, value, dtype=tensor.dtype)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)
