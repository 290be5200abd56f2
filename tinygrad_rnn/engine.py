"""The autodiff engine: graph state, the Op base class, the graph walk and backward.

Read this file top to bottom to see how reverse-mode differentiation works here:

1. Every operation on tensors is an ``Op`` subclass with ``forward`` and ``backward`` side
   by side (see ``tinygrad_rnn/ops``). ``Op.apply`` runs ``forward`` on numpy arrays and,
   when an input requires grad, keeps the Op instance as the new tensor's creator. The Op
   holds the ops that made its inputs (and any leaf tensors) and what ``backward`` needs
   (``ctx.save_for_backward``); it never holds its output, so a finished graph is freed by
   reference counting alone, and an intermediate array backward does not read is freed as
   soon as the user's code drops its tensor.
2. ``topological_order`` walks the graph iteratively (an unrolled RNN is a deep graph;
   recursion would hit Python's limit) and returns the ops, inputs before outputs.
3. ``run_backward`` visits that order in reverse, calls each op's ``backward`` with the
   gradient of its output, and adds the results into the gradients of its inputs. Leaves
   (parameters, inputs with ``requires_grad=True``) accumulate into ``.grad``.

Backward code is written once, with operators and with the ``dual`` helper, so that it
runs on numpy arrays (fast: no graph is built) or, when ``create_graph=True``, on Tensors
(the gradient computation is recorded and can itself be differentiated).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np


class _State:
    """Global switches, read on every op: kept as plain attributes for speed."""

    grad_enabled = True  # build graphs at all?
    scope: tuple[str, ...] = ()  # the current scope path, recorded by every op
    anomaly = False  # check every forward and backward result for NaN/Inf
    differentiable_backward = False  # inside a create_graph=True backward walk


state = _State()


# --------------------------------------------------------------------------- grad mode


class _GradMode:
    """Base of the grad-mode switches: a context manager and a decorator."""

    enabled: bool

    def __enter__(self) -> None:
        self._previous = state.grad_enabled
        state.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        state.grad_enabled = self._previous

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        enabled = self.enabled

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(enabled):
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = fn.__doc__
        return wrapper


class no_grad(_GradMode):  # noqa: N801 - named like torch.no_grad
    """Context manager / decorator: ops inside build no graph (inference, optimizer steps)."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - named like torch.enable_grad
    """Context manager / decorator: turn graph building back on inside ``no_grad``."""

    enabled = True


class set_grad_enabled(_GradMode):  # noqa: N801 - named like torch.set_grad_enabled
    """``set_grad_enabled(False)`` switches graph building off now; as a context manager it
    restores the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._previous = state.grad_enabled
        state.grad_enabled = self.enabled

    def __enter__(self) -> None:
        pass  # already switched in __init__, as torch does


def is_grad_enabled() -> bool:
    return state.grad_enabled


@contextlib.contextmanager
def scope(name: str) -> Iterator[None]:
    """Tag every op created inside with ``name`` (nestable: paths join with "/").

    The nn layers tag each unrolled time step (``scope("t=3")``) and the renderer draws one
    cluster per scope; tag your own code the same way::

        with tinygrad_rnn.scope("encoder"):
            h = encoder(x)
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"scope: name must be a non-empty string without '/', got {name!r}")
    previous = state.scope
    state.scope = previous + (name,)
    try:
        yield
    finally:
        state.scope = previous


# --------------------------------------------------------------------------- the Op node

_FREED = object()  # marks saved arrays released by a backward without retain_graph

_FREED_MESSAGE = (
    "{op}: trying to backward through the graph a second time: its saved arrays were freed "
    "by the first backward(). Pass retain_graph=True to the first backward() if you really "
    "need to go through the same graph twice. In recurrent training the usual cause is a "
    "hidden state carried into the next chunk without cutting it: call h = h.detach() "
    "(for an LSTM, (h.detach(), c.detach())) between chunks (truncated BPTT)."
)


