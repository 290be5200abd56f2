"""Stateless layer functions, named and shaped as in ``torch.nn.functional``.

The losses are built from ordinary ops (``log_softmax``, an integer-array ``getitem``,
``mul``, ``sum``/``mean``), so a rendered graph shows how a loss is computed and its
gradient needs no special code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..creation import generator
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _dtype_mismatch_message(where: str, input_dtype: np.dtype, weight_dtype: np.dtype) -> str:
    return (
        f"{where}: input has dtype {input_dtype} but the weight has dtype {weight_dtype}; "
        f"convert the input with x.to(tinygrad_rnn.{weight_dtype.name}) "
        f"or the layer with layer.to(tinygrad_rnn.{input_dtype.name})"
    )


def _check_reduction(where: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{where}: {reduction!r} is not a valid value for reduction; use 'mean', 'sum' or 'none'"
        )


def _check_dropout_probability(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _integer_array(value: Any, where: str, what: str) -> np.ndarray:
    array = value._data if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"{where}: {what} must be integer class indices, got dtype {array.dtype}"
            + (
                "; class probabilities as targets are not supported, convert indices with .long()"
                if array.dtype.kind == "f"
                else ""
            )
        )
    return array


# --------------------------------------------------------------------------- layers


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: input ``(..., in)``, weight ``(out, in)``, bias ``(out,)``
    -> ``(..., out)``. One fused ``linear`` node in the graph."""
    if input._data.dtype != weight._data.dtype:
        raise TypeError(_dtype_mismatch_message("linear", input._data.dtype, weight._data.dtype))
    if weight._data.ndim == 1:  # torch: a 1-D weight is one output feature without its dim
        if bias is not None:
            raise RuntimeError(
                f"linear: a bias (shape {bias.shape}) needs a 2-D weight, got a 1-D one of shape "
                f"{weight.shape}; give the weight as weight.reshape(1, -1)"
            )
        return input @ weight
    return ops.Linear.apply(input, weight, bias)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)`` when ``training``; otherwise return ``input`` unchanged. The mask comes
    from the library's seeded generator and is a constant factor in the graph (``mul``)."""
    _check_dropout_probability(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * np.zeros(input.shape, dtype=input.dtype)
    keep = generator().random(input.shape) >= p
    return input * (keep.astype(input.dtype) / (1.0 - p))


def relu(input: Tensor) -> Tensor:
    return input.relu()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def softmax(input: Tensor, dim: int) -> Tensor:
    """``exp(x) / exp(x).sum(dim)``, computed stably; same shape as ``input``."""
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """``x - logsumexp(x, dim)``, computed stably; same shape as ``input``."""
    return input.log_softmax(dim)


def one_hot(indices: Any, num_classes: int = -1) -> Tensor:
    """Integer indices of shape ``(*)`` -> ``(*, num_classes)`` with a 1 at each index.

    The result is int64, as in torch (it does not require grad); call ``.float()`` or
    ``.double()`` to use it in arithmetic with float tensors. ``num_classes=-1`` uses the
    largest index + 1."""
    array = _integer_array(indices, "one_hot", "indices")
    if num_classes == -1:
        if array.size == 0:
            raise ValueError(
                "one_hot: cannot infer the number of classes from empty indices; pass num_classes"
            )
        num_classes = int(array.max()) + 1
    if array.size:
        low, high = array.min(), array.max()
        if low < 0:
            raise ValueError(f"one_hot: class values must be non-negative, got {low}")
        if high >= num_classes:
            raise ValueError(f"one_hot: class value {high} is out of range for num_classes={num_classes}")
    out = (array[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor._make(out, False, None)


# --------------------------------------------------------------------------- losses


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Cross-entropy between logits and class indices, as ``torch.nn.functional.cross_entropy``.

    Shapes: ``input`` of logits ``(N, C)``, ``(C,)`` or ``(N, C, d1, ..., dk)``; ``target`` of
    integer class indices ``(N,)``, ``()`` or ``(N, d1, ..., dk)`` (a numpy array, an integer
    Tensor or a Python int). ``weight``: optional per-class weights ``(C,)`` (a constant).
    Targets equal to ``ignore_index`` contribute nothing. ``reduction``: 'none' gives one loss
    per target (0 where ignored), 'sum' their sum, 'mean' their weighted mean: the sum divided
    by the number of non-ignored targets (by the sum of their class weights if given).
    """
    _check_reduction("cross_entropy", reduction)
    if input._data.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dimension, got a 0-d tensor")
    if input._data.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input must be floating-point logits, got dtype {input.dtype}")
    targets = _integer_array(target, "cross_entropy", "target")
    shape = input._data.shape
    class_dim = 0 if len(shape) == 1 else 1
    num_classes = shape[class_dim]
    expected = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if targets.shape != expected:
        raise ValueError(
            f"cross_entropy: target of shape {targets.shape} does not match input of shape {shape}; "
            f"expected a target of shape {expected} (the input's shape without class dimension {class_dim})"
        )

    valid = targets != ignore_index
    all_valid = bool(valid.all())
    checked = targets if all_valid else targets[valid]
    if checked.size:
        low, high = checked.min(), checked.max()
        if low < 0 or high >= num_classes:
            raise IndexError(
                f"cross_entropy: target {low if low < 0 else high} is out of range for {num_classes} classes "
                f"(valid targets are 0 to {num_classes - 1}, or ignore_index={ignore_index})"
            )
    safe = targets if all_valid else np.where(valid, targets, 0)

    if class_dim == 0:
        index: tuple[Any, ...] = (safe,)
    else:
        positions: tuple[np.ndarray, ...] = tuple(np.indices(safe.shape, sparse=True))
        index = (positions[0], safe, *positions[1:])
    picked = input.log_softmax(class_dim)[index]  # log-probability of each target class

    if weight is None and all_valid:
        if reduction == "none":
            return -picked
        return -picked.sum() if reduction == "sum" else -picked.mean()

    scale = valid.astype(input.dtype)
    if weight is not None:
        class_weights = np.asarray(weight._data if isinstance(weight, Tensor) else weight, dtype=input.dtype)
        if class_weights.shape != (num_classes,):
            raise ValueError(
                f"cross_entropy: weight must have one entry per class, shape ({num_classes},), "
                f"got {class_weights.shape}"
            )
        scale = scale * class_weights[safe]
    losses = picked * -scale
    if not all_valid:  # an ignored target's logits may be -inf: keep its NaN out, as torch does
        losses = ops.Where.apply(valid, losses, 0.0)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    total = float(scale.sum())
    if total == 0:  # every target ignored: a NaN loss with a zero gradient, as in torch
        return losses.sum() + float("nan")
    return losses.sum() / total


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)**2``, averaged ('mean'), summed ('sum') or per
    element ('none'). ``target`` must have the input's shape (torch would broadcast with a
    warning; here a mismatch is an error, since it is almost always a bug)."""
    _check_reduction("mse_loss", reduction)
    if not isinstance(target, Tensor):
        target = np.asarray(target, dtype=input.dtype)
    if target.shape != input.shape:
        raise ValueError(
            f"mse_loss: target of shape {tuple(target.shape)} does not match input of shape {input.shape}; "
            "reshape one of them (a (N, 1) vs (N,) pair would silently broadcast to (N, N))"
        )
    diff = input - target
    squared = diff * diff
    if reduction == "none":
        return squared
    return squared.sum() if reduction == "sum" else squared.mean()
