"""Making tensors: zeros, ones, random numbers, and the seed that makes them repeatable."""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import DEFAULT_DTYPE, Tensor

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed every random number the library draws (randn, rand, layer init, dropout)."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The library's random generator (reseeded by ``manual_seed``)."""
    return _generator


def _shape(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _make(array: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    t = Tensor._make(array.astype(np.dtype(dtype or DEFAULT_DTYPE), copy=False), False, None)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape(size)), dtype, requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape(size)), dtype, requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(t.shape), dtype or t.dtype, requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(t.shape), dtype or t.dtype, requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples of the given size."""
    return _make(_generator.standard_normal(_shape(size)), dtype, requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) of the given size."""
    return _make(_generator.random(_shape(size)), dtype, requires_grad)


def arange(*args: Any, dtype: Any = None) -> Tensor:
    """Like ``np.arange``; integer arguments give int64, as in torch."""
    array = np.arange(*args)
    return Tensor._make(array if dtype is None else array.astype(dtype), False, None)