class Op:
    """A node of the graph: one differentiable operation.

    Subclass it to add an op: write ``forward(ctx, *args)`` on numpy arrays (tensor
    arguments arrive as arrays, anything else as is) and ``backward(ctx, grad_output)``
    returning one gradient per argument of ``forward`` (``None`` where there is none).
    ``ctx`` is the Op instance itself: keep what backward needs with
    ``ctx.save_for_backward(*arrays)`` and read it back with ``ctx.saved_tensors``; plain
    attributes (``ctx.dim = dim``) work too. Write backward with operators and ``dual`` so
    it works on arrays and, under ``create_graph=True``, on Tensors. Then call
    ``MyOp.apply(tensor, ...)``. Example: ``tinygrad_rnn/ops/activation.py``.
    """

    __slots__ = ("inputs", "saved", "scope", "out_shape", "out_dtype", "_output", "_saved_roles", "__dict__")

    name = "op"  # shown in errors and in rendered graphs; subclasses override

    # The arguments of forward, except that a tensor made by another op is held as that op:
    # the graph keeps the ops and what they saved, not every intermediate array.
    inputs: tuple[Any, ...]
    saved: Any
    scope: tuple[str, ...]
    out_shape: tuple[int, ...]  # the shape and dtype of the tensor this op made
    out_dtype: np.dtype
    _output: weakref.ref[Tensor]
    _saved_roles: tuple[int, ...]  # per saved array: the argument it is, -2 the output, -1 neither
    output_name: str | None  # set when the output tensor is given a name (for rendered graphs)

    @staticmethod
    def forward(ctx: Any, *args: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, grad_output: Any) -> Any:
        raise NotImplementedError

    # -- used inside forward/backward -----------------------------------------------------

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved = arrays

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        saved = self.saved
        if saved is _FREED:
            raise RuntimeError(_FREED_MESSAGE.format(op=self.describe()))
        if not state.differentiable_backward:
            return saved
        return tuple(self._saved_as_tensor(i, a) for i, a in enumerate(saved))

    def _saved_as_tensor(self, index: int, array: Any) -> Any:
        """Under create_graph, saved arrays become Tensors connected to the graph: an input
        becomes that input (or a tensor made by the same op), the output a tensor made by this
        very op; anything else is a constant."""
        role = self._saved_roles[index]
        if role == -2:
            return Tensor._make(array, True, self)
        if role >= 0:
            source = self.inputs[role]
            return Tensor._make(array, True, source) if isinstance(source, Op) else source
        return Tensor(array) if isinstance(array, np.ndarray) else array

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        return tuple(isinstance(t, Op) or (isinstance(t, Tensor) and t.requires_grad) for t in self.inputs)

    def output(self) -> Tensor | None:
        """The tensor this op made, if it is still alive (the graph does not keep it)."""
        return self._output()

    def describe(self) -> str:
        """The op's name and where it was made, for error messages: ``tanh (in t=3)``."""
        return f"{self.name} (in {'/'.join(self.scope)})" if self.scope else self.name

    # -- creating nodes -------------------------------------------------------------------

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` on the arrays of ``args`` and return the result as a Tensor that
        remembers this op, if any tensor argument requires grad and grad mode is on."""
        # This runs for every op of every unrolled step: one pass over the arguments, and
        # the result tensor is filled in here rather than through a constructor call.
        ctx = _new(cls)
        ctx.saved = ()
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
        if state.anomaly:
            _check_finite(out, f"{cls.name} forward")
        result = _new(Tensor)
        result._data = out
        result._grad = None
        result._name = None
        result._detached_from = None
        if not (requires_grad and state.grad_enabled) or out.dtype.kind not in "fc":
            # no graph: integer results carry no gradient, and nothing else asked for one
            result.requires_grad = False
            result._op = None
            for a in args:  # computed from a detached value (hx[0] of a carried state): keep the mark
                if isinstance(a, Tensor) and a._detached_from is not None:
                    result._detached_from = a._detached_from
            return result
        ctx.inputs = tuple(inputs)
        ctx.scope = state.scope
        ctx.out_shape = out.shape
        ctx.out_dtype = out.dtype
        saved = ctx.saved
        if saved:  # which argument (or the output) each saved array is, for create_graph
            roles = []
            for s in saved:
                role = -2 if s is out else -1
                if role == -1:
                    for j, array in enumerate(arrays):
                        if s is array:
                            role = j
                            break
                roles.append(role)
            ctx._saved_roles = tuple(roles)
        result.requires_grad = True
        result._op = ctx
        ctx._output = _weak(result)
        return result


_new = object.__new__
_weak = weakref.ref


def dual(op: type[Op], *args: Any) -> Any:
    """Apply ``op`` to Tensors (recorded in the graph) or directly to arrays.

    Backward code uses this for everything that is not an operator, e.g.
    ``dual(SumTo, grad, shape)``: on arrays it is plain numpy, under ``create_graph`` it
    becomes part of the graph."""
    for a in args:
        if isinstance(a, Tensor):
            return op.apply(*args)
    return op.forward(op.__new__(op), *args)


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
    """All ops reachable from ``ops``, each after the ops that made its inputs.

    Iterative depth-first search: no recursion, so a 100,000-step unroll is fine. The
    engine's backward and the renderer both use this one walk."""
    order: list[Op] = []
    visited: set[int] = set()
    stack: list[tuple[Op, bool]] = [(op, False) for op in reversed(ops)]
    while stack:
        op, inputs_done = stack.pop()
        if inputs_done:
            order.append(op)
            continue
        if id(op) in visited:
            continue
        visited.add(id(op))
        stack.append((op, True))
        for parent in reversed(op.inputs):
            if isinstance(parent, Op) and id(parent) not in visited:
                stack.append((parent, False))
    return order


class LazyGrad:
    """A gradient kept in a cheaper form until the engine needs it as an array.

    Ops may return one from backward when working on arrays; the engine adds it into another
    gradient with ``add_to`` or turns it into an array with ``dense``. Two kinds exist, each
    for a pattern an unrolled network repeats at every step."""

    shape: tuple[int, ...]
    dtype: np.dtype

    def dense(self) -> np.ndarray:
        raise NotImplementedError

    def add_to(self, out: np.ndarray) -> None:
        out += self.dense()

    def absorb(self, other: Any) -> bool:
        """Take ``other`` in without becoming an array, if possible."""
        return False


class SparseGrad(LazyGrad):
    """Zero except at ``index``: the gradient of ``x[index]``.

    Reading a sequence step by step (``xs[t]`` for every t) then costs O(T) in backward
    instead of T full-size arrays of zeros added together."""

    __slots__ = ("shape", "dtype", "index", "values", "advanced")

    def __init__(self, shape: tuple[int, ...], index: Any, values: np.ndarray, advanced: bool) -> None:
        self.shape, self.dtype = shape, values.dtype
        self.index, self.values, self.advanced = index, values, advanced

    def add_to(self, out: np.ndarray) -> None:
        if self.advanced:
            np.add.at(out, self.index, self.values)  # repeated positions add up
        else:
            out[self.index] += self.values

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.dtype)
        self.add_to(out)
        return out

    def astype(self, dtype: Any) -> SparseGrad:
        return SparseGrad(self.shape, self.index, self.values.astype(dtype), self.advanced)


class OuterGrad(LazyGrad):
    """``sum_i lefts[i].T @ rights[i]``: the gradient of a weight matrix.

    A weight shared by T time steps receives T such products; kept apart, they are
    multiplied out at the end as one large product (stacked rows), which is faster than T
    small products and T full-size additions."""

    __slots__ = ("shape", "dtype", "lefts", "rights")

    def __init__(self, left: np.ndarray, right: np.ndarray) -> None:
        self.shape = (left.shape[1], right.shape[1])
        self.dtype = np.result_type(left, right)
        self.lefts, self.rights = [left], [right]

    def dense(self) -> np.ndarray:
        if len(self.lefts) == 1:
            return np.asarray(self.lefts[0].T @ self.rights[0])
        return np.concatenate(self.lefts).T @ np.concatenate(self.rights)

    def absorb(self, other: Any) -> bool:
        if type(other) is not OuterGrad:
            return False
        self.lefts += other.lefts
        self.rights += other.rights
        return True

    def astype(self, dtype: Any) -> np.ndarray:
        return self.dense().astype(dtype)


def _dense(g: Any) -> Any:
    return g.dense() if isinstance(g, LazyGrad) else g


class _Gradients:
    """Gradients gathered during one walk, keyed by the id of an op (the gradient of its
    output) or of a leaf. A key's first gradient is stored as given (it may be shared with
    other keys); lazy gradients absorb each other while they can; otherwise, from the second
    gradient on, they are summed into a buffer this walk owns, in place. Under create_graph
    they are Tensors and are summed with ops instead."""

    def __init__(self, differentiable: bool) -> None:
        self.values: dict[int, Any] = {}
        self.owned: set[int] = set()
        self.differentiable = differentiable

    def add(self, key: int, g: Any) -> None:
        values = self.values
        current = values.get(key)
        if current is None:
            values[key] = g
        elif self.differentiable:
            values[key] = current + g
        elif key in self.owned:
            if isinstance(g, LazyGrad):
                g.add_to(current)
            else:
                np.add(current, g, out=current)
        elif isinstance(current, LazyGrad) and current.absorb(g):
            pass
        else:
            self.owned.add(key)
            if isinstance(g, LazyGrad):
                # a fresh array from dense(), else a copy: either way this walk owns it
                current = current.dense() if isinstance(current, LazyGrad) else np.array(current)
                g.add_to(current)
                values[key] = current
            else:
                values[key] = np.asarray(_dense(current) + g)  # numpy scalars for 0-d

    def pop(self, key: int) -> Any:
        self.owned.discard(key)
        return _dense(self.values.pop(key, None))


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
    With ``capture`` (a dict whose keys are ``id`` of the wanted tensors' ops or leaves),
    nothing is accumulated and the gradients of those tensors are returned instead
    (``autograd.grad``). ``capture_all`` returns the gradient of every op output and leaf
    (used by the renderer's gradient colouring).
    """
    grads = _Gradients(create_graph)
    leaves: dict[int, Tensor] = {}
    for root, g in zip(roots, root_grads):
        key = id(root if root._op is None else root._op)
        if root._op is None:
            leaves[key] = root
        grads.add(key, g)

    found: dict[int, Any] = {}
    values, owned, anomaly = grads.values, grads.owned, state.anomaly
    previous = state.differentiable_backward, state.grad_enabled
    state.differentiable_backward, state.grad_enabled = create_graph, create_graph
    try:
        for op in reversed(topological_order([r._op for r in roots if r._op is not None])):
            key = id(op)
            # _Gradients.pop, inlined: this line runs once per op of every backward
            grad_output = values.pop(key, None)
            if grad_output is None:
                continue
            owned.discard(key)
            if isinstance(grad_output, LazyGrad):
                grad_output = grad_output.dense()
            if capture_all or (capture is not None and key in capture):
                found[key] = grad_output
            input_grads = type(op).backward(op, grad_output)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            if len(input_grads) != len(op.inputs):
                raise RuntimeError(
                    f"{op.describe()}: backward returned {len(input_grads)} gradients, "
                    f"expected {len(op.inputs)} (one per argument of forward, None for "
                    "non-tensor arguments)"
                )
            for source, g in zip(op.inputs, input_grads):
                if g is None:
                    continue
                if isinstance(source, Op):  # the gradient of the tensor that op made
                    shape, dtype = source.out_shape, source.out_dtype
                elif isinstance(source, Tensor) and source.requires_grad:  # a leaf
                    shape, dtype = source._data.shape, source._data.dtype
                    leaves[id(source)] = source
                else:
                    continue
                if anomaly or g.shape != shape or g.dtype != dtype:
                    g = _conform(op, shape, dtype, g)
                key = id(source)
                if key in values:
                    grads.add(key, g)
                else:
                    values[key] = g
            if not retain_graph and op.saved:
                op.saved = _FREED
    finally:
        state.differentiable_backward, state.grad_enabled = previous

    for key, leaf in leaves.items():
        walk_owns_it = key in owned
        g = grads.pop(key)
        if capture is None and not capture_all:
            _accumulate_leaf(leaf, g, create_graph, walk_owns_it)
        elif capture_all or key in capture:  # type: ignore[operator]
            found[key] = g
    return found


def _conform(op: Op, shape: tuple[int, ...], dtype: np.dtype, g: Any) -> Any:
    """Check a gradient against its input: same shape, same dtype (cast if needed)."""
    if g.shape != shape:
        raise RuntimeError(
            f"{op.describe()}: backward returned a gradient of shape {tuple(g.shape)} for an "
            f"input of shape {shape}; a custom op's backward must return one gradient "
            "per input with that input's shape"
        )
    if state.anomaly:
        _check_finite(_dense(g), f"{op.describe()} backward")
    if g.dtype != dtype:
        g = g.to(dtype) if isinstance(g, Tensor) else g.astype(dtype)
    return g


def _accumulate_leaf(leaf: Tensor, g: Any, create_graph: bool, owned: bool) -> None:
    if create_graph:
        grad = g if isinstance(g, Tensor) else Tensor(g)
        leaf._grad = grad if leaf._grad is None else leaf._grad + grad
    elif leaf._grad is None:
        # copy unless this walk made the buffer: one array may reach several inputs (add)
        leaf._grad = Tensor._make(g if owned else np.array(g, dtype=leaf._data.dtype), False, None)
    else:
        leaf._grad = Tensor._make(leaf._grad._data + g, False, None)


# Tensor is defined on top of this module (its methods create Ops), so it is bound last.
from .tensor import Tensor  # noqa: E402
