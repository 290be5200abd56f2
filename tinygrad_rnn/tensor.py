"""Tensor: a numpy array, the op that made it, and its gradient.

Every method that computes something delegates to an op in ``tinygrad_rnn/ops``; this file
only holds data and routes calls.
"""

from __future__ import annotations

import builtins
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


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``Size([2, 3])`` (torch.Size)."""

    def __repr__(self) -> str:
        return f"Size({list(self)})"

    __str__ = tuple.__repr__  # in messages a shape reads as (2, 3)

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))


class device:  # noqa: N801 - named like torch.device
    """Where a tensor lives. Only the CPU exists here: ``device('cpu')`` (or ``'cpu:0'``);
    any other device is refused with a clear error."""

    __slots__ = ("type", "index")
    type: str
    index: int | None

    def __init__(self, spec: Any = "cpu") -> None:
        if isinstance(spec, device):
            spec = spec.type
        text = str(spec)
        if text not in ("cpu", "cpu:0"):
            raise RuntimeError(
                f"device: only 'cpu' is available (tinygrad_rnn runs on numpy), got {spec!r}; "
                "drop the .to(device) call or use device='cpu'"
            )
        self.type = "cpu"
        self.index = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (device, str)) and str(other) in ("cpu", "cpu:0")

    __hash__ = object.__hash__

    def __str__(self) -> str:
        return "cpu"

    def __repr__(self) -> str:
        return "device(type='cpu')"


CPU = device("cpu")

_PLAIN_DTYPES = (np.dtype(DEFAULT_DTYPE), np.dtype(np.int64), np.dtype(np.bool_))  # unsaid in repr


def _check_kind(array: np.ndarray, source: Any) -> None:
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"Tensor: cannot make a tensor of dtype {array.dtype} (from {type(source).__name__}); "
            "give numbers, nested lists of numbers or a numeric numpy array (bool, int, float)"
        )


class Tensor:
    """An n-dimensional array that records the operations made on it.

    ``Tensor(data, requires_grad=False, dtype=None)``: Python numbers and lists become
    float32 (the default dtype); numpy arrays keep their dtype (float64 stays float64);
    integer arrays are allowed (indices, targets) but cannot require grad. The data is
    copied, as ``torch.tensor`` does.
    """

    # Every op result sets the four slots; the fields most tensors never set are class
    # defaults until assigned (kept in the instance dict then): fewer stores per op.
    __slots__ = ("_data", "requires_grad", "_op", "_version", "__dict__", "__weakref__")

    __array_ufunc__ = None  # make `ndarray + Tensor` call Tensor.__radd__, not numpy

    _data: np.ndarray
    requires_grad: bool
    _op: Op | None
    _version: list[int]  # bumped by every in-place change; shared by views and detach()
    _grad: Tensor | None = None
    _name: str | None = None
    _detached_from: tuple[str, tuple[str, ...]] | None = None  # set by detach(): (op name, op scope)

    def __init__(
        self, data: TensorLike, requires_grad: bool = False, dtype: Any = None, device: Any = None
    ) -> None:
        dtype = _as_dtype(dtype)
        if device is not None:
            globals()["device"](device)  # only checks: the CPU is the one device
        if isinstance(data, Tensor):
            data = data._data
        if isinstance(data, (np.ndarray, np.generic)):
            array = np.array(data, dtype=dtype)
        else:
            array = np.array(data, dtype=dtype or DEFAULT_DTYPE)
        _check_kind(array, data)
        self._data = array
        self._op = None
        self._version = [0]
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool, op: Op | None) -> Tensor:
        """Fast constructor for op results: no copy, no checks."""
        t = _new(Tensor)
        t._data = data
        t.requires_grad = requires_grad
        t._op = op
        t._version = [0]
        return t

    # ------------------------------------------------------------------ properties

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def device(self) -> device:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def size(self, dim: int | None = None) -> Any:
        """``size()`` -> the shape (a ``Size``); ``size(dim)`` -> the length of one dim."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_dim(dim, self._data.ndim, "size")]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def element_size(self) -> int:
        return int(self._data.itemsize)

    @property
    def grad_fn(self) -> Op | None:
        """The op that made this tensor, or None for a leaf (same as ``op``)."""
        return self._op

    @property
    def detached_from(self) -> tuple[str, tuple[str, ...]] | None:
        """Where ``detach()`` cut this value from a graph: (op name, op scope), else None."""
        return self._detached_from

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by an op that records a graph)."""
        return self._op is None

    @property
    def op(self) -> Op | None:
        """The op that made this tensor (torch: ``grad_fn``), or None for a leaf."""
        return self._op

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"requires_grad: only floating-point tensors can require gradients, got dtype "
                f"{self._data.dtype}; convert first with .float() or .double(), or pass "
                "dtype=tinygrad_rnn.float32"
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
        op = self._op
        return self._name if op is None else op.output_name

    @name.setter
    def name(self, value: str | None) -> None:
        if self._op is None:
            self._name = value
        else:  # the graph holds the op, not this tensor: the op keeps the label
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

    def __float__(self) -> builtins.float:
        return builtins.float(self.item())

    def __int__(self) -> builtins.int:
        return builtins.int(self.item())

    def tolist(self) -> Any:
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph (``requires_grad=False``).

        Use it to carry a hidden state into the next chunk (truncated BPTT). The copy
        remembers where it was cut (the op's name and scope, not the op, so the old graph is
        still freed), and so do values computed from it outside the graph (``h[0]``): a
        rendered graph marks the truncation there."""
        t = Tensor._make(self._data, False, None)
        t._version = self._version  # an in-place change of either is seen by both, as in torch
        t.name = self.name
        op = self._op
        t._detached_from = (op.name, op.scope) if op is not None else self._detached_from
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor from its graph in place (it becomes a leaf without grad)."""
        self._op = None
        self.requires_grad = False
        return self

    def clone(self) -> Tensor:
        """A copy with its own memory; gradients flow back to this tensor."""
        return ops.Clone.apply(self)

    def contiguous(self) -> Tensor:
        return self

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to('cpu')``, ``to('cpu', dtype)``, ``to(other_tensor)``: a tensor
        of that dtype (this one if it already is). Only the CPU exists: any other device is
        an error."""
        dtype = _to_dtype("to", args, kwargs)
        if dtype is None or dtype == self._data.dtype:
            return self.clone() if kwargs.get("copy") else self
        return ops.Cast.apply(self, dtype)

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        raise RuntimeError("cuda: no GPU here: tinygrad_rnn runs on numpy, on the CPU; drop .cuda()")

    def type(self, dtype: Any = None) -> Any:
        if dtype is None:
            return f"numpy.{self._data.dtype.name}"
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def __iter__(self) -> Any:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extras = []
        if self._data.dtype not in _PLAIN_DTYPES:  # as torch: the default dtypes go unsaid
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
    # Operands are first brought to torch's result dtype (see ``result_type``), so that
    # ``int_tensor * 2.5`` is float32 and ``float32 + float64 0-d tensor`` stays float32.

    # ``+ - *`` of two tensors of one dtype, the common case, skip the promotion call
    def __add__(self, other: TensorLike) -> Tensor:
        if type(other) is Tensor and other._data.dtype is self._data.dtype:
            return ops.Add.apply(self, other)
        return ops.Add.apply(*_promoted(self, other))

    def __radd__(self, other: TensorLike) -> Tensor:
        return ops.Add.apply(*_promoted(other, self))

    def __sub__(self, other: TensorLike) -> Tensor:
        if type(other) is Tensor and other._data.dtype is self._data.dtype and self._data.dtype.kind != "b":
            return ops.Sub.apply(self, other)
        return ops.Sub.apply(*_promoted(*_no_bool_sub(self, other)))

    def __rsub__(self, other: TensorLike) -> Tensor:
        return ops.Sub.apply(*_promoted(*_no_bool_sub(other, self)))

    def __mul__(self, other: TensorLike) -> Tensor:
        if type(other) is Tensor and other._data.dtype is self._data.dtype:
            return ops.Mul.apply(self, other)
        return ops.Mul.apply(*_promoted(self, other))

    def __rmul__(self, other: TensorLike) -> Tensor:
        return ops.Mul.apply(*_promoted(other, self))

    def __truediv__(self, other: TensorLike) -> Tensor:
        return ops.Div.apply(*_promoted(self, other, floating=True))

    def __rtruediv__(self, other: TensorLike) -> Tensor:
        return ops.Div.apply(*_promoted(other, self, floating=True))

    def __pow__(self, other: TensorLike) -> Tensor:
        return ops.Pow.apply(*_promoted(self, other))

    def __rpow__(self, other: TensorLike) -> Tensor:
        return ops.Pow.apply(*_promoted(other, self))

    def __neg__(self) -> Tensor:
        if self._data.dtype.kind == "b":
            raise RuntimeError("neg: the `-` operator on a bool tensor is not supported; use ~ instead")
        return ops.Neg.apply(self)

    def __matmul__(self, other: TensorLike) -> Tensor:
        return ops.MatMul.apply(*_same_dtype("matmul", self, _as_tensor(other)))

    def __rmatmul__(self, other: TensorLike) -> Tensor:
        return ops.MatMul.apply(*_same_dtype("matmul", _as_tensor(other), self))

    def add(self, other: Any, alpha: Scalar = 1) -> Tensor:
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other: Any, alpha: Scalar = 1) -> Tensor:
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other: TensorLike) -> Tensor:
        return self * other

    def div(self, other: TensorLike) -> Tensor:
        return self / other

    def pow(self, exponent: TensorLike) -> Tensor:
        return self**exponent

    # ------------------------------------------------------------------ in place
    # An in-place op computes its result as usual, then writes it into this tensor's memory
    # (so views and ``.data`` see it) and bumps the version counter (so a backward that saved
    # the old values raises instead of using the new ones). When a graph is recorded, the op
    # reads a copy of the old values, and this tensor becomes that op's output, as in torch.

    def __iadd__(self, other: TensorLike) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: TensorLike) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: TensorLike) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: TensorLike) -> Tensor:
        return self.div_(other)

    def add_(self, other: Any, alpha: Scalar = 1) -> Tensor:
        return self._in_place("add_", lambda t: t + (other if alpha == 1 else other * alpha), other)

    def sub_(self, other: Any, alpha: Scalar = 1) -> Tensor:
        return self._in_place("sub_", lambda t: t - (other if alpha == 1 else other * alpha), other)

    def mul_(self, other: TensorLike) -> Tensor:
        return self._in_place("mul_", lambda t: t * other, other)

    def div_(self, other: TensorLike) -> Tensor:
        return self._in_place("div_", lambda t: t / other, other)

    def pow_(self, exponent: TensorLike) -> Tensor:
        return self._in_place("pow_", lambda t: t**exponent, exponent)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - torch's names
        return self._in_place("clamp_", lambda t: t.clamp(min, max), None)

    def copy_(self, src: TensorLike) -> Tensor:
        """Copy ``src``'s values (broadcast to this shape, cast to this dtype) into this tensor."""
        self.__setitem__(Ellipsis, src)
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        self.__setitem__(Ellipsis, value)
        return self

    def uniform_(self, a: builtins.float = 0.0, b: builtins.float = 1.0) -> Tensor:
        from .creation import generator

        self.__setitem__(Ellipsis, generator().uniform(a, b, self._data.shape))
        return self

    def normal_(self, mean: builtins.float = 0.0, std: builtins.float = 1.0) -> Tensor:
        from .creation import generator

        self.__setitem__(Ellipsis, generator().normal(mean, std, self._data.shape))
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value``: an in-place write (value broadcast, cast to t's dtype)."""
        if isinstance(value, Tensor):
            if value._data.dtype != self._data.dtype:
                value = value.to(self._data.dtype)
        elif not isinstance(value, (int, float, bool)):
            value = np.asarray(value).astype(self._data.dtype, copy=False)
        self._in_place("setitem", lambda t: ops.SetItem.apply(t, index, value), value)

    def _in_place(self, name: str, compute: Any, other: Any) -> Tensor:
        flags = engine.mode()
        if flags.tracer is not None:
            flags.tracer.refuse(f"{name}: in-place changes cannot be replayed")
        recording = flags.grad_enabled and (
            self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)
        )
        if recording and self.requires_grad and self._op is None:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad is being used in an in-place "
                "operation. Update parameters inside `with tinygrad_rnn.no_grad():`, or use "
                "an out-of-place operation (w = w - lr * g) on a copy."
            )
        if not recording:
            with engine.no_grad():
                result = compute(self)
            _write(self, result._data, name)
            return self
        if self._data.base is not None and self._op is not None:
            raise RuntimeError(
                f"{name}: in-place change of a view of another tensor while recording a graph "
                "is not supported (its base would not know); use an out-of-place operation, or "
                "clone() first"
            )
        before = Tensor._make(self._data.copy(), self.requires_grad, self._op)
        result = compute(before)
        if result._data.dtype != self._data.dtype:
            result = result.to(self._data.dtype)
        _write(self, result._data, name)
        label = self.name
        self._op = result._op
        self.name = label
        self.requires_grad = result.requires_grad
        if self._op is not None:
            self._op._output = engine._weak(self)
            _rebind_output(self._op, result, self)
        return self

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
        return ops.Exp.apply(_floating(self))

    def log(self) -> Tensor:
        return ops.Log.apply(_floating(self))

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(_floating(self))

    def abs(self) -> Tensor:
        if self._data.dtype.kind == "b":
            raise NotImplementedError("abs: not implemented for bool tensors; convert first (.int())")
        return ops.Abs.apply(self)

    __abs__ = abs

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self if self._data.dtype.kind in "fc" else _floating(self))

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self if self._data.dtype.kind in "fc" else _floating(self))

    def relu(self) -> Tensor:
        if self._data.dtype.kind == "b":
            raise RuntimeError("relu: not implemented for bool tensors; convert first (.float())")
        return ops.ReLU.apply(self)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - torch's names
        """Values limited to ``[min, max]`` (either may be None, a number or a tensor); the
        dtype is promoted with the limits as torch does (an int tensor clamped to 0.5 becomes
        float32)."""
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            return _clamp_tensors(self, min, max)
        limits = [v for v in (min, max) if v is not None]
        dtype = result_type(self, *limits) if limits else self._data.dtype
        return ops.Clamp.apply(_cast(self, dtype), min, max)

    clip = clamp

    def softmax(self, dim: int) -> Tensor:
        dim = _dim(dim, self._data.ndim, "softmax")
        return ops.Softmax.apply(_float_only(self, "softmax"), dim)

    def log_softmax(self, dim: int) -> Tensor:
        dim = _dim(dim, self._data.ndim, "log_softmax")
        return ops.LogSoftmax.apply(_float_only(self, "log_softmax"), dim)

    # ------------------------------------------------------------------ reductions

    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.Sum.apply(self, dim, keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        if self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"mean: could not infer output dtype: the input has dtype {self._data.dtype}, and "
                "mean needs a floating-point one; convert first with .float() or .double()"
            )
        return ops.Mean.apply(self, dim, keepdim)

    def max(self, dim: int | None = None, keepdim: bool = False) -> Any:
        """``max()`` -> the largest element; ``max(dim)`` -> ``(values, indices)``;
        ``max(other_tensor)`` -> ``maximum(other_tensor)``."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:
            return ops.Max.apply(self)
        if not isinstance(dim, (builtins.int, np.integer)):
            raise TypeError(
                f"max: dim must be one int, got {dim!r}; torch's max reduces one dim at a time "
                "(for several dims: x.amax(dims) in torch, or max(d) repeatedly, highest d first)"
            )
        indices = ops.argmax_indices(self._data, dim, keepdim)
        return ops.MaxDim.apply(self, indices, dim, keepdim), Tensor._make(indices, False, None)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """The index of the largest value along ``dim``; without dim, the index into the
        flattened tensor (shaped as 1s per dim with ``keepdim``)."""
        if self._data.dtype.kind == "b":
            raise RuntimeError("argmax: does not support bool input; convert first (.int())")
        return Tensor._make(ops.argmax_indices(self._data, dim, keepdim, "argmax"), False, None)

    # ------------------------------------------------------------------ shape

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Dims ``start_dim`` to ``end_dim`` (inclusive) merged into one."""
        if self._data.ndim == 0:
            return self.reshape(1)
        start, end = (_dim(d, self._data.ndim, "flatten") for d in (start_dim, end_dim))
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1 :])

    def unsqueeze(self, dim: int) -> Tensor:
        ndim = self._data.ndim + 1
        if not -ndim <= dim < ndim:
            raise IndexError(f"unsqueeze: dim {dim} out of range for a {self._data.ndim}-d tensor")
        dim %= ndim
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | Sequence[int] | None = None) -> Tensor:
        """Drop dims of size 1: all of them, or those among ``dim`` (an int or a tuple)."""
        ndim = self._data.ndim
        if dim is None:
            dims = set(range(ndim))
        else:
            dims = {_dim(d, ndim, "squeeze") for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
        shape = tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1))
        return self if len(shape) == ndim else self.reshape(shape)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        ndim = self._data.ndim
        dim0, dim1 = _dim(dim0, ndim, "transpose"), _dim(dim1, ndim, "transpose")
        if ndim == 0:  # a 0-d tensor takes dims 0 and -1, and stays as it is
            return self
        return ops.Transpose.apply(self, dim0, dim1)

    def permute(self, *dims: Any) -> Tensor:
        if not dims:  # as torch; a 0-d tensor takes permute(())
            raise TypeError("permute: missing the dims (one per dimension, or one tuple of them)")
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
        """Split along ``dim`` into pieces of ``ceil(size / chunks)`` (gates of an LSTM/GRU),
        as torch: the last piece may be shorter, and there may be fewer than ``chunks``."""
        if self._data.ndim == 0:
            raise RuntimeError("chunk: expects at least a 1-dimensional tensor, got a 0-d one")
        if chunks <= 0:
            raise RuntimeError(f"chunk: expects `chunks` to be greater than 0, got: {chunks}")
        axis = _dim(dim, self._data.ndim, "chunk")
        size = self._data.shape[axis]
        step = -(-size // chunks)
        lead = (slice(None),) * axis
        if step == 0:  # an empty dim: chunks empty pieces, as torch
            return [self[lead + (slice(0, 0),)] for _ in range(chunks)]
        return [self[lead + (slice(start, start + step),)] for start in range(0, size, step)]

    # ------------------------------------------------------------------ linear algebra

    def matmul(self, other: TensorLike) -> Tensor:
        return self @ other

    # ------------------------------------------------------------------ more ops (torch breadth)
    # Elementwise math, reductions with indices, shape and index ops; each a thin call into
    # ``ops``; composites (var, std, norm, split, sort, topk) are built from those.

    def sin(self) -> Tensor:
        return ops.Sin.apply(_floating(self))

    def cos(self) -> Tensor:
        return ops.Cos.apply(_floating(self))

    def log1p(self) -> Tensor:
        return ops.Log1p.apply(_floating(self))

    def expm1(self) -> Tensor:
        return ops.Expm1.apply(_floating(self))

    def rsqrt(self) -> Tensor:
        return ops.Rsqrt.apply(_floating(self))

    def erf(self) -> Tensor:
        return ops.Erf.apply(_floating(self))

    def sign(self) -> Tensor:
        return ops.Sign.apply(self)

    def maximum(self, other: TensorLike) -> Tensor:
        return ops.Maximum.apply(*_promoted(self, _as_tensor(other)))

    def minimum(self, other: TensorLike) -> Tensor:
        return ops.Minimum.apply(*_promoted(self, _as_tensor(other)))

    def where(self, condition: TensorLike, other: TensorLike) -> Tensor:
        """``self`` where ``condition`` holds, else ``other`` (broadcast together)."""
        return ops.Where.apply(_raw(condition), *_promoted(self, other))

    def masked_fill(self, mask: TensorLike, value: Any) -> Tensor:
        """``value`` where the boolean ``mask`` holds (broadcast), else ``self``."""
        mask = np.asarray(_raw(mask))
        if mask.dtype != np.bool_:
            raise RuntimeError(
                f"masked_fill: expected a boolean mask, got dtype {mask.dtype}; use mask.bool()"
            )
        return ops.Where.apply(mask, _cast(value, self._data.dtype), self)

    def masked_fill_(self, mask: TensorLike, value: Any) -> Tensor:
        return self._in_place("masked_fill_", lambda t: t.masked_fill(mask, value), value)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        """``min()`` -> the smallest element; ``min(dim)`` -> ``(values, indices)``;
        ``min(other_tensor)`` -> ``minimum(other_tensor)``."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return ops.Amin.apply(self, None, False)
        indices = self.argmin(dim, keepdim)._data
        return ops.MinDim.apply(self, indices, dim, keepdim), Tensor._make(indices, False, None)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        if dim is None:
            return Tensor._make(np.array(np.argmin(self._data)), False, None)
        if self._data.ndim and self._data.shape[_dim(dim, self._data.ndim, "argmin")] == 0:
            raise IndexError(f"argmin: dim {dim} has size 0 (tensor shape {self.shape})")
        return Tensor._make(
            np.argmin(self._data, axis=dim % max(self._data.ndim, 1), keepdims=keepdim), False, None
        )

    def amax(self, dim: Any = (), keepdim: bool = False) -> Tensor:
        """The largest values over ``dim`` (an int or several; all by default); ties share
        the gradient equally."""
        return ops.Amax.apply(self, dim, keepdim)

    def amin(self, dim: Any = (), keepdim: bool = False) -> Tensor:
        return ops.Amin.apply(self, dim, keepdim)

    def var(
        self, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None
    ) -> Tensor:
        """The variance over ``dim``: squared deviations summed and divided by
        ``N - correction`` (``correction=1`` by default; ``unbiased=False`` means 0)."""
        if unbiased is not None and correction is not None:
            raise TypeError("var: give either unbiased or correction, not both")
        correction = (1 if unbiased is None or unbiased else 0) if correction is None else correction
        x = _float_only(self, "var")
        deviation = x - x.mean(dim, keepdim=True)
        count = x.numel() // max(deviation.mean(dim, keepdim=True).numel(), 1) if x.numel() else 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return (deviation * deviation).sum(dim, keepdim) / builtins.float(
                builtins.max(count - correction, 0)
            )

    def std(
        self, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None
    ) -> Tensor:
        """The square root of ``var`` (same arguments)."""
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
        """The ``p``-norm over ``dim`` (all elements by default): ``'fro'``/2, 1, ``inf``,
        ``-inf``, 0 (count of non-zeros) or any other number."""
        x = _float_only(self, "norm")
        if p in ("fro", 2):
            return (x * x).sum(dim, keepdim).sqrt()
        if p == builtins.float("inf"):
            return x.abs().amax(() if dim is None else dim, keepdim)
        if p == -builtins.float("inf"):
            return x.abs().amin(() if dim is None else dim, keepdim)
        if p == 0:
            return (x != 0).to(x.dtype).sum(dim, keepdim)
        if p == 1:
            return x.abs().sum(dim, keepdim)
        return (x.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    def expand(self, *sizes: Any) -> Tensor:
        """A broadcast view with ``sizes`` (``-1`` keeps a dim; new dims go in front)."""
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        lead = len(sizes) - self._data.ndim
        shape = list(sizes)
        for i, n in enumerate(self.shape):
            if sizes[lead + i] == -1:
                shape[lead + i] = n
            elif n not in (1, sizes[lead + i]):
                raise RuntimeError(
                    f"expand: the expanded size of the tensor ({sizes[lead + i]}) must match the existing "
                    f"size ({n}) at non-singleton dimension {lead + i}. Target sizes: {list(sizes)}. "
                    f"Tensor sizes: {list(self.shape)}"
                )
        if lead < 0 or any(n < 0 for n in shape):
            raise RuntimeError(f"expand: cannot expand a tensor of shape {list(self.shape)} to {list(sizes)}")
        return ops.BroadcastTo.apply(self, tuple(shape))

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def repeat(self, *sizes: Any) -> Tensor:
        """The tensor tiled ``sizes[i]`` times along dim ``i`` (new dims go in front)."""
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        if len(sizes) < self._data.ndim:
            raise RuntimeError(
                f"repeat: number of dimensions of repeat dims ({len(sizes)}) can not be smaller than "
                f"number of dimensions of tensor ({self._data.ndim})"
            )
        return ops.Repeat.apply(self, tuple(sizes))

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        """Dim ``dim`` split into ``sizes`` (one may be -1)."""
        d = _dim(dim, self._data.ndim, "unflatten")
        known = int(np.prod([n for n in sizes if n != -1]))
        if (known != self.shape[d] and -1 not in sizes) or (-1 in sizes and self.shape[d] % max(known, 1)):
            raise RuntimeError(
                f"unflatten: provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
                f"({self.shape[d]}) in the input tensor"
            )
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the
        given list of sizes."""
        d = _dim(dim, self._data.ndim, "split")
        size = self.shape[d]
        if isinstance(split_size_or_sections, (builtins.int, np.integer)):
            step = builtins.int(split_size_or_sections)
            sections = [builtins.min(step, size - i) for i in range(0, size, step)] if size else [0]
        else:
            sections = list(split_size_or_sections)
            if sum(sections) != size:
                raise RuntimeError(
                    f"split: split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                    f"size at dimension {dim}), but got split_sizes={sections}"
                )
        starts = np.cumsum([0] + sections[:-1]).tolist()
        return tuple(self.narrow(d, start, n) for start, n in zip(starts, sections))

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along ``dim``, that dim removed."""
        d = _dim(dim, self._data.ndim, "unbind")
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """``length`` elements along ``dim`` from ``start`` (a view in torch, a copy here)."""
        d = _dim(dim, self._data.ndim, "narrow")
        size = self.shape[d]
        start = start + size if start < 0 else start
        if not (0 <= start <= size and 0 <= length <= size - start):
            raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size})")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def gather(self, dim: int, index: TensorLike) -> Tensor:
        """``out[i][j] = self[index[i][j]][j]`` for ``dim=0`` (and so on)."""
        d, index = _dim(dim, self._data.ndim, "gather"), _index_array(index, self, "gather")
        return ops.Gather.apply(self, d, index)

    def scatter_add(self, dim: int, index: TensorLike, src: TensorLike) -> Tensor:
        """A copy with ``src`` added at ``index`` along ``dim`` (repeated indices add up)."""
        d, index = _dim(dim, self._data.ndim, "scatter_add"), _index_array(index, self, "scatter_add")
        return ops.ScatterAdd.apply(self, d, index, _cast(_as_tensor(src), self._data.dtype))

    def cumsum(self, dim: int) -> Tensor:
        return ops.Cumsum.apply(self, _dim(dim, self._data.ndim, "cumsum"), False)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> tuple[Tensor, Tensor]:
        """``(values, indices)`` sorted along ``dim``; ties keep their order, NaN counts as
        the largest value."""
        indices = self.argsort(dim, descending, stable)
        return self.gather(dim, indices), indices

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        x = self._data if self._data.ndim else self._data.reshape(1)
        d = _dim(dim, x.ndim, "sort")
        if not descending:
            order = np.argsort(x, axis=d, kind="stable")
        else:
            keys = -x.astype(np.int64) if x.dtype.kind in "biu" else -x
            order = (
                np.lexsort((keys, ~np.isnan(x)), axis=d)
                if x.dtype.kind == "f"
                else np.argsort(keys, d, "stable")
            )
        return Tensor._make(order.reshape(self._data.shape), False, None)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> tuple[Tensor, Tensor]:  # noqa: A002
        """``(values, indices)`` of the ``k`` largest (or smallest) along ``dim``."""
        d = _dim(dim, self._data.ndim, "topk")
        size = self.shape[d] if self._data.ndim else 1
        if not 0 <= k <= size:
            raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size {size}")
        order = self.argsort(d, descending=largest)._data
        indices = Tensor._make(order[(slice(None),) * d + (slice(0, k),)].copy(), False, None)
        return self.gather(d, indices), indices

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two dims (elements above ``diagonal`` zeroed)."""
        return ops.Tril.apply(_matrix(self, "tril"), diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return ops.Triu.apply(_matrix(self, "triu"), diagonal)

    def bmm(self, mat2: Tensor) -> Tensor:
        """Batched matrix product of ``(b, n, m)`` and ``(b, m, p)`` -> ``(b, n, p)``."""
        if self._data.ndim != 3 or mat2._data.ndim != 3 or self.shape[0] != mat2.shape[0]:
            raise RuntimeError(
                f"bmm: expected two 3-D tensors with the same batch size, got shapes {self.shape} and "
                f"{mat2.shape}; use matmul (@) for other shapes"
            )
        return self @ mat2

    # named like Python types, so defined last: annotations above still mean the builtins
    def long(self) -> Tensor:
        return self.to(np.int64)

    def int(self) -> Tensor:
        return self.to(np.int32)

    def bool(self) -> Tensor:
        return self.to(np.bool_)


def _clamp_tensors(x: Tensor, low: Any, high: Any) -> Tensor:
    """``clamp`` with tensor limits: ``low`` where ``x < low``, then ``high`` where that
    exceeds ``high`` (torch's order when low > high); the gradient follows the chosen value."""
    if low is not None:
        x = ops.Where.apply(x._data < _raw(low), *_promoted(low, x))
    if high is not None:
        x = ops.Where.apply(x._data > _raw(high), *_promoted(high, x))
    return x


def _index_array(index: Any, x: Tensor, where: str) -> np.ndarray:
    array = np.asarray(_raw(index))
    if array.dtype.kind not in "iu":
        raise RuntimeError(
            f"{where}(): expected an integer index tensor, got dtype {array.dtype}; use index.long()"
        )
    if array.ndim != x._data.ndim:
        raise RuntimeError(
            f"{where}(): index tensor must have the same number of dimensions as the input tensor "
            f"(index shape {array.shape}, input shape {x.shape})"
        )
    return array


def _matrix(x: Tensor, where: str) -> Tensor:
    if x._data.ndim < 2:
        raise RuntimeError(f"{where}: input tensor must have at least 2 dimensions, got shape {x.shape}")
    return x


def _raw(value: Any) -> Any:
    return value._data if isinstance(value, Tensor) else value


def _no_bool_sub(a: Any, b: Any) -> tuple[Any, Any]:
    """torch refuses ``-`` when either side is bool (a bool tensor or a Python bool)."""
    for x in (a, b):
        if isinstance(x, (bool, np.bool_)) or (isinstance(x, Tensor) and x._data.dtype.kind == "b"):
            raise RuntimeError(
                "sub: the `-` operator with a bool tensor is not supported; to invert a mask use "
                "`~`, and convert a bool tensor with .int() or .float() to subtract it"
            )
    return a, b


def _floating(t: Tensor) -> Tensor:
    """``t`` itself if it is floating-point, else converted to the default float32 (torch's
    rule for float functions of integer tensors: exp, log, tanh, ...)."""
    return t if t._data.dtype.kind in "fc" else ops.Cast.apply(t, DEFAULT_DTYPE)


def _float_only(t: Tensor, where: str) -> Tensor:
    if t._data.dtype.kind not in "fc":  # NotImplementedError is a RuntimeError, as in torch
        raise NotImplementedError(
            f"{where}: not implemented for dtype {t._data.dtype}; convert first with .float()"
        )
    return t


def _write(tensor: Tensor, values: np.ndarray, name: str) -> None:
    """Write ``values`` into ``tensor``'s memory, as an in-place op, and bump its version."""
    target = tensor._data
    if values.shape != target.shape:
        raise RuntimeError(
            f"{name}: output with shape {list(target.shape)} doesn't match the broadcast shape "
            f"{list(values.shape)}; an in-place op cannot change a tensor's shape"
        )
    if not np.can_cast(values.dtype, target.dtype, "same_kind"):
        raise RuntimeError(
            f"{name}: result type {values.dtype} can't be cast to the desired output type "
            f"{target.dtype}; use an out-of-place op (y = y * 0.5) or convert first (.float())"
        )
    if not target.flags.writeable:
        raise RuntimeError(f"{name}: this tensor's memory is read-only (a broadcast view?); clone() it first")
    np.copyto(target, values, casting="same_kind")
    tensor._version[0] += 1


def _rebind_output(op: Op, result: Tensor, tensor: Tensor) -> None:
    """After an in-place op, the op's output is ``tensor``: a saved OUTPUT follows its version."""
    op._versions = tuple(
        (i, tensor._version, tensor._version[0]) if counter is result._version else (i, counter, v)
        for i, counter, v in op._versions
    )


def _to_dtype(where: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> np.dtype | None:
    """The dtype asked for by ``to``-style arguments (dtype, device, tensor), checking devices."""
    dtype = kwargs.get("dtype")
    if "device" in kwargs and kwargs["device"] is not None:
        device(kwargs["device"])
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, device)):
            device(a)
        elif a is not None:
            dtype = a
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"{where}: {dtype!r} is neither a dtype nor a device") from error


