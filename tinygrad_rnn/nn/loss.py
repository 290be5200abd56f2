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

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        functional._check_reduction("CrossEntropyLoss", reduction)
        self.label_smoothing = label_smoothing
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
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class MSELoss(Module):
    """``F.mse_loss``: input and target of the same shape."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        functional._check_reduction("MSELoss", reduction)
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.mse_loss(input, target, reduction=self.reduction)


class NLLLoss(Module):
    """``F.nll_loss``: log-probabilities ``(N, C)`` (from ``LogSoftmax``) and integer targets."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__()
        functional._check_reduction("NLLLoss", reduction)
        self.weight = _constant(weight)
        self.ignore_index = ignore_index
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class BCELoss(Module):
    """``F.binary_cross_entropy``: probabilities in [0, 1] and targets of the same shape."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__()
        functional._check_reduction("BCELoss", reduction)
        self.weight = _constant(weight)
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(Module):
    """``F.binary_cross_entropy_with_logits``: logits and targets of the same shape."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__()
        functional._check_reduction("BCEWithLogitsLoss", reduction)
        self.weight = _constant(weight)
        self.pos_weight = _constant(pos_weight)
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class L1Loss(Module):
    """``F.l1_loss``: input and target of the same shape."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        functional._check_reduction("L1Loss", reduction)
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(Module):
    """``F.smooth_l1_loss`` with threshold ``beta``."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__()
        functional._check_reduction("SmoothL1Loss", reduction)
        self.reduction, self.beta = reduction, beta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(Module):
    """``F.huber_loss`` with threshold ``delta``."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__()
        functional._check_reduction("HuberLoss", reduction)
        self.reduction, self.delta = reduction, delta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(Module):
    """``F.kl_div``: log-probabilities as input; reduction 'mean', 'batchmean', 'sum' or 'none'."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        if reduction not in ("mean", "batchmean", "sum", "none"):
            raise ValueError(f"KLDivLoss: {reduction!r} is not a valid value for reduction")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


def _constant(value: Any) -> Any:
    """A loss's fixed weights: kept as an array (no gradient flows into them)."""
    return None if value is None else np.asarray(value._data if isinstance(value, Tensor) else value)
