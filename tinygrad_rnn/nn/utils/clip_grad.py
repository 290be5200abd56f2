"""Gradient clipping, as ``torch.nn.utils``: used between ``backward()`` and
``optimizer.step()`` to keep exploding gradients of a long unroll in check."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ...creation import from_numpy
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _vector_norm(x: np.ndarray, norm_type: float) -> np.ndarray:
    """The ``norm_type``-norm of all elements of ``x``, a 0-d array. float16 is summed in
    float32 (torch does the same): squaring a float16 above 256 would overflow to inf."""
    x = x.astype(np.promote_types(x.dtype, np.float32), copy=False)
    if norm_type == 2.0:
        return np.sqrt(np.sum(x * x))
    if norm_type == 1.0:
        return np.sum(np.abs(x))
    if norm_type == np.inf:
        return np.max(np.abs(x), initial=0).astype(x.dtype)
    if norm_type == -np.inf:
        return np.min(np.abs(x))
    if norm_type == 0.0:
        return np.asarray(np.count_nonzero(x), dtype=x.dtype)
    return np.sum(np.abs(x) ** norm_type) ** (1.0 / norm_type)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale the gradients of ``parameters`` together so that their joint norm is at most
    ``max_norm``; return that joint norm (before clipping) as a 0-d Tensor.

    As in torch: the joint norm is the ``norm_type``-norm of the per-gradient norms
    (``inf`` for the max-norm), every gradient is multiplied by
    ``min(max_norm / (total_norm + 1e-6), 1)``, and parameters without a gradient are
    skipped. float16 gradients are summed in float32, and each norm is rounded to its
    gradient's dtype, as torch does. The one difference: a joint norm too large for the
    gradients' dtype is returned as ``inf`` (as in torch), but the gradients are scaled by
    its true value rather than zeroed. Each ``p.grad`` keeps its identity but gets a new
    array, so arrays saved in a graph are never changed behind its back."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return Tensor(0.0)
    norm_type = float(norm_type)
    dtype = np.result_type(*(g._data.dtype for g in grads))
    wide = [_vector_norm(g._data, norm_type) for g in grads]
    with np.errstate(over="ignore"):  # a norm beyond the dtype's range is inf, as in torch
        norms = np.array([n.astype(g._data.dtype) for n, g in zip(wide, grads)], dtype=dtype)
        total_norm = np.asarray(_vector_norm(norms, norm_type), dtype=dtype)
    true_total = _vector_norm(np.array(wide), norm_type)
    if error_if_nonfinite and not np.isfinite(true_total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite "
            f"({total_norm}), so it cannot be clipped; pass error_if_nonfinite=False to scale by it anyway"
        )
    # the coefficient from the rounded norm, as torch computes it, unless rounding overflowed
    scale_by = total_norm if np.isfinite(total_norm) or not np.isfinite(true_total) else true_total
    clip_coef = np.minimum(max_norm / (scale_by + 1e-6), 1.0)
    for g in grads:  # in place, as torch: a reference to p.grad sees the clipped values
        np.multiply(g._data, clip_coef.astype(g._data.dtype), out=g._data)
        g._version[0] += 1
    return from_numpy(total_norm)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element of ``parameters`` into ``[-clip_value, clip_value]``.
    Parameters without a gradient are skipped; each ``p.grad`` is changed in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)
            p.grad._version[0] += 1
