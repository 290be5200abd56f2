"""The autodiff engine: graph state, the Op base class, the graph walk and backward.

Read this file top to bottom to see how reverse-mode differentiation works here:

1. Every operation on tensors is an ``Op`` subclass with ``forward`` and ``backward`` side
   by side (see ``tinygrad_rnn/ops``). ``Op.apply`` runs ``forward`` on numpy arrays and,
   when an input requires grad, keeps the Op instance as the new tensor's creator. The Op
   holds the ops that made its inputs (and any leaf tensors) and what ``backward`` needs
   (``ctx.save_for_backward``); it never holds its output, so a finished graph is freed by
   reference counting alone, and an intermediate array backward does not read is freed as
   soon as the user's code drops its tensor.
2. Each op is numbered when it is made, and an op is always made after the ops that made
   its inputs: newest first is an order in which every op comes after all its users.
3. ``run_backward`` takes ops newest first from a heap that holds the ops with a pending
   gradient (no separate graph walk, no recursion: an unrolled RNN is a deep graph), calls
   each op's ``backward`` with the gradient of its output, and adds the results into the
   gradients of its inputs. Leaves (parameters, inputs with ``requires_grad=True``)
   accumulate into ``.grad``. ``topological_order`` lists the same ops oldest first, for
   the renderer and ``compile``.

Backward code is written once, with operators and with the ``apply_op`` helper, so that it
runs on numpy arrays (fast: no graph is built) or, when ``create_graph=True``, on Tensors
(the gradient computation is recorded and can itself be differentiated).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np


class _Flags:
    """Switches read on every op. Each thread has its own (as in torch): one thread's
    ``no_grad()`` or ``backward()`` never changes what another thread records."""

    __slots__ = ("grad_enabled", "scope", "anomaly", "differentiable_backward", "tracer")

    def __init__(self) -> None:
        self.grad_enabled = True  # build graphs at all?
        self.scope: tuple[str, ...] = ()  # the current scope path, recorded by every op
        self.anomaly = False  # check every forward and backward result for NaN/Inf
        self.differentiable_backward = False  # inside a create_graph=True backward walk
        self.tracer: Any = None  # a jit.Trace recording what runs (tinygrad_rnn.compile)


class _PerThread(threading.local):
    def __init__(self) -> None:
        self.flags = _Flags()


_thread = _PerThread()  # one thread-local lookup, then plain attributes: read on every op


def mode() -> _Flags:
    """The calling thread's switches: ``grad_enabled``, ``scope``, ``anomaly``, ``tracer``."""
    return _thread.flags


# --------------------------------------------------------------------------- grad mode


class _GradMode:
    """Base of the grad-mode switches: a context manager and a decorator. The mode is
    switched on ``__enter__`` and restored on ``__exit__``, so a decorated function switches
    it only while it runs; each ``with`` block keeps its own previous value (a stack)."""

    enabled: bool

    def __enter__(self) -> None:
        self._previous: list[bool] = getattr(self, "_previous", [])
        self._previous.append(_thread.flags.grad_enabled)
        _thread.flags.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        _thread.flags.grad_enabled = self._previous.pop()

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        enabled = self.enabled

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = _thread.flags.grad_enabled
            _thread.flags.grad_enabled = enabled
            try:
                return fn(*args, **kwargs)
            finally:
                _thread.flags.grad_enabled = previous

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - named like torch.no_grad
    """Context manager / decorator: ops inside build no graph (inference, optimizer steps)."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - named like torch.enable_grad
    """Context manager / decorator: turn graph building back on inside ``no_grad``."""

    enabled = True


class set_grad_enabled(_GradMode):  # noqa: N801 - named like torch.set_grad_enabled
    """``set_grad_enabled(False)`` called on its own switches graph building off now (for
    this thread); as a context manager it restores the previous mode on exit; as a
    decorator it switches the mode only while the function runs, as in torch."""

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._previous = [_thread.flags.grad_enabled]
        self._entered = False
        _thread.flags.grad_enabled = self.enabled

    def __enter__(self) -> None:
        if self._entered:  # a second `with` on the same object switches again
            super().__enter__()
        self._entered = True

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        _thread.flags.grad_enabled = self._previous[0]  # as a decorator: undo the switch made at creation
        return super().__call__(fn)


def is_grad_enabled() -> bool:
    return _thread.flags.grad_enabled


def scope(name: str) -> _Scope:
    """Tag every op created inside with ``name`` (nestable: paths join with "/").

    The nn layers tag each unrolled time step (``scope("t=3")``) and the renderer draws one
    cluster per scope; tag your own code the same way::

        with tinygrad_rnn.scope("encoder"):
            h = encoder(x)
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"scope: name must be a non-empty string without '/', got {name!r}")
    return _Scope(name)


