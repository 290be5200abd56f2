"""Stateless layer functions, named and shaped as in ``torch.nn.functional``.

The losses are built from ordinary ops (``log_softmax``, an integer-array ``getitem``,
``mul``, ``sum``/``mean``), so a rendered graph shows how a loss is computed and its
gradient needs no special code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits and class indices or class probabilities, as
    ``torch.nn.functional.cross_entropy``.

    Shapes: ``input`` of logits ``(N, C)``, ``(C,)`` or ``(N, C, d1, ..., dk)``; ``target`` of
    integer class indices ``(N,)``, ``()`` or ``(N, d1, ..., dk)`` (a numpy array, an integer
    Tensor or a Python int), or of float class probabilities with the input's shape.
    ``weight``: optional per-class weights ``(C,)`` (a constant). Targets equal to
    ``ignore_index`` contribute nothing. ``reduction``: 'none' gives one loss per target (0
    where ignored), 'sum' their sum, 'mean' their weighted mean: the sum divided by the number
    of non-ignored targets (by the sum of their class weights if given; for probabilities, by
    the number of targets). ``label_smoothing`` mixes the target with the uniform
    distribution over the C classes, as torch.
    """
    _require_tensor("cross_entropy", "input", 1, input)
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(
            f"cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}"
        )
    class_dim, num_classes = _class_dim("cross_entropy", input)
    class_weights = _class_weights("cross_entropy", weight, num_classes, input.dtype)
    raw_target = target._data if isinstance(target, Tensor) else np.asarray(target)
    if raw_target.dtype.kind == "f":
        if raw_target.shape != input._data.shape:
            raise TypeError(
                f"cross_entropy: target must be integer class indices, got dtype {raw_target.dtype} and "
                f"shape {raw_target.shape}; class probabilities must have the input's shape {input.shape}"
            )
        return _probability_cross_entropy(input, target, class_weights, class_dim, reduction, label_smoothing)
    log_probs = input.log_softmax(class_dim)
    loss = _nll("cross_entropy", log_probs, target, class_weights, ignore_index, reduction)
    if label_smoothing == 0.0:
        return loss
    # torch: (1 - eps) * nll + eps / C * (the loss against the uniform distribution)
    targets = _integer_array(target, "cross_entropy", "target")
    valid = targets != ignore_index
    per_class = log_probs if class_weights is None else log_probs * _along(class_weights, class_dim, input)
    smooth = -per_class.sum(class_dim)
    if not valid.all():
        smooth = smooth * valid.astype(input.dtype)
    if reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "mean":
        kept = float(valid.sum()) if class_weights is None else float(class_weights[targets[valid]].sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            smooth = smooth.sum() / kept
    return loss * (1.0 - label_smoothing) + smooth * (label_smoothing / num_classes)


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """The negative log-likelihood of integer class targets given log-probabilities (the
    output of ``log_softmax``): ``-input[n, target[n]]``, weighted, ignored targets skipped,
    reduced as ``cross_entropy`` (which is ``nll_loss(log_softmax(x), target)``). Shapes as
    ``cross_entropy``."""
    _check_reduction("nll_loss", reduction)
    _, num_classes = _class_dim("nll_loss", input)
    class_weights = _class_weights("nll_loss", weight, num_classes, input.dtype)
    return _nll("nll_loss", input, target, class_weights, ignore_index, reduction)


def _class_dim(where: str, input: Tensor) -> tuple[int, int]:
    _require_tensor(where, "input", 1, input)
    if input._data.ndim == 0:
        raise ValueError(f"{where}: input must have a class dimension, got a 0-d tensor")
    if input._data.dtype.kind != "f":
        raise TypeError(f"{where}: input must be floating-point logits, got dtype {input.dtype}")
    class_dim = 0 if input._data.ndim == 1 else 1
    return class_dim, input._data.shape[class_dim]


def _class_weights(where: str, weight: Any, num_classes: int, dtype: np.dtype) -> np.ndarray | None:
    if weight is None:
        return None
    class_weights = _real_array(weight, where, "weight", dtype)
    if class_weights.shape != (num_classes,):
        raise ValueError(
            f"{where}: weight must have one entry per class, shape ({num_classes},), "
            f"got {class_weights.shape}"
        )
    return class_weights


def _along(values: np.ndarray, class_dim: int, input: Tensor) -> np.ndarray:
    """Per-class ``values`` shaped to broadcast along the class dim of ``input``."""
    return values.reshape((-1,) + (1,) * (input._data.ndim - class_dim - 1))


def _nll(
    where: str,
    log_probs: Tensor,
    target: Any,
    class_weights: np.ndarray | None,
    ignore_index: int,
    reduction: str,
) -> Tensor:
    targets = _integer_array(target, where, "target")
    shape = log_probs._data.shape
    class_dim = 0 if len(shape) == 1 else 1
    num_classes = shape[class_dim]
    expected = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if targets.shape != expected:
        raise ValueError(
            f"{where}: target of shape {targets.shape} does not match input of shape {shape}; "
            f"expected a target of shape {expected} (the input's shape without class dimension {class_dim})"
        )

    valid = targets != ignore_index
    all_valid = bool(valid.all())
    checked = targets if all_valid else targets[valid]
    if checked.size:
        low, high = checked.min(), checked.max()
        if low < 0 or high >= num_classes:
            raise IndexError(
                f"{where}: target {low if low < 0 else high} is out of range for {num_classes} classes "
                f"(valid targets are 0 to {num_classes - 1}, or ignore_index={ignore_index})"
            )
    safe = targets if all_valid else np.where(valid, targets, 0)

    if class_dim == 0:
        index: tuple[Any, ...] = (safe,)
    else:
        positions: tuple[np.ndarray, ...] = tuple(np.indices(safe.shape, sparse=True))
        index = (positions[0], safe, *positions[1:])
    picked = log_probs[index]  # log-probability of each target class

    if class_weights is None and all_valid:
        if reduction == "none":
            return -picked
        return -picked.sum() if reduction == "sum" else -picked.mean()

    scale = valid.astype(log_probs.dtype)
    if class_weights is not None:
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


def _probability_cross_entropy(
    input: Tensor,
    target: Any,
    class_weights: np.ndarray | None,
    class_dim: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    num_classes = input._data.shape[class_dim]
    if not isinstance(target, Tensor):
        target = _real_array(target, "cross_entropy", "target", input.dtype)
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / num_classes
    product = input.log_softmax(class_dim) * target
    if class_weights is not None:
        product = product * _along(class_weights, class_dim, input)
    if reduction == "none":
        return -product.sum(class_dim)
    if reduction == "sum":
        return -product.sum()
    return -product.sum() / float(input._data.size // num_classes)


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


# --------------------------------------------------------------------------- more activations


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x``."""
    return _maybe_in_place(
        input, ops.LeakyReLU.apply(_float_input(input, "leaky_relu"), negative_slope), inplace
    )


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return _maybe_in_place(input, ops.ELU.apply(_float_input(input, "elu"), alpha), inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``; ``x`` itself where ``beta * x > threshold``."""
    return ops.Softplus.apply(_float_input(input, "softplus"), beta, threshold)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` (Phi the standard normal CDF), or with ``approximate='tanh'`` its tanh
    approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either none or tanh, got {approximate!r}")
    return ops.GELU.apply(_float_input(input, "gelu"), approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    return _maybe_in_place(input, ops.SiLU.apply(_float_input(input, "silu")), inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` limited to ``[min_val, max_val]``; no gradient outside ``(min_val, max_val)``."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _maybe_in_place(
        input, ops.Hardtanh.apply(_float_input(input, "hardtanh"), min_val, max_val), inplace
    )


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed stably as ``-softplus(-x)``."""
    return -ops.Softplus.apply(-_float_input(input, "logsigmoid"), 1.0, float("inf"))


def _float_input(input: Tensor, where: str) -> Tensor:
    _require_tensor(where, "input", 1, input)
    if input._data.dtype.kind != "f":  # torch's class for "not implemented for 'Long'"
        raise NotImplementedError(
            f"{where}: not implemented for dtype {input._data.dtype}; convert with .float()"
        )
    return input


def _maybe_in_place(input: Tensor, result: Tensor, inplace: bool) -> Tensor:
    """``inplace=True``: write ``result`` into ``input`` (torch's rules for in-place ops)."""
    return input.copy_(result) if inplace else result


# --------------------------------------------------------------------------- normalisation, attention


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad with a constant: ``pad = (left, right)`` for the last dim, then ``(top, bottom)``
    for the one before, and so on; negative amounts crop. Only ``mode='constant'``."""
    _require_tensor("pad", "input", 1, input)
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is supported, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > input._data.ndim:
        raise RuntimeError(
            f"pad: padding length must be even and at most twice the number of dims ({input._data.ndim}), "
            f"got {len(pad)} values"
        )
    pairs = [(0, 0)] * input._data.ndim
    for i in range(len(pad) // 2):
        pairs[input._data.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    for (lo, hi), n in zip(pairs, input.shape):
        if n + lo + hi < 0:
            raise RuntimeError(
                f"pad: padding {pad} would give a negative size for input of shape {input.shape}"
            )
    return ops.Pad.apply(input, pairs, 0.0 if value is None else value)


def layer_norm(
    input: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last ``len(normalized_shape)``
    dims (biased variance), as ``torch.nn.functional.layer_norm``."""
    _require_tensor("layer_norm", "input", 1, input)
    shape = tuple(normalized_shape)
    if tuple(input.shape[input._data.ndim - len(shape) :]) != shape or len(shape) > input._data.ndim:
        raise RuntimeError(
            f"layer_norm: expected input with shape [*, {', '.join(map(str, shape))}], "
            f"but got input of size {list(input.shape)}"
        )
    dims = tuple(range(input._data.ndim - len(shape), input._data.ndim))
    input = _float_input(input, "layer_norm")
    deviation = input - input.mean(dims, keepdim=True)
    out = deviation * ((deviation * deviation).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """``softmax(query @ key.mT * scale + mask) @ value`` with ``scale = 1/sqrt(E)``.

    Shapes: query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)`` -> ``(..., L, Ev)``.
    ``attn_mask``: boolean (True = may attend) or float (added to the scores), broadcast to
    ``(..., L, S)``; ``is_causal`` masks the future (a query attends to keys at or before it)."""
    return _attention(query, key, value, attn_mask, dropout_p, is_causal, scale)[0]


def _attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any,
    dropout_p: float,
    is_causal: bool,
    scale: float | None,
) -> tuple[Tensor, Tensor]:
    """The attention output and the weights (after dropout)."""
    for position, (argument, given) in enumerate((("query", query), ("key", key), ("value", value)), 1):
        _require_tensor("scaled_dot_product_attention", argument, position, given)
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: give attn_mask or is_causal, not both")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.mT) * scale
    if is_causal:
        attn_mask = np.tril(np.ones((query.shape[-2], key.shape[-2]), dtype=bool))
    if attn_mask is not None:
        mask = (
            attn_mask._data if isinstance(attn_mask, Tensor) and attn_mask._data.dtype == bool else attn_mask
        )
        if isinstance(mask, np.ndarray) and mask.dtype == bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = scores.softmax(-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ value, weights


# --------------------------------------------------------------------------- more losses


def _reduce(where: str, losses: Tensor, reduction: str) -> Tensor:
    _check_reduction(where, reduction)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def _same_shape_target(where: str, input: Tensor, target: Any) -> Any:
    """``target`` as a Tensor or an array of the input's dtype; torch only warns about
    another shape (and broadcasts), here it is a ``ValueError``, as in ``mse_loss``."""
    _require_tensor(where, "input", 1, input)
    if not isinstance(target, Tensor):
        target = _real_array(target, where, "target", input.dtype)
    elif target._data.dtype != input._data.dtype:
        target = target.to(input.dtype)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"{where}: using a target size {tuple(target.shape)} that is different to the input size "
            f"{tuple(input.shape)}; please ensure they have the same size"
        )
    return target


def binary_cross_entropy(
    input: Tensor, target: Any, weight: Any = None, *, reduction: str = "mean"
) -> Tensor:
    """``-weight * (target * log(input) + (1 - target) * log(1 - input))`` for probabilities
    ``input`` in [0, 1]; each log is clamped at -100, as torch does, so the loss stays finite."""
    target = _same_shape_target("binary_cross_entropy", input, target)
    values = input._data
    if values.size and (values.min() < 0 or values.max() > 1 or np.isnan(values).any()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
    with np.errstate(divide="ignore"):
        log_p = input.log().clamp(min=-100.0)
        log_not_p = (1 - input).log().clamp(min=-100.0)
    losses = -(target * log_p + (1 - target) * log_not_p)
    if weight is not None:
        losses = losses * weight
    return _reduce("binary_cross_entropy", losses, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """``binary_cross_entropy(sigmoid(input), target)`` computed stably from logits:
    ``(1 - target) * x + (1 + (pos_weight - 1) * target) * softplus(-x)``. ``pos_weight``
    (broadcast along the last dim) weighs the positive examples."""
    target = _same_shape_target("binary_cross_entropy_with_logits", input, target)
    softplus_neg = ops.Softplus.apply(-_float_input(input, "binary_cross_entropy_with_logits"), 1.0, np.inf)
    scale = 1 if pos_weight is None else (pos_weight - 1) * target + 1
    losses = (1 - target) * input + scale * softplus_neg
    if weight is not None:
        losses = losses * weight
    return _reduce("binary_cross_entropy_with_logits", losses, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """``|input - target|``, averaged, summed or per element."""
    return _reduce("l1_loss", (input - _same_shape_target("l1_loss", input, target)).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 * d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 * beta`` (``d = input -
    target``); ``beta=0`` is the L1 loss."""
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta should be non-negative, got {beta}")
    diff = input - _same_shape_target("smooth_l1_loss", input, target)
    size = diff.abs()
    if beta == 0:
        return _reduce("smooth_l1_loss", size, reduction)
    losses = (diff * diff * (0.5 / beta)).where(size._data < beta, size - 0.5 * beta)
    return _reduce("smooth_l1_loss", losses, reduction)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``0.5 * d**2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 * delta)``."""
    if delta <= 0:
        raise RuntimeError(f"huber_loss: delta should be positive, got {delta}")
    diff = input - _same_shape_target("huber_loss", input, target)
    size = diff.abs()
    losses = (diff * diff * 0.5).where(size._data < delta, (size - 0.5 * delta) * delta)
    return _reduce("huber_loss", losses, reduction)


def kl_div(input: Tensor, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise ``target * (log(target) - input)`` for log-probabilities ``input`` (0 where
    the target is 0); with ``log_target`` the target is a log-probability too. Reductions:
    'mean' (over elements, torch's default), 'batchmean' (the sum over the batch size, the
    true KL divergence), 'sum', 'none'."""
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(f"kl_div: {reduction!r} is not a valid value for reduction")
    target = _same_shape_target("kl_div", input, target)
    if log_target:
        losses = (
            target.exp() * (target - input)
            if isinstance(target, Tensor)
            else np.exp(target) * (target - input)
        )
    else:
        raw = target._data if isinstance(target, Tensor) else target
        positive = raw > 0
        safe = target.where(positive, 1.0) if isinstance(target, Tensor) else np.where(positive, target, 1.0)
        log_target_values = safe.log() if isinstance(safe, Tensor) else np.log(safe)
        losses = (target * (log_target_values - input)).where(positive, 0.0)
    if reduction == "batchmean":
        return losses.sum() / (input.shape[0] if input._data.ndim else 1)
    return _reduce("kl_div", losses, reduction)


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
