"""Trace once, replay many: ``tinygrad_rnn.compile(fn)``.

A training step runs the same graph every iteration. ``compile`` runs ``fn`` (a function
that computes a loss and calls ``loss.backward()``) eagerly once while recording every op
and the backward walk; later calls with inputs of the same shapes and dtypes replay that
record as a flat list of the ops' own ``forward``/``backward`` calls on arrays: no Tensor
objects, no graph, no topological sort. The numpy calls are the same, in the same order, so
the replay equals eager to the last bit. Nothing in it is specific to recurrent networks.

The replay is checked before it is trusted: the first replay of a trace runs beside an eager
call and both results (the returned values and every gradient) must agree bit for bit, else
``compile`` falls back to eager for good, with a warning that says why. What cannot be
replayed is refused while tracing, with the same fallback: in-place changes, a second
backward, ``create_graph``, graphs reaching ops made before ``fn`` was called, parameters
changed inside ``fn`` (keep ``optimizer.step()`` outside). Integer and bool tensors
(targets, indices) and numpy arrays are part of the cache key by value, because code may turn
them into arrays outside any op; pass per-call float data as Tensors. Random numbers
drawn inside ``fn`` (dropout) are frozen in a trace: the check catches that and falls back.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .creation import from_numpy
from .engine import OUTPUT, Op, SavedInput, _accumulate_leaf, _Gradients, _input_grads, _new, mode
from .tensor import Tensor

_SLOT, _LEAF, _CONST = 0, 1, 2  # how a forward argument is found on replay
_NODE = _new(Op)  # stands for "an input that needs a gradient" in a replayed op's inputs
_MAX_TRACES = 8  # distinct input signatures before compile gives up and stays eager


class TraceError(Exception):
    """What made a function impossible to replay (turned into a warning and eager calls)."""


class Trace:
    """The record of one eager call: forward steps, then the backward walk over them."""

    def __init__(self, args: Sequence[Any]) -> None:
        self.keep: list[Any] = list(args)  # strong references: ids stay unique while tracing
        self.slot_of: dict[int, int] = {}
        self.arg_slots: list[tuple[int, int]] = []  # (argument number, slot)
        self.n_slots = 0
        # forward steps: (op class, argument specs, output slot, records a graph)
        self.steps: list[tuple[type[Op], tuple[tuple[int, Any], ...], int, bool]] = []
        self.step_of_op: dict[int, int] = {}
        # per graph step, per argument: where its gradient goes, with the dtype it must have
        self.grad_targets: dict[int, tuple[tuple[Any, np.dtype] | None, ...]] = {}
        self.leaves: dict[int, Tensor] = {}  # parameters, by id: read live and given .grad
        self.leaf_versions: dict[int, tuple[int, int]] = {}
        self.backward: tuple[int, np.ndarray, list[int]] | None = None  # root step, seed, order
        self.outputs: Any = None
        self.problem: str | None = None
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and a.requires_grad:
                self.refuse(
                    f"argument {i} requires grad: pass data as arguments, parameters through the model"
                )
            if isinstance(a, (Tensor, np.ndarray)):
                self.arg_slots.append((i, self._new_slot(a)))

    def _new_slot(self, obj: Any) -> int:
        self.keep.append(obj)
        self.slot_of[id(obj)] = slot = self.n_slots
        self.n_slots += 1
        return slot

    def refuse(self, reason: str) -> None:
        if self.problem is None:
            self.problem = reason

    # -- recording (called by the engine while tracing) -----------------------------------

    def record(self, cls: type[Op], args: Sequence[Any], result: Tensor) -> None:
        specs: list[tuple[int, Any]] = []
        targets: list[tuple[Any, np.dtype] | None] = []
        for a in args:
            key = self.slot_of.get(id(a)) if isinstance(a, (Tensor, np.ndarray)) else None
            if key is not None:
                specs.append((_SLOT, key))
            elif isinstance(a, Tensor) and a.requires_grad and a._op is None:
                specs.append((_LEAF, id(a)))
                self.leaves[id(a)] = a
                self.leaf_versions.setdefault(id(a), (id(a._data), a._version[0]))
            elif isinstance(a, Tensor) and a._op is not None:
                self.refuse(
                    f"{cls.name}: an input was made by an op before the function was called "
                    "(a hidden state carried over without .detach()?)"
                )
                specs.append((_CONST, a._data))
            else:  # made inside the function by other means: a constant of the trace
                specs.append((_CONST, a._data if isinstance(a, Tensor) else a))
            targets.append(self._grad_target(a))
        graphed = result._op is not None
        self.steps.append((cls, tuple(specs), self._new_slot(result), graphed))
        if graphed:
            self.step_of_op[id(result._op)] = len(self.steps) - 1
            self.grad_targets[len(self.steps) - 1] = tuple(targets)

    def _grad_target(self, a: Any) -> tuple[Any, np.dtype] | None:
        if not isinstance(a, Tensor):
            return None
        if a._op is not None:
            step = self.step_of_op.get(id(a._op))
            return None if step is None else (step, a._op.out_dtype)
        if a.requires_grad:
            return (("leaf", id(a)), a._data.dtype)
        return None

    def record_backward(
        self, roots: Sequence[Tensor], root_grads: Sequence[Any], order: list[Op], unsupported: bool
    ) -> None:
        if unsupported or self.backward is not None or len(roots) != 1 or roots[0]._op is None:
            self.refuse("only one plain loss.backward() per call can be replayed")
            return
        steps = [self.step_of_op.get(id(op), -1) for op in reversed(order)]
        if -1 in steps:
            self.refuse("the backward walk reaches ops made before the function was called")
            return
        seed = root_grads[0]
        root_step = self.step_of_op[id(roots[0]._op)]
        self.backward = (root_step, np.array(seed._data if isinstance(seed, Tensor) else seed), steps)

    def finish(self, outputs: Any) -> None:
        for leaf_id, (array_id, version) in self.leaf_versions.items():
            leaf = self.leaves[leaf_id]
            if id(leaf._data) != array_id or leaf._version[0] != version:
                self.refuse("a parameter changed inside the function: keep optimizer.step() outside it")
        self.outputs = self._output_spec(outputs)

    def _output_spec(self, out: Any) -> Any:
        if isinstance(out, (tuple, list)):
            return type(out)(self._output_spec(o) for o in out)
        if isinstance(out, Tensor):
            slot = self.slot_of.get(id(out))
            if slot is None:
                self.refuse("the function returns a tensor that no op made")
            return ("slot", slot)
        if out is None:
            return None
        self.refuse(f"the function returns a {type(out).__name__}; return tensors (or nothing)")
        return None

    # -- replaying ------------------------------------------------------------------------

    def replay(self, args: Sequence[Any], accumulate: bool = True) -> tuple[Any, dict[int, Any]]:
        """Run the record on new arguments. Returns the outputs (tensors outside any graph)
        and, when not ``accumulate``, the leaf gradients instead of adding them to ``.grad``."""
        buffers: list[Any] = [None] * self.n_slots
        for i, slot in self.arg_slots:
            a = args[i]
            buffers[slot] = a._data if isinstance(a, Tensor) else a
        leaves = self.leaves
        contexts: dict[int, Op] = {}
        for k, (cls, specs, out_slot, graphed) in enumerate(self.steps):
            arrays = [
                buffers[v] if kind == _SLOT else leaves[v]._data if kind == _LEAF else v for kind, v in specs
            ]
            ctx = _new(cls)
            ctx.saved = ()
            out = cls.forward(ctx, *arrays)
            if type(out) is not np.ndarray:
                out = np.asarray(out)
            buffers[out_slot] = out
            if graphed:
                ctx.saved = tuple(
                    out if s is OUTPUT else arrays[s.index] if type(s) is SavedInput else s for s in ctx.saved
                )
                ctx._versions = ()
                ctx.inputs = tuple(None if t is None else _NODE for t in self.grad_targets[k])
                contexts[k] = ctx
        found = self._replay_backward(contexts, accumulate)
        return self._outputs(self.outputs, buffers), found

    def _replay_backward(self, contexts: dict[int, Op], accumulate: bool) -> dict[int, Any]:
        found: dict[int, Any] = {}
        if self.backward is None:
            return found
        root_step, seed, order = self.backward
        grads = _Gradients(False)
        grads.add(root_step, seed.copy())
        leaf_keys: dict[int, Tensor] = {}
        for k in order:
            g = grads.pop(k)
            if g is None:
                continue
            for target, g_in in zip(self.grad_targets[k], _input_grads(contexts[k], g, False)):
                if g_in is None or target is None:
                    continue
                where, dtype = target
                if g_in.dtype != dtype:
                    g_in = g_in.astype(dtype)
                if isinstance(where, tuple):  # a leaf
                    key = -1 - where[1]
                    leaf_keys.setdefault(key, self.leaves[where[1]])
                    grads.add(key, g_in)
                else:
                    grads.add(where, g_in)
        for key, leaf in leaf_keys.items():
            owned = grads.owns(key)
            g = grads.pop(key)
            if accumulate:
                _accumulate_leaf(leaf, g, False, owned)
            else:
                found[id(leaf)] = g
        return found

    def _outputs(self, spec: Any, buffers: list[Any]) -> Any:
        if isinstance(spec, (tuple, list)) and not (len(spec) == 2 and spec[0] == "slot"):
            return type(spec)(self._outputs(s, buffers) for s in spec)
        if spec is None:
            return None
        return from_numpy(buffers[spec[1]])


def _key(args: Sequence[Any]) -> tuple[Any, ...]:
    """What must match for a trace to be replayed: shapes and dtypes, and the values of
    integer and bool tensors and of numpy arrays (code may turn those into arrays outside any
    op, which a trace freezes). Float tensors are data that flows through ops."""
    key: list[Any] = [mode().grad_enabled]
    for a in args:
        array = a._data if isinstance(a, Tensor) else a
        if isinstance(array, np.ndarray):
            # integer data (targets, indices), and raw numpy arrays of any dtype, by value
            by_value = array.tobytes() if array.dtype.kind in "biu" or not isinstance(a, Tensor) else None
            key.append((array.shape, array.dtype.str, isinstance(a, Tensor) and a.requires_grad, by_value))
        else:
            key.append((type(a), a))
    return tuple(key)


class Compiled:
    """``fn`` wrapped by ``compile``: call it as you would call ``fn``."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.traces: dict[tuple[Any, ...], list[Any]] = {}  # key -> [trace, checked]
        self.eager_reason: str | None = None
        self.replays = 0  # calls served by a replay (for tests and benchmarks)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", "compiled")

    def _give_up(self, reason: str) -> None:
        self.eager_reason = reason
        self.traces.clear()
        warnings.warn(f"compile({self.__name__}): running eagerly from now on: {reason}", stacklevel=3)

    def __call__(self, *args: Any) -> Any:
        if self.eager_reason is not None or mode().tracer is not None:
            return self.fn(*args)
        key = _key(args)
        entry = self.traces.get(key)
        if entry is None:
            if len(self.traces) >= _MAX_TRACES:
                self._give_up(
                    f"{_MAX_TRACES} different input signatures (integer inputs such as targets "
                    "are compared by value: do they change on every call?)"
                )
                return self.fn(*args)
            return self._trace(key, args)
        trace, checked = entry
        if not checked:
            return self._check(entry, args)
        self.replays += 1
        return trace.replay(args)[0]

    def _trace(self, key: tuple[Any, ...], args: Sequence[Any]) -> Any:
        trace = Trace(args)
        mode().tracer = trace
        try:
            out = self.fn(*args)
        finally:
            mode().tracer = None
        trace.finish(out)
        if trace.problem is not None:
            self._give_up(trace.problem)
        else:
            self.traces[key] = [trace, False]
        return out

    def _check(self, entry: list[Any], args: Sequence[Any]) -> Any:
        """Replay without touching ``.grad``, run eagerly, and keep the trace only if both
        agree bit for bit (outputs and every gradient)."""
        trace = entry[0]
        replayed, grads = trace.replay(args, accumulate=False)
        before = {i: (None if t.grad is None else t.grad._data.copy()) for i, t in trace.leaves.items()}
        out = self.fn(*args)
        same = _same_values(replayed, out)
        for i, leaf in trace.leaves.items():
            g = grads.get(i)
            expected = before[i] if g is None else g if before[i] is None else before[i] + g
            actual = None if leaf.grad is None else leaf.grad._data
            if not _same_array(expected, actual):
                same = False
        if same:
            entry[1] = True
        else:
            self._give_up(
                "a replay differed from the eager call (random numbers or Python-side data inside?)"
            )
        return out


def _same_array(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    )


def _same_values(a: Any, b: Any) -> bool:
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(map(_same_values, a, b))
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return _same_array(a._data, b._data)
    return a is None and b is None


def compile(fn: Callable[..., Any]) -> Compiled:  # noqa: A001 - torch's name
    """Trace ``fn`` once per input signature and replay it afterwards (see the module
    docstring). ``fn`` computes a loss from its arguments and calls ``loss.backward()``;
    keep ``optimizer.zero_grad()``/``step()`` outside it. Replays return tensors outside any
    graph and accumulate gradients into ``.grad`` exactly as the eager call does."""
    return Compiled(fn)
