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
from ..engine import no_grad
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


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _require_tensor(where: str, argument: str, position: int, value: Any) -> None:
    """torch's TypeError for a non-tensor argument, with the conversion that fixes it."""
    if isinstance(value, Tensor):
        return
    if type(value).__module__.startswith("torch"):
        fix = "convert a torch tensor with tinygrad_rnn.Tensor(t.detach().numpy())"
    else:
        fix = "wrap it with tinygrad_rnn.Tensor(...)"
    raise TypeError(
        f"{where}(): argument '{argument}' (position {position}) must be Tensor, "
        f"not {_type_name(value)}; {fix}"
    )


def _real_array(value: Any, where: str, what: str, dtype: np.dtype) -> np.ndarray:
    """A copy of ``value`` (a Tensor, array or number) as ``dtype``; strings, objects and
    complex numbers are refused rather than parsed or truncated."""
    array = value._data if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{where}: {what} must hold real numbers, got {_type_name(value)} of dtype {array.dtype}; "
            "give a float Tensor or numpy array"
        )
    return np.array(array, dtype=dtype, copy=True)


def _integer_array(value: Any, where: str, what: str) -> np.ndarray:
    """A private copy of integer indices: the graph keeps it, and a caller changing their
    array after the forward must not change what backward sees."""
    array = np.array(value._data if isinstance(value, Tensor) else value, copy=True)
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
    _require_tensor("linear", "input", 1, input)
    _require_tensor("linear", "weight", 2, weight)
    if bias is not None:
        _require_tensor("linear", "bias", 3, bias)
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(_dtype_mismatch_message("linear", input._data.dtype, weight._data.dtype))
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
    _require_tensor("dropout", "input", 1, input)
    _check_dropout_probability(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * np.zeros(input.shape, dtype=input.dtype)
    keep = generator().random(input.shape) >= p
    return input * (keep.astype(input.dtype) / (1.0 - p))


def relu(input: Tensor) -> Tensor:
    _require_tensor("relu", "input", 1, input)
    return input.relu()


def tanh(input: Tensor) -> Tensor:
    _require_tensor("tanh", "input", 1, input)
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    _require_tensor("sigmoid", "input", 1, input)
    return input.sigmoid()


def softmax(input: Tensor, dim: int) -> Tensor:
    """``exp(x) / exp(x).sum(dim)``, computed stably; same shape as ``input``."""
    _require_tensor("softmax", "input", 1, input)
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """``x - logsumexp(x, dim)``, computed stably; same shape as ``input``."""
    _require_tensor("log_softmax", "input", 1, input)
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
    _require_tensor("cross_entropy", "input", 1, input)
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
        class_weights = _real_array(weight, "cross_entropy", "weight", input.dtype)
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
    _require_tensor("mse_loss", "input", 1, input)
    _check_reduction("mse_loss", reduction)
    if not isinstance(target, Tensor):
        target = _real_array(target, "mse_loss", "target", input.dtype)
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


# --------------------------------------------------------------------------- embedding


class EmbeddingLookup(ops.GetItem):
    """``weight[indices]``, whose gradient skips ``padding_idx`` and, with
    ``scale_grad_by_freq``, divides each position's gradient by how often its index occurs
    in ``indices``: the only two ways it differs from an integer ``getitem``, whose
    (sparse) backward it reuses."""

    name = "embedding"

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, weight: np.ndarray, indices: np.ndarray, padding_idx: int | None, scale_grad_by_freq: bool
    ) -> np.ndarray:
        out = ops.GetItem.forward(ctx, weight, indices)
        scale = np.ones(indices.shape, dtype=weight.dtype)
        if scale_grad_by_freq:
            _, inverse, counts = np.unique(indices, return_inverse=True, return_counts=True)
            scale = scale / counts[inverse.reshape(indices.shape)]
        if padding_idx is not None:
            scale[indices == padding_idx] = 0
        ctx.grad_scale = scale[..., None] if (padding_idx is not None or scale_grad_by_freq) else None
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None, None, None]:  # type: ignore[override]
        if ctx.grad_scale is not None:
            grad = grad * ctx.grad_scale
        return ops.GetItem.backward(ctx, grad)[0], None, None, None


def _embedding_renorm(weight: Tensor, indices: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Scale, in place and outside the graph, each row of ``weight`` used by ``indices``
    whose ``norm_type``-norm exceeds ``max_norm`` down to ``max_norm`` (torch: factor
    ``max_norm / (norm + 1e-7)``)."""
    rows = np.unique(indices)
    table = weight._data
    norms = np.linalg.norm(table[rows], ord=norm_type, axis=-1)
    too_long = norms > max_norm
    if not too_long.any():
        return
    rows, norms = rows[too_long], norms[too_long]
    with no_grad():
        weight[rows] = table[rows] * (max_norm / (norms + 1e-7))[:, None].astype(table.dtype)


def embedding(
    input: Any,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Look up rows of ``weight`` ``(num_embeddings, embedding_dim)`` by integer indices
    ``(*)`` -> ``(*, embedding_dim)``; one ``embedding`` node.

    ``padding_idx``: positions holding it get no gradient (its row still reads as it is).
    ``max_norm``: first rescale, in place and outside the graph, every looked-up row whose
    ``norm_type``-norm exceeds it. ``scale_grad_by_freq``: divide the gradients by the
    indices' frequencies in ``input``. ``sparse=True`` is refused (no sparse gradients)."""
    _require_tensor("embedding", "weight", 2, weight)
    num_embeddings = weight.shape[0]
    # a private copy, checked after copying: the graph keeps it for backward, and a caller
    # changing their array afterwards must not move the gradient to other rows
    indices = np.array(input._data if isinstance(input, Tensor) else input, copy=True)
    if indices.dtype.kind not in "iu":
        raise TypeError(
            f"embedding: indices must be integers, got dtype {indices.dtype}; convert them with .long()"
        )
    if indices.size:
        low, high = indices.min(), indices.max()
        if low < 0 or high >= num_embeddings:
            bad = low if low < 0 else high
            raise IndexError(
                f"embedding: index {bad} is out of range for {num_embeddings} embeddings "
                f"(valid indices are 0 to {num_embeddings - 1})"
            )
    if sparse:
        raise ValueError(
            "embedding: sparse=True is not supported (there are no sparse gradients); use sparse=False"
        )
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= num_embeddings
    if max_norm is not None and indices.size:
        _embedding_renorm(weight, indices, max_norm, norm_type)
    return EmbeddingLookup.apply(weight, indices, padding_idx, scale_grad_by_freq)
