"""Making tensors: zeros, ones, random numbers, and the seed that makes them repeatable."""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import DEFAULT_DTYPE, Tensor, TensorLike, _check_kind, device

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


def _make(array: np.ndarray, dtype: Any, requires_grad: bool, device_: Any = None) -> Tensor:
    if device_ is not None:
        device(device_)  # only checks: the CPU is the one device
    t = Tensor._make(array.astype(np.dtype(dtype or DEFAULT_DTYPE), copy=False), False, None)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape(size)), dtype, requires_grad, device)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape(size)), dtype, requires_grad, device)


def zeros_like(t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(t.shape), dtype or t.dtype, requires_grad, device)


def ones_like(t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(t.shape), dtype or t.dtype, requires_grad, device)


def randn(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples of the given size."""
    return _make(_generator.standard_normal(_shape(size)), dtype, requires_grad, device)


def rand(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) of the given size."""
    return _make(_generator.random(_shape(size)), dtype, requires_grad, device)


def arange(*args: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Like ``torch.arange``: integer arguments give int64, a float argument float32."""
    array = np.arange(*args)
    if dtype is None and array.dtype.kind == "f":
        dtype = DEFAULT_DTYPE
    return _make(array, dtype or array.dtype, requires_grad, device)


def _infer(data: Any) -> np.ndarray:
    """``data`` as an array with torch's dtype inference: Python bools -> bool, ints ->
    int64, floats -> float32; numpy arrays and tensors keep their dtype."""
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data)
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        data = [x._data if isinstance(x, Tensor) else x for x in data]
    array = np.asarray(data)
    _check_kind(array, data)
    if array.dtype.kind == "f":
        return array.astype(DEFAULT_DTYPE)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "c":
        return array.astype(np.complex64)
    return array


def _values(data: Any) -> Any:
    """``data`` with any tensors inside replaced by their arrays (no dtype inference)."""
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        return [x._data if isinstance(x, Tensor) else x for x in data]
    return data


def tensor(data: TensorLike, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``, as ``torch.tensor``: Python ints give int64,
    floats float32, bools bool; numpy arrays keep their dtype unless ``dtype`` is given."""
    # with a dtype, Python numbers go straight to it (not through float32 first: 0.1 stays 0.1)
    array = _infer(data) if dtype is None else _values(data)
    array = np.array(array, dtype=dtype, copy=True)
    _check_kind(array, data)
    return _make(array, array.dtype, requires_grad, device)


def as_tensor(data: TensorLike, dtype: Any = None, device: Any = None) -> Tensor:
    """Like ``tensor`` but without a copy where possible (a tensor or an array of the
    right dtype is shared)."""
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    array = _infer(data) if dtype is None else np.asarray(_values(data))
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    _check_kind(array, data)
    return _make(array, array.dtype, False, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with the numpy array (changes show on both sides)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    _check_kind(array, array)
    return Tensor._make(array, False, None)