def _dim(dim: int, ndim: int, where: str) -> int:
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(
            f"{where}: dimension out of range (expected to be in range of "
            f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {dim})"
        )
    return dim % max(ndim, 1)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch.promote_types: the higher category wins whole (int64 + float32 -> float32);
    within a category, the wider type."""
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _scalar_dtype(value: Any) -> np.dtype:
    """The dtype torch gives a Python (or numpy) scalar in arithmetic with tensors."""
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(value, (int, np.integer)):
        return np.dtype(np.int64)
    if isinstance(value, (complex, np.complexfloating)):
        return np.dtype(np.complex64)
    return np.dtype(DEFAULT_DTYPE)


def result_type(*operands: Any) -> np.dtype:
    """torch.result_type: tensors with dimensions decide within their category; a 0-d
    tensor, then a Python number, only when its category is higher (bool < int < float);
    a Python float then gives the default float32."""
    groups: list[np.dtype | None] = [None, None, None]  # dimensioned, 0-d, Python numbers
    for x in operands:
        if isinstance(x, Tensor):
            dtype, group = x._data.dtype, 0 if x._data.ndim else 1
        elif isinstance(x, np.ndarray):
            dtype, group = x.dtype, 0 if x.ndim else 1
        else:
            dtype, group = _scalar_dtype(x), 2
        current = groups[group]
        groups[group] = dtype if current is None else _promote_types(current, dtype)
    result = None
    for dtype in reversed(groups):  # combine from the lowest priority up
        if dtype is None:
            continue
        if result is None or _CATEGORY[dtype.kind] >= _CATEGORY[result.kind]:
            result = dtype
        elif dtype.kind == "b":
            result = _promote_types(dtype, result)
    assert result is not None
    return result


def _promoted(a: Any, b: Any, floating: bool = False) -> tuple[Any, Any]:
    """``a`` and ``b`` brought to their torch result dtype (a float one for true division)."""
    # the common cases first (this runs for every arithmetic op): nothing to convert
    if isinstance(a, Tensor):
        dtype = a._data.dtype
        if isinstance(b, Tensor):
            if b._data.dtype is dtype and (dtype.kind == "f" or not floating):
                return a, b
        elif type(b) is float and dtype.kind == "f":
            return a, b
    elif type(a) is float and isinstance(b, Tensor) and b._data.dtype.kind == "f":
        return a, b
    if isinstance(a, np.generic):
        a = a.item()
    if isinstance(b, np.generic):
        b = b.item()
    if isinstance(a, (list, tuple)):
        a = Tensor(a)
    if isinstance(b, (list, tuple)):
        b = Tensor(b)
    dtype = result_type(a, b)
    if floating and dtype.kind in "biu":
        dtype = np.dtype(DEFAULT_DTYPE)
    return _cast(a, dtype), _cast(b, dtype)


def _same_dtype(where: str, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Matrix products do not promote, as in torch: both operands must share a dtype (not bool)."""
    if a._data.dtype.kind == "b" or b._data.dtype.kind == "b":
        raise NotImplementedError(f"{where}: not implemented for bool tensors; convert first (.float())")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"{where}: expected both operands to have the same dtype, got {a._data.dtype} and "
            f"{b._data.dtype}; convert one, e.g. b.to(a.dtype)"
        )
    return a, b


def _cast(x: Any, dtype: np.dtype) -> Any:
    if isinstance(x, Tensor):
        return x if x._data.dtype == dtype else ops.Cast.apply(x, dtype)
    if isinstance(x, np.ndarray):
        return x if x.dtype == dtype else x.astype(dtype)
    if isinstance(x, bool) and dtype.kind != "b":
        return int(x) if dtype.kind in "iu" else float(x)
    if dtype.kind == "f" and isinstance(x, int):
        return float(x)
    return x


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
            f"convert it first (e.g. .to(tinygrad_rnn.{tensor.dtype}))"
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


_new = object.__new__

# The ops are defined on top of Tensor (they return Tensors), so they are bound last.
from . import ops  # noqa: E402
