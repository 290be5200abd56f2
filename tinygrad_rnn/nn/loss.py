"""Losses as modules: thin wrappers over ``tinygrad_rnn.nn.functional``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from . import functional
from .module import Module


class CrossEntropyLoss(Module):
    """``F.cross_entropy`` with fixed options: logits ``(N, C)``, ``(C,)`` or
    ``(N, C, d1, ...)`` and integer targets ``(N,)``, ``()`` or ``(N, d1, ...)``."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__()
        functional._check_reduction("CrossEntropyLoss", reduction)
        self.weight = (
            None if weight is None else np.asarray(weight._data if isinstance(weight, Tensor) else weight)
        )
        if self.weight is not None and self.weight.dtype.kind not in "biuf":
            raise TypeError(
                f"CrossEntropyLoss: weight must hold real numbers, got dtype {self.weight.dtype}; "
                "give a float Tensor or numpy array of one weight per class"
            )
        self.ignore_index = ignore_index
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.cross_entropy(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class MSELoss(Module):
    """``F.mse_loss``: input and target of the same shape."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        functional._check_reduction("MSELoss", reduction)
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.mse_loss(input, target, reduction=self.reduction)
