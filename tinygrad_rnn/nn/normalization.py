"""LayerNorm: normalise each sample over its last dims, then scale and shift."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tensor import DEFAULT_DTYPE, Tensor
from . import functional
from .module import Module, Parameter


class LayerNorm(Module):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last dims, which must equal
    ``normalized_shape``: input ``(*, *normalized_shape)`` -> same shape. ``weight`` starts
    at ones and ``bias`` at zeros, both of shape ``normalized_shape``."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        self.weight: Parameter | None = Parameter(np.ones(shape, dtype)) if elementwise_affine else None
        self.bias: Parameter | None = (
            Parameter(np.zeros(shape, dtype)) if elementwise_affine and bias else None
        )

    def forward(self, input: Tensor) -> Tensor:
        return functional.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
