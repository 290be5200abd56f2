"""The user-facing autograd tools: ``grad``, ``gradcheck`` and ``detect_anomaly``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import engine
from .creation import from_numpy
from .engine import INPUT, OUTPUT, Op, apply_op, grad_key
from .tensor import Tensor, _seed_gradient

Function = Op  # torch's name for the base class of user-defined ops

__all__ = [
    "Function",
    "INPUT",
    "OUTPUT",
    "Op",
    "detect_anomaly",
    "apply_op",
    "grad",
    "gradcheck",
    "GradcheckError",
]


def _as_list(x: Tensor | Sequence[Tensor]) -> list[Tensor]:
    return [x] if isinstance(x, Tensor) else list(x)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple; no
    ``.grad`` field is touched. ``inputs`` may be leaves or intermediate tensors."""
    outs, ins = _as_list(outputs), _as_list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outs)
    seeds = [_seed_gradient(o, g, "grad", create_graph) for o, g in zip(outs, _as_list_any(grad_outputs))]
    for i, o in enumerate(outs):
        if not o.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad (no graph leads to it)")
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad, so it has no gradient")
    keys = {grad_key(t): None for t in ins}
    if retain_graph is None:
        retain_graph = create_graph
    found = engine.run_backward(outs, seeds, retain_graph, create_graph, capture=keys)
    results: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = found.get(grad_key(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            results.append(None)
        else:
            results.append(g if isinstance(g, Tensor) else from_numpy(np.array(g, dtype=t.dtype)))
    return tuple(results)


def _as_list_any(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


class GradcheckError(RuntimeError):
    """Analytic and numeric gradients disagree."""


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Tensor | Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare the engine's gradients of ``fn(*inputs)`` with central finite differences.

    Use float64 inputs. Returns True, or raises ``GradcheckError`` naming the input, the
    element and both values. Each input is perturbed through a private copy of its array,
    so inputs of any memory layout work, and the inputs are unchanged afterwards, also
    when ``fn`` raises."""
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"gradcheck: input {i} must be a Tensor, not {type(t).__name__}; "
                "wrap it with Tensor(x, dtype=np.float64, requires_grad=True)"
            )
        if t.dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {t.dtype}; finite differences need float64 (.double())"
            )
    output = fn(*ins)
    out_size = output._data.size
    wanted = [t for t in ins if t.requires_grad]
    analytic = [np.zeros((out_size, t._data.size)) for t in wanted]
    for k in range(out_size):
        seed = np.zeros(out_size)
        seed[k] = 1.0
        grads = grad(output, wanted, seed.reshape(output.shape), retain_graph=True, allow_unused=True)
        for rows, g in zip(analytic, grads):
            if g is not None:
                rows[k] = g._data.ravel()
    for i, t in enumerate(ins):
        if not t.requires_grad:
            continue
        rows = analytic[wanted.index(t)]
        original = t._data
        # perturb a private C-ordered copy, never the caller's array: element j of a ravel is
        # then the element perturbed (for Fortran-ordered or transposed inputs too), and the
        # input is restored whatever fn does, raising included
        working = np.array(original, order="C", copy=True)
        flat = working.reshape(-1)
        t._data = working
        try:
            for j in range(flat.size):
                value = flat[j]
                flat[j] = value + eps
                with engine.no_grad():
                    plus = np.array(fn(*ins)._data, dtype=np.float64).ravel()
                flat[j] = value - eps
                with engine.no_grad():
                    minus = np.array(fn(*ins)._data, dtype=np.float64).ravel()
                flat[j] = value
                numeric = (plus - minus) / (2 * eps)
                a = rows[:, j]
                bad = np.abs(a - numeric) > atol + rtol * np.abs(numeric)
                if bad.any():
                    k = int(np.argmax(bad))
                    element = tuple(int(n) for n in np.unravel_index(j, t.shape))
                    raise GradcheckError(
                        f"gradcheck: input {i} (shape {t.shape}), element {element}, "
                        f"output element {k}: analytic {a[k]:.10g} vs numeric {numeric[k]:.10g}"
                    )
        finally:
            t._data = original
    return True


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Check every op's forward result and every backward gradient for NaN/Inf, and raise a
    RuntimeError naming the op that produced it (slow: for debugging)."""
    previous = engine.mode().anomaly
    engine.mode().anomaly = True
    try:
        yield
    finally:
        engine.mode().anomaly = previous