class _Scope:
    # a class rather than a generator-based context manager: entered once per unrolled step
    __slots__ = ("name", "previous")

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        flags = _thread.flags
        self.previous = flags.scope
        flags.scope = self.previous + (self.name,)

    def __exit__(self, *exc: object) -> None:
        _thread.flags.scope = self.previous


# --------------------------------------------------------------------------- the Op node

FREED = object()  # what ``Op.saved`` holds once a backward without retain_graph released it

_FREED_MESSAGE = (
    "{op}: trying to backward through the graph a second time: its saved arrays were freed "
    "by the first backward(). Pass retain_graph=True to the first backward() if you really "
    "need to go through the same graph twice. In recurrent training the usual cause is a "
    "hidden state carried into the next chunk without cutting it: call h = h.detach() "
    "(for an LSTM, (h.detach(), c.detach())) between chunks (truncated BPTT)."
)


class SavedInput:
    """``INPUT[k]`` in ``save_for_backward``: the op's argument number ``k``."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"INPUT[{self.index}]"


class _SavedInputs(dict[int, SavedInput]):
    def __missing__(self, index: int) -> SavedInput:  # made once per k: INPUT[k] is a dict lookup
        marker = self[index] = SavedInput(index)
        return marker


class _SavedOutput:
    def __repr__(self) -> str:
        return "OUTPUT"


INPUT = _SavedInputs()  # INPUT[k]: save the op's k-th argument
OUTPUT = _SavedOutput()  # save the op's result
_FIRST, _SECOND = INPUT[0], INPUT[1]


# What backward receives and returns per input: an array, or a Tensor under create_graph (see Op).
Grad = TypeVar("Grad", np.ndarray, "Tensor")


class Op:
    """A node of the graph: one differentiable operation.

    Subclass it to add an op: write ``forward(ctx, *args)`` on numpy arrays (tensor
    arguments arrive as arrays, anything else as is) and ``backward(ctx, grad_output)``
    returning one gradient per argument of ``forward`` (``None`` where there is none).
    ``ctx`` is the Op instance itself. Then call ``MyOp.apply(tensor, ...)``. Example:
    ``tinygrad_rnn/ops/activation.py``.

    **Types.** The library's ops write forward and backward as methods whose first argument
    is ``ctx`` (a torch-style ``@staticmethod`` taking ``ctx`` runs the same): mypy then
    knows ``ctx`` is that op and checks the attributes forward sets on it. Backward's
    gradient is ``grad: Grad``: ``Grad`` is a type variable that is ``np.ndarray`` or
    ``Tensor`` (under ``create_graph``), so mypy checks each backward once per kind, and a
    raw numpy call that would return an array where a Tensor is needed is an error.
    ``saved_tensors`` and what ``apply_op`` returns stay ``Any``: arrays, Tensors or plain
    numbers, decided at run time by the grad mode and the arguments.

    **What backward may keep, and the contract for second derivatives.** Say what each
    saved value *is*: ``ctx.save_for_backward(INPUT[0], OUTPUT)`` saves the first argument
    and the result; backward reads them back, in that order, from ``ctx.saved_tensors``.
    Write backward with operators and ``apply_op`` so it runs on arrays and, under
    ``backward(create_graph=True)``, on Tensors: then saved inputs and outputs come back as
    tensors connected to the graph, and the second derivative is right. Anything else
    backward needs is a constant: keep it as an attribute (``ctx.mask = x > 0``). A plain
    array given to ``save_for_backward`` works for a first derivative, but under
    ``create_graph`` it is refused (its dependence on the inputs is unknown); an op whose
    backward cannot be differentiated sets ``once_differentiable = True`` and is refused
    there too, with a clear error instead of a wrong number.

    **Version checks.** A saved input or output that is changed in place before backward
    (``x.add_(1)``) makes that backward raise, naming the op, as torch does.
    """

    __slots__ = (
        "inputs",
        "saved",
        "scope",
        "out_shape",
        "out_dtype",
        "_output",
        "_order",
        "_roles",
        "_versions",
        "__dict__",
    )

    name = "op"  # shown in errors and in rendered graphs; subclasses override
    once_differentiable = False  # True: refuse backward(create_graph=True) through this op

    # The arguments of forward, except that a tensor made by another op is held as that op:
    # the graph keeps the ops and what they saved, not every intermediate array.
    inputs: tuple[Any, ...]
    saved: Any
    scope: tuple[str, ...]
    out_shape: tuple[int, ...]  # the shape and dtype of the tensor this op made
    out_dtype: np.dtype
    _output: weakref.ref[Tensor]
    _order: int  # when the op was made: newer ops have smaller numbers (see run_backward)
    _roles: tuple[int, ...]  # per saved value: the argument number, -2 the output, -1 a plain array
    _versions: tuple[tuple[int, list[int], int], ...]  # (saved index, version counter, version then)
    output_name: str | None = None  # the output tensor's name (for rendered graphs)

    def forward(self, *args: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, *grad_output: Any) -> Any:  # *: a torch-style @staticmethod (ctx, grad) fits too
        raise NotImplementedError

    # -- used inside forward/backward -----------------------------------------------------

    def save_for_backward(self, *values: Any) -> None:
        """Keep ``INPUT[k]``, ``OUTPUT`` (or plain arrays, first derivatives only) for backward."""
        self.saved = values

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        saved = self.saved
        if saved is FREED:
            raise RuntimeError(_FREED_MESSAGE.format(op=self.describe()))
        for index, counter, version in self._versions:
            if counter[0] != version:
                self._raise_modified(index, counter[0], version)
        if not _thread.flags.differentiable_backward:
            return saved
        return tuple(self._saved_as_tensor(i, a) for i, a in enumerate(saved))

    def _raise_modified(self, index: int, now: int, then: int) -> None:
        role = self._roles[index]
        what = "its output" if role == -2 else f"its input {role}"
        raise RuntimeError(
            f"{self.describe()}: one of the variables needed for gradient computation has been "
            f"modified by an inplace operation: {what} of shape {self.saved[index].shape} "
            f"is at version {now}; expected version {then} instead. Use an out-of-place "
            "operation (y = y + 1 instead of y += 1), or .clone() the tensor before changing it."
        )

    def _saved_as_tensor(self, index: int, value: Any) -> Any:
        """Under create_graph, saved values become Tensors connected to the graph: an input
        becomes that input (or a tensor made by the same op), the output a tensor made by this
        very op."""
        role = self._roles[index]
        if role == -2:
            return Tensor._make(value, True, self)
        if role >= 0:
            source = self.inputs[role]
            return Tensor._make(value, True, source) if isinstance(source, Op) else source
        raise RuntimeError(
            f"{self.describe()}: backward(create_graph=True) needs to know what each saved value "
            f"is, but saved value {index} is a plain array. Save inputs as INPUT[k] and the result "
            "as OUTPUT; keep constants as attributes (ctx.mask = ...); or set "
            "once_differentiable = True on the op to refuse second derivatives."
        )

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        return tuple([isinstance(t, Op) or (isinstance(t, Tensor) and t.requires_grad) for t in self.inputs])

    def output(self) -> Tensor | None:
        """The tensor this op made, if it is still alive (the graph does not keep it)."""
        return self._output()

    @property
    def freed(self) -> bool:
        """True once a backward without ``retain_graph`` released what this op saved."""
        return self.saved is FREED

    def describe(self) -> str:
        """The op's name and where it was made, for error messages: ``tanh (in t=3)``."""
        return f"{self.name} (in {'/'.join(self.scope)})" if self.scope else self.name

    # -- creating nodes -------------------------------------------------------------------

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` on the arrays of ``args`` and return the result as a Tensor that
        remembers this op, if any tensor argument requires grad and grad mode is on."""
        # This runs for every op of every unrolled step: one pass over the arguments.
        ctx = _new(cls)
        ctx.saved = ()
        flags = _thread.flags
        requires_grad = False
        arrays = []
        inputs = []  # for the node: a tensor made by an op is reached through that op, not held
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a._data)
                inputs.append(a if a._op is None else a._op)
                if a.requires_grad:
                    requires_grad = True
            else:
                arrays.append(a)
                inputs.append(a)
        try:
            out = cls.forward(ctx, *arrays)
        except (ValueError, IndexError, TypeError) as error:
            raise _named_error(cls.name, error, args) from error
        if type(out) is not np.ndarray:  # numpy turns 0-d results into scalars
            out = np.asarray(out)
        if flags.anomaly:
            _check_finite(out, f"{cls.name} forward")
        graph = requires_grad and flags.grad_enabled and out.dtype.kind in "fc"  # ints carry no gradient
        result = Tensor._make(out, graph, ctx if graph else None)
        base = out.base
        if base is not None:  # a view shares its base's version counter, as in torch
            for a in args:
                if isinstance(a, Tensor) and (a._data is base or a._data.base is base):
                    result._version = a._version
                    break
        if not graph:
            for a in args:  # computed from a detached value (hx[0] of a carried state): keep the mark
                if isinstance(a, Tensor) and a._detached_from is not None:
                    result._detached_from = a._detached_from
        else:
            ctx.inputs = tuple(inputs)
            ctx.scope = flags.scope
            ctx.out_shape = out.shape
            ctx.out_dtype = out.dtype
            ctx._output = _weak(result)
            ctx._order = _next_order()
            saved = ctx.saved
            if not saved:
                ctx._versions = ()
            elif len(saved) == 1 and saved[0] is OUTPUT:  # tanh, sigmoid, exp, ...: the common case
                counter = result._version
                ctx.saved, ctx._roles, ctx._versions = (out,), (-2,), ((0, counter, counter[0]),)
            elif (
                len(saved) == 2
                and saved[0] is _FIRST
                and saved[1] is _SECOND
                and isinstance(args[0], Tensor)
                and isinstance(args[1], Tensor)
            ):
                first, second = args[0]._version, args[1]._version  # mul, linear: the same, written out
                ctx.saved, ctx._roles = (arrays[0], arrays[1]), (0, 1)
                ctx._versions = ((0, first, first[0]), (1, second, second[0]))
            else:
                ctx._resolve_saved(args, arrays, result)
        if flags.tracer is not None:
            flags.tracer.record(cls, args, result)
        return result

    def _resolve_saved(self, args: Sequence[Any], arrays: Sequence[Any], result: Tensor) -> None:
        """The saved markers become values; each one's role and source version are kept."""
        values = []
        roles = []
        versions = []
        counter: list[int] | None
        for index, item in enumerate(self.saved):
            if item is OUTPUT:
                role, value, counter = -2, result._data, result._version
            elif type(item) is SavedInput:
                role = item.index
                value, source = arrays[role], args[role]
                counter = source._version if isinstance(source, Tensor) else None
            else:
                role, value, counter = -1, item, None
            values.append(value)
            roles.append(role)
            if counter is not None:
                versions.append((index, counter, counter[0]))
        self.saved = tuple(values)
        self._roles = tuple(roles)
        self._versions = tuple(versions)


_new = object.__new__
_weak = weakref.ref
_next_order = itertools.count(0, -1).__next__  # 0, -1, -2, ...: newer ops get smaller numbers


def apply_op(op: type[Op], *args: Any) -> Any:
    """Apply ``op`` to Tensors (recorded in the graph) or directly to arrays.

    Backward code uses this for everything that is not an operator, e.g.
    ``apply_op(SumTo, grad, shape)``: on arrays it is plain numpy, under ``create_graph`` it
    becomes part of the graph."""
    for a in args:
        if isinstance(a, Tensor):
            return op.apply(*args)
    return op.forward(_new(op), *args)


def grad_key(tensor: Tensor) -> int:
    """The key of a tensor's gradient in a backward walk: its op's id, or its own for a leaf."""
    op = tensor._op
    return id(tensor) if op is None else id(op)


def _named_error(name: str, error: Exception, args: Sequence[Any]) -> Exception:
    """Prefix numpy's error with the op's name and the shapes it was given."""
    message = str(error)
    if message.startswith(f"{name}:"):
        return error
    shapes = ", ".join(str(a.shape) for a in args if isinstance(a, (Tensor, np.ndarray)))
    return type(error)(f"{name}: {message} (tensor shapes: {shapes})")


def _check_finite(value: Any, where: str) -> None:
    array = value._data if isinstance(value, Tensor) else value
    if isinstance(array, np.ndarray) and array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = "NaN" if np.isnan(array).any() else "Inf"
        raise RuntimeError(f"detect_anomaly: {where} produced {bad} (shape {array.shape})")


# --------------------------------------------------------------------------- the walk


def topological_order(ops: Sequence[Op]) -> list[Op]:
    """All ops reachable from ``ops``, oldest first: each after the ops that made its inputs
    (an op is always made after its inputs). Reversed, it is the order in which backward
    visits them; the renderer and ``compile`` use it too."""
    seen = {id(op): op for op in ops}
    stack = list(ops)
    while stack:
        for parent in stack.pop().inputs:
            if isinstance(parent, Op) and id(parent) not in seen:
                seen[id(parent)] = parent
                stack.append(parent)
    return sorted(seen.values(), key=_older_first)


def _older_first(op: Op) -> int:
    return -op._order


class LazyGrad:
    """A gradient kept in a cheaper form until the engine needs it as an array.

    The protocol, all a lazy gradient must provide (``shape``, ``dtype`` and):

    - ``dense()``: the gradient as a fresh array (the caller may change it);
    - ``add_to(out)``: add it into the array ``out`` in place;
    - ``absorb(other)``: take another gradient in without becoming an array, if it can
      (return True), else return False;
    - ``astype(dtype)``: the same gradient in another dtype (lazy or an array).

    An op's backward may return one when it works on arrays (never under create_graph).
    Each kind is defined beside the op that makes it: ``SparseGrad`` with getitem
    (ops/shape.py), ``OuterGrad`` with matmul and linear (ops/linalg.py)."""

    shape: tuple[int, ...]
    dtype: np.dtype

    def dense(self) -> np.ndarray:
        raise NotImplementedError

    def add_to(self, out: np.ndarray) -> None:
        out += self.dense()

    def absorb(self, other: Any) -> bool:
        return False

    def astype(self, dtype: Any) -> Any:
        return self.dense().astype(dtype)


class _Gradients:
    """The gradients gathered during one walk, keyed by ``grad_key``: the gradient of an
    op's output, or of a leaf. A key's first gradient is stored as given (it may be shared
    with other keys, so it is never changed in place); lazy gradients absorb each other
    while they can; from the second array on, they are summed into a buffer this walk owns.
    Under create_graph they are Tensors and are summed with ops instead."""

    def __init__(self, differentiable: bool) -> None:
        self.values: dict[int, Any] = {}
        self.owned: set[int] = set()  # keys whose array this walk made (safe to add into)
        self.differentiable = differentiable

    def add(self, key: int, g: Any) -> None:
        current = self.values.get(key)
        if current is None:
            self.values[key] = g
        elif self.differentiable:
            self.values[key] = current + g
        elif isinstance(current, LazyGrad) and current.absorb(g):
            pass
        else:
            if key in self.owned or isinstance(current, LazyGrad) or isinstance(g, LazyGrad):
                if key not in self.owned:
                    current = current.dense() if isinstance(current, LazyGrad) else np.array(current)
                if isinstance(g, LazyGrad):
                    g.add_to(current)
                else:
                    np.add(current, g, out=current)
            else:  # two plain arrays: their sum is the buffer (one pass, not a copy and an add)
                current = current + g
                if type(current) is not np.ndarray:  # 0-d arrays add up to a numpy scalar
                    current = np.asarray(current)
            self.owned.add(key)
            self.values[key] = current

    def pop(self, key: int) -> Any:
        """The key's gradient as an array (or Tensor), or None; ``owns(key)`` before this
        says whether the walk made that array (a lazy gradient's ``dense()`` is fresh too)."""
        self.owned.discard(key)
        g = self.values.pop(key, None)
        return g.dense() if isinstance(g, LazyGrad) else g

    def owns(self, key: int) -> bool:
        return key in self.owned or isinstance(self.values.get(key), LazyGrad)


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    capture: dict[int, Any] | None = None,
    capture_all: bool = False,
) -> dict[int, Any]:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Without ``capture``, leaf gradients accumulate into ``.grad`` (``Tensor.backward``).
    With ``capture`` (a dict whose keys are ``grad_key`` of the wanted tensors), nothing is
    accumulated and the gradients of those tensors are returned instead (``autograd.grad``).
    ``capture_all`` returns the gradient of every op output and leaf (used by the renderer's
    gradient colouring).
    """
    flags = _thread.flags
    grads = _Gradients(create_graph)
    values = grads.values
    leaves: dict[int, Tensor] = {}
    # Ops wait in a heap keyed by when they were made, newest first: an op is made after
    # every op that made its inputs, so when it comes out of the heap, every op that used
    # its output has already passed its gradient on. An op enters the heap with the first
    # gradient it receives; ops that get none are never visited.
    waiting: list[tuple[int, Op]] = []
    for root, g in zip(roots, root_grads):
        key = grad_key(root)
        if root._op is None:
            leaves[key] = root
        elif key not in values:
            heapq.heappush(waiting, (root._op._order, root._op))
        grads.add(key, g)
    found: dict[int, Any] = {}
    if flags.tracer is not None:
        flags.tracer.record_backward(
            roots,
            root_grads,
            topological_order([r._op for r in roots if r._op is not None]),
            create_graph or capture is not None or capture_all,
        )
    anomaly = flags.anomaly
    previous = flags.differentiable_backward, flags.grad_enabled, flags.tracer
    flags.differentiable_backward = flags.grad_enabled = create_graph
    flags.tracer = None  # a create_graph backward's ops are not part of a trace
    try:
        # The dict operations below are _Gradients.pop and the first _Gradients.add, and
        # the call of backward is _input_grads, written out: this loop runs for every op of
        # every step, and those calls cost 10-20% of a tiny LSTM training step (measured with
        # benchmarks/compare_commits.py).
        while waiting:
            op = heapq.heappop(waiting)[1]
            grad_output = values.pop(id(op))
            if isinstance(grad_output, LazyGrad):
                grad_output = grad_output.dense()
            if capture_all or (capture is not None and id(op) in capture):
                found[id(op)] = grad_output
            input_grads = type(op).backward(op, grad_output)
            if type(input_grads) is not tuple:  # one input: its gradient alone
                input_grads = (input_grads,)
            if len(input_grads) != len(op.inputs) or create_graph:
                input_grads = _checked(op, input_grads, create_graph)
            for source, g in zip(op.inputs, input_grads):
                if g is None:
                    continue
                made = isinstance(source, Op)
                if made:  # the gradient of the tensor that op made
                    shape, dtype = source.out_shape, source.out_dtype
                elif isinstance(source, Tensor) and source.requires_grad:  # a leaf
                    shape, dtype = source._data.shape, source._data.dtype
                    leaves[id(source)] = source
                else:
                    continue
                if g.shape != shape or (g.dtype is not dtype and g.dtype != dtype) or anomaly:
                    g = _conform(op, shape, dtype, g)
                if id(source) in values:
                    grads.add(id(source), g)
                else:
                    values[id(source)] = g
                    if made:
                        heapq.heappush(waiting, (source._order, source))
            if not retain_graph:
                op.saved = FREED
    finally:
        flags.differentiable_backward, flags.grad_enabled, flags.tracer = previous

    for key, leaf in leaves.items():
        owned = grads.owns(key)
        g = grads.pop(key)
        if capture is None and not capture_all:
            _accumulate_leaf(leaf, g, create_graph, owned)
        elif capture_all or key in capture:  # type: ignore[operator]
            found[key] = g
    return found


def _input_grads(op: Op, grad_output: Any, create_graph: bool) -> tuple[Any, ...]:
    """Call ``op.backward``: one gradient per argument of forward, checked."""
    return _checked(op, type(op).backward(op, grad_output), create_graph)


def _checked(op: Op, input_grads: Any, create_graph: bool) -> tuple[Any, ...]:
    """``input_grads`` as a tuple of one gradient per argument of forward, or the error."""
    if create_graph and op.once_differentiable:
        raise RuntimeError(
            f"{op.describe()}: this op is once_differentiable: its backward cannot be "
            "differentiated again, so backward(create_graph=True) through it is refused"
        )
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(op.inputs):
        raise RuntimeError(
            f"{op.describe()}: backward returned {len(input_grads)} gradients, "
            f"expected {len(op.inputs)} (one per argument of forward, None for "
            "non-tensor arguments)"
        )
    return input_grads


def _conform(op: Op, shape: tuple[int, ...], dtype: np.dtype, g: Any) -> Any:
    """Check a gradient against its input: same shape, same dtype (cast if not)."""
    if g.shape != shape:
        raise RuntimeError(
            f"{op.describe()}: backward returned a gradient of shape {tuple(g.shape)} for an "
            f"input of shape {shape}; a custom op's backward must return one gradient "
            "per input with that input's shape"
        )
    if _thread.flags.anomaly:
        _check_finite(g.dense() if isinstance(g, LazyGrad) else g, f"{op.describe()} backward")
    if g.dtype != dtype:
        g = g.to(dtype) if isinstance(g, Tensor) else g.astype(dtype)
    return g


_accumulate_lock = threading.Lock()  # concurrent backwards into one leaf must not lose updates


def _accumulate_leaf(leaf: Tensor, g: Any, create_graph: bool, owned: bool) -> None:
    with _accumulate_lock:
        if create_graph:
            grad = g if isinstance(g, Tensor) else Tensor(g)
            leaf._grad = grad if leaf._grad is None else leaf._grad + grad
        elif leaf._grad is None:
            # copy unless this walk made the buffer: one array may reach several inputs (add)
            leaf._grad = Tensor._make(g if owned else np.array(g, dtype=leaf._data.dtype), False, None)
        elif leaf._grad.requires_grad:  # left by a create_graph backward: keep it a graph
            leaf._grad = leaf._grad + Tensor._make(g, False, None)
        else:  # in place, as torch: a reference to .grad taken earlier sees the sum
            leaf._grad._data += g
            leaf._grad._version[0] += 1


# Tensor is defined on top of this module (its methods create Ops), so it is bound last.
from .tensor import Tensor  # noqa: E402
