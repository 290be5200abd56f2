"""Flatten: merge a range of dimensions into one, as ``torch.nn.Flatten``."""

from __future__ import annotations

import math

from ..tensor import Tensor
from .module import Module


def _dim(dim: int, ndim: int) -> int:
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"Flatten: Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
            f"but got {dim})"
        )
    return dim % ndim


class Flatten(Module):
    """Merge dimensions ``start_dim`` to ``end_dim`` (inclusive, negative counts from the
    end) into one: ``(N, C, L) -> (N, C*L)`` with the defaults ``start_dim=1, end_dim=-1``.
    One ``reshape`` node."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        ndim = max(input.ndim, 1)  # a 0-d tensor flattens like a 1-element vector, as torch
        start, end = _dim(self.start_dim, ndim), _dim(self.end_dim, ndim)
        if start > end:
            raise RuntimeError("Flatten: flatten() has invalid args: start_dim cannot come after end_dim")
        shape = input.shape or (1,)
        return input.reshape(shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
