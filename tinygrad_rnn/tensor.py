"""Tensor: a numpy array, the op that made it, and its gradient.

Every method that computes something delegates to an op in ``tinygrad_rnn/ops``; this file
only holds data and routes calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from . import engine
from .engine import Op

DEFAULT_DTYPE = np.float32

Scalar = Union[int, float, bool]
TensorLike = Union["Tensor", np.ndarray, Scalar, Sequence[Any]]


def _as_dtype(dtype: Any) -> np.dtype | None:
    return None if dtype is None else np.dtype(dtype)


class Tensor:
    """An n-dimensional array that records the operations made on it.

    ``Tensor(data, requires_grad=False, dtype=None)``: Python numbers and lists become
    float32 (the default dtype); numpy arrays keep their dtype (float64 stays float64);
    integer arrays are allowed (indices, targets) but cannot require grad. The data is
    copied, as ``torch.tensor`` does.
    """

    __slots__ = ("_data", "_grad", "requires_grad", "_op", "_name", "_detached_from", "__weakref__")

    __array_ufunc__ = None  # make `ndarray + Tensor` call Tensor.__radd__, not numpy

    _data: np.ndarray
    _grad: Tensor | None
    requires_grad: bool
    _op: Op | None
    _name: str | None
    _detached_from: tuple[str, tuple[str, ...]] | None  # set by detach(): (op name, op scope)

    def __init__(self, data: TensorLike, requires_grad: bool = False, dtype: Any = None) -> None:
        dtype = _as_dtype(dtype)
        if isinstance(data, Tensor):
            data = data._data
        if isinstance(data, (np.ndarray, np.generic)):
            array = np.array(data, dtype=dtype)
        else:
            array = np.array(data, dtype=dtype or DEFAULT_DTYPE)
        if array.dtype == object:
            raise TypeError(
                f"Tensor: cannot make a tensor from {type(data).__name__} holding objects; "
                "give numbers, nested lists of numbers or a numeric numpy array"
            )
        self._data = array
        self._grad = None
        self._op = None
        self._name = None
        self._detached_from = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool, op: Op | None) -> Tensor:
        """Fast constructor for op results: no copy, no checks."""
        t = Tensor.__new__(Tensor)
        t._data = data
        t._grad = None
        t.requires_grad = requires_grad
        t._op = op
        t._name = None
        t._detached_from = None
        return t

    # ------------------------------------------------------------------ properties

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by an op that records a graph)."""
        return self._op is None

    @property
    def op(self) -> Op | None:
        """The op that made this tensor (torch: ``grad_fn``), or None for a leaf."""
        return self._op

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind not in "fc":
            raise TypeError(
                f"Tensor: only floating-point tensors can require gradients, got dtype "
                f"{self._data.dtype}; convert first with .float() or .double(), or pass "
                "dtype=np.float32"
            )
        if not requires_grad and self._op is not None:
            raise RuntimeError(
                "requires_grad_(False): only leaf tensors can stop requiring grad; "
                "use .detach() for a copy cut from the graph"
            )
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (a Tensor), or None; assign None to reset it."""
        return self._grad

    @grad.setter
    def grad(self, value: TensorLike | None) -> None:
        self._grad = None if value is None else _check_grad(self, value)

    @property
    def name(self) -> str | None:
        """A label for rendered graphs (parameters get their dotted name from their Module)."""
        return self._name

    @name.setter
    def name(self, value: str | None) -> None:
        self._name = value
        if self._op is not None:  # the graph holds the op, not this tensor: the op keeps the label
            self._op.output_name = value

    @property
    def data(self) -> Tensor:
        """This tensor's values as a new tensor cut from the graph (``requires_grad=False``),
        sharing memory, as in torch. Changes made through it in place are not tracked: a
        backward that saved these values does not notice (use ``detach()`` for that)."""
        return Tensor._make(self._data, False, None)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(
                f"data: assigned a {type(value).__name__}; assign a Tensor "
                "(torch.tensor(...) style: tinygrad_rnn.tensor(values))"
            )
        if value._data.dtype.kind not in "fc" and self.requires_grad:
            raise TypeError(
                f"data: a tensor that requires grad cannot hold dtype {value._data.dtype}; "
                "assign a floating-point tensor"
            )
        self._data = value._data

    # ------------------------------------------------------------------ conversion

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied). Refused for a tensor that requires
        grad, as in torch: call ``detach().numpy()``."""
        if self.requires_grad:
            raise RuntimeError(
                "numpy: can't call numpy() on a tensor that requires grad; "
                "use tensor.detach().numpy() instead"
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def item(self) -> Any:
        if self._data.size != 1:
            raise ValueError(
                f"item: only a one-element tensor can be converted to a Python number, "
                f"got shape {self.shape}; index it first or use .numpy()"
            )
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph (``requires_grad=False``).

        Use it to carry a hidden state into the next chunk (truncated BPTT). The copy
        remembers where it was cut (the op's name and scope, not the op, so the old graph is
        still freed), and so do values computed from it outside the graph (``h[0]``): a
        rendered graph marks the truncation there."""
        t = Tensor._make(self._data, False, None)
        t.name = self.name
        op = self._op
        t._detached_from = (op.name, op.scope) if op is not None else self._detached_from
        return t

    def to(self, dtype: Any) -> Tensor:
        from .ops.elementwise import Cast

        dtype = np.dtype(dtype)
        return self if dtype == self._data.dtype else Cast.apply(self, dtype)

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extras = []
        if self._data.dtype != DEFAULT_DTYPE:
            extras.append(f"dtype={self._data.dtype}")
        if self._op is not None:
            extras.append(f"op={self._op.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ------------------------------------------------------------------ autograd

    def backward(
        self, gradient: TensorLike | None = None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is required unless self holds one element. The graph's saved arrays
        are freed afterwards unless ``retain_graph`` (or ``create_graph``) is set."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad: no tensor it was computed from "
                "has requires_grad=True (or it was computed under no_grad())"
            )
        seed = _seed_gradient(self, gradient, "backward", create_graph)
        engine.run_backward([self], [seed], retain_graph or create_graph, create_graph)

    # ------------------------------------------------------------------ arithmetic

    def __add__(self, other: TensorLike) -> Tensor:
        return ops.Add.apply(self, other)

    def __radd__(self, other: TensorLike) -> Tensor:
        return ops.Add.apply(other, self)

    def __sub__(self, other: TensorLike) -> Tensor:
        return ops.Sub.apply(self, other)

    def __rsub__(self, other: TensorLike) -> Tensor:
        return ops.Sub.apply(other, self)

    def __mul__(self, other: TensorLike) -> Tensor:
        return ops.Mul.apply(self, other)

    def __rmul__(self, other: TensorLike) -> Tensor:
        return ops.Mul.apply(other, self)

    def __truediv__(self, other: TensorLike) -> Tensor:
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other: TensorLike) -> Tensor:
        return ops.Div.apply(other, self)

    def __pow__(self, other: TensorLike) -> Tensor:
        return ops.Pow.apply(self, other)

    def __rpow__(self, other: TensorLike) -> Tensor:
        return ops.Pow.apply(other, self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __matmul__(self, other: TensorLike) -> Tensor:
        return ops.MatMul.apply(self, _as_tensor(other))

    def __rmatmul__(self, other: TensorLike) -> Tensor:
        return ops.MatMul.apply(_as_tensor(other), self)

    # comparisons give boolean tensors outside the graph, as in torch
    def __lt__(self, other: TensorLike) -> Tensor:
        return Tensor._make(self._data < _raw(other), False, None)

    def __le__(self, other: TensorLike) -> Tensor:
        return Tensor._make(self._data <= _raw(other), False, None)

    def __gt__(self, other: TensorLike) -> Tensor:
        return Tensor._make(self._data > _raw(other), False, None)

    def __ge__(self, other: TensorLike) -> Tensor:
        return Tensor._make(self._data >= _raw(other), False, None)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._make(self._data == _raw(other), False, None)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._make(self._data != _raw(other), False, None)

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"bool: the truth value of a tensor with {self._data.size} elements is "
                "ambiguous; use (t == x).all() style checks on .numpy()"
            )
        return bool(self._data)

    # ------------------------------------------------------------------ elementwise

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def softmax(self, dim: int) -> Tensor:
        return ops.Softmax.apply(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        return ops.LogSoftmax.apply(self, dim)

    # ------------------------------------------------------------------ reductions

    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.Sum.apply(self, dim, keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.Mean.apply(self, dim, keepdim)

    def max(self, dim: int | None = None, keepdim: bool = False) -> Any:
        """``max()`` -> the largest element; ``max(dim)`` -> ``(values, indices)``."""
        if dim is None:
            return ops.Max.apply(self)
        indices = ops.argmax_indices(self._data, dim, keepdim)
        return ops.MaxDim.apply(self, indices, dim, keepdim), Tensor._make(indices, False, None)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        if dim is None:
            return Tensor._make(np.array(np.argmax(self._data)), False, None)
        return Tensor._make(ops.argmax_indices(self._data, dim, keepdim), False, None)

    # ------------------------------------------------------------------ shape

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape)

    view = reshape

    def flatten(self) -> Tensor:
        return self.reshape(-1)

    def unsqueeze(self, dim: int) -> Tensor:
        ndim = self._data.ndim + 1
        if not -ndim <= dim < ndim:
            raise IndexError(f"unsqueeze: dim {dim} out of range for a {self._data.ndim}-d tensor")
        dim %= ndim
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dim %= max(self._data.ndim, 1)
        if self._data.ndim == 0 or self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1 :])

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return ops.Transpose.apply(self, dim0, dim1)

    def permute(self, *dims: Any) -> Tensor:
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return ops.Permute.apply(self, dims)

    @property
    def T(self) -> Tensor:  # noqa: N802 - torch's name
        """All dimensions reversed (for a matrix: its transpose)."""
        if self._data.ndim == 2:
            return ops.Transpose.apply(self, 0, 1)
        return self.permute(tuple(reversed(range(self._data.ndim))))

    @property
    def mT(self) -> Tensor:  # noqa: N802 - torch's name
        """The last two dimensions swapped (a batch of matrices transposed)."""
        return self.transpose(-2, -1)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index)

    def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]:
        """Split into ``chunks`` equal pieces along ``dim`` (gates of an LSTM/GRU)."""
        size = self.shape[dim]
        if size % chunks:
            raise ValueError(f"chunk: size {size} of dim {dim} is not divisible by {chunks}")
        step = size // chunks
        lead = (slice(None),) * (dim % self._data.ndim)
        return [self[lead + (slice(i * step, (i + 1) * step),)] for i in range(chunks)]

    # ------------------------------------------------------------------ linear algebra

    def matmul(self, other: TensorLike) -> Tensor:
        return self @ other


def _raw(value: Any) -> Any:
    return value._data if isinstance(value, Tensor) else value


def _as_tensor(value: TensorLike) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def _check_grad(tensor: Tensor, value: Any) -> Tensor:
    if not isinstance(value, Tensor):
        value = Tensor(np.asarray(value))
    if value.shape != tensor.shape:
        raise RuntimeError(
            f"grad: assigned a gradient of shape {value.shape} to a tensor of shape {tensor.shape}"
        )
    if value.dtype != tensor.dtype:
        raise TypeError(
            f"grad: assigned a gradient of dtype {value.dtype} to a tensor of dtype {tensor.dtype}; "
            f"convert it first (e.g. .astype(np.{tensor.dtype}))"
        )
    return value


def _seed_gradient(root: Tensor, gradient: TensorLike | None, where: str, create_graph: bool) -> Any:
    """The gradient a backward walk starts from: ones for a one-element tensor."""
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"{where}: grad can be implicitly created only for a one-element output, "
                f"got shape {root.shape}; pass gradient= a tensor of that shape (or call "
                ".sum() or .mean() first)"
            )
        seed: Any = np.ones_like(root._data)
    else:
        seed = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
        if seed.shape != root.shape:
            raise RuntimeError(
                f"{where}: gradient has shape {seed.shape} but the output has shape {root.shape}"
            )
        seed = seed.astype(root._data.dtype, copy=False)
        if create_graph and isinstance(gradient, Tensor):
            return gradient
    return Tensor._make(seed, False, None) if create_graph else seed


# The ops are defined on top of Tensor (they return Tensors), so they are bound last.
from . import ops  # noqa: E402
