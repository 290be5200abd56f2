"""The backward pass of a graph, recorded phase by phase for the player of ``viz.html`` and the
frames of ``viz.animate``: which time step the walk is in, the gradient of the state each step
hands back, and what each step adds to every parameter's gradient.

Nothing here re-derives BPTT. One walk of the engine (``run_backward(capture_all=True)``, the
walk ``show_grad`` uses) gives the gradient of every op's output; then, for each op that reads
a parameter, that op's own ``backward`` is called once more on the gradient it received, and
its result for the parameter is that op's contribution. Summed over all ops, the contributions
are the parameter's gradient, the double sum of the BPTT derivation
(``∂L/∂W_hh = Σ_k ∂L/∂h_k · ∂h_k/∂W_hh``, one term per step k) made visible term by term; a
test checks the sum against torch.

With ``per_step`` (the loss as a sum of per-step terms, ``L = Σ_t L_t``) the same is done once
per term: a walk of the engine from ``L_t`` alone, and each op's contribution again, gives the
(t, k) terms of the double sum ``∂L/∂W = Σ_t Σ_{k≤t} ∂L_t/∂h_t · ∂h_t/∂h_k · ∂h_k/∂W``.

A **phase** is the ops of one time step (``("lstm", "l0")``, step k), or the ops of one scope
outside every step (the loss, a layer's input projection), in the order the walk enters them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import engine
from ..engine import topological_order
from ..nn.module import Module
from ..tensor import Tensor
from .graph import FOLD, GHOST, INPUT, OP, PARAMETER, TENSOR, GraphModel, build_graph, flatten_roots, step_of

__all__ = ["BackwardTrace", "Phase", "node_phases", "trace_backward"]


@dataclass
class Phase:
    """One phase of the walk: ``run`` (the scope holding the steps, e.g. ``("lstm", "l0")``)
    and ``step`` k, or ``run=None`` for ops outside the steps (``label`` says which)."""

    label: str
    run: tuple[str, ...] | None
    step: int | None
    ops: int = 0


@dataclass
class BackwardTrace:
    """What ``trace_backward`` recorded.

    ``phases``: in the order the engine's walk meets them (the last step first).
    ``state_grad``: ``{run: {k: ‖∂L/∂h_k‖}}``, the norm of the gradient of what step k hands
    on (its hidden state; an LSTM's h_k only, by name, when it has one).
    ``contributions``: ``{parameter name: {phase index: array}}``, each op's gradient for that
    parameter summed per phase, parameter-shaped (dense).
    ``gradients``: ``{parameter name: array}``, their sum (the parameter's full gradient).
    ``root_name``: what the loss is called (``loss`` for an unnamed scalar).
    ``op_phases``: the phase of each op, indexed like the ``op{i}`` nodes of ``build_graph``
    (None where no gradient reaches the op).
    ``per_step``: with ``trace_backward(per_step=terms)``, one entry per term L_t (in the order
    given): ``{parameter name: {(run, k): array}}``, what step k's ops add to ∂L_t/∂W, from a
    walk of the engine from L_t alone (steps the term does not reach have no entry)."""

    phases: list[Phase] = field(default_factory=list)
    state_grad: dict[tuple[str, ...], dict[int, float]] = field(default_factory=dict)
    contributions: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    gradients: dict[str, np.ndarray] = field(default_factory=dict)
    root_name: str = "loss"
    op_phases: list[int | None] = field(default_factory=list)  # per op, in build_graph's order
    per_step: list[dict[str, dict[tuple[tuple[str, ...], int], np.ndarray]]] = field(default_factory=list)

    def step_contributions(self, name: str) -> dict[tuple[tuple[str, ...], int], np.ndarray]:
        """``{(run, k): array}``: what step k of ``run`` adds to parameter ``name``'s gradient."""
        found: dict[tuple[tuple[str, ...], int], np.ndarray] = {}
        for index, array in self.contributions.get(name, {}).items():
            phase = self.phases[index]
            if phase.run is not None and phase.step is not None:
                key = (phase.run, phase.step)
                found[key] = found[key] + array if key in found else array
        return found


class _Names:
    """Parameter names: the model's paths, then ``params``, then each unnamed leaf's own name
    or ``parameter 1``, ``parameter 2`` ... in the order first met (shared by every walk)."""

    def __init__(self, model: Module | None, params: Mapping[str, Tensor] | None) -> None:
        self.known: dict[int, str] = {}
        if model is not None:
            self.known.update((id(t), n) for n, t in model.named_parameters())
        self.known.update((id(t), n) for n, t in (params or {}).items())
        self.unnamed: dict[int, str] = {}

    def __call__(self, leaf: Tensor) -> str:
        if id(leaf) in self.known:
            return self.known[id(leaf)]
        return self.unnamed.setdefault(id(leaf), leaf.name or f"parameter {len(self.unnamed) + 1}")


def _walk(tensors: list[Tensor], ops: list[Any] | None = None) -> tuple[list[Any], dict[int, Any]]:
    """The ops behind ``tensors`` (``ops`` when the caller has them in order already) and the
    engine's gradient of every op output, for the sum of the tensors (nothing accumulated
    into ``.grad``, the graph kept)."""
    if ops is None:
        ops = topological_order([t.op for t in tensors if t.op is not None])
    differentiable = [t for t in tensors if t.requires_grad]
    grads = engine.run_backward(
        differentiable,
        [np.ones_like(t._data) for t in differentiable],
        retain_graph=True,
        create_graph=False,
        capture_all=True,
    )
    return ops, grads


def _uses(ops: list[Any], grads: dict[int, Any], names: _Names) -> Iterator[tuple[Any, str, np.ndarray]]:
    """``(op, parameter name, array)`` for each op that reads a parameter: that op's own
    ``backward``, called again on the gradient the walk gave it, for that parameter."""
    for op in ops:
        grad_output = grads.get(id(op))
        leaf_inputs = [(i, t) for i, t in enumerate(op.inputs) if isinstance(t, Tensor) and t.requires_grad]
        if grad_output is None or not leaf_inputs:
            continue
        input_grads = type(op).backward(op, grad_output)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for i, leaf in leaf_inputs:
            g = input_grads[i]
            if g is None:
                continue
            dense = g.dense() if isinstance(g, engine.LazyGrad) else g
            yield op, names(leaf), np.asarray(dense, dtype=np.float64).reshape(leaf.shape)


def trace_backward(
    *roots: Any,
    model: Module | None = None,
    params: Mapping[str, Tensor] | None = None,
    per_step: Sequence[Tensor] | None = None,
) -> BackwardTrace:
    """Record the backward pass from ``roots`` (their sum, as ``draw(show_grad=True)``) without
    touching any ``.grad``; ``model``/``params`` name the parameters as in ``viz.draw``
    (unnamed ones are ``parameter 1``, ``parameter 2`` ...). The graph stays usable for the
    user's own ``backward()``.

    ``per_step``: the loss's terms ``[L_1, ..., L_T]``, scalar tensors whose sum has the
    roots' gradient (``loss = Σ_t L_t``, or the same loss computed in one op, with the terms
    computed beside it from the same outputs); each is walked on its own and recorded in
    ``trace.per_step``. Raises ValueError when a term is not a scalar that requires grad, or
    when the terms' gradients do not add up to the roots' gradient."""
    tensors = flatten_roots(roots)
    names = _Names(model, params)
    terms = _check_terms(per_step)
    graph = build_graph(*tensors, model=model, params=params, show_grad=True, fold=False)
    ops, grads = _walk(tensors)
    trace = BackwardTrace(root_name=graph.root_name)

    # phases, in the order the walk first enters them (a step's slice of the input projection
    # is reached late, after every step: it joins its step's phase)
    phase_of: dict[int, int] = {}
    index_of: dict[tuple[Any, ...], int] = {}
    outside_count = 0
    for op in reversed(ops):
        if id(op) not in grads:
            continue
        found = step_of(op.scope)
        # outside the steps, a scope's ops before and after the walk goes through steps are
        # two phases (a layer's output stack first, its input projection last)
        steps_seen = len(index_of) - outside_count
        key: tuple[Any, ...] = (
            (found[0], found[1]) if found is not None else ("outside", op.scope, steps_seen)
        )
        if key not in index_of:
            index_of[key] = len(trace.phases)
            outside_count += found is None
            if found is None:
                where = "/".join(op.scope) or "the loss"
                trace.phases.append(Phase(f"outside the steps: {where}", None, None))
            else:
                trace.phases.append(Phase("/".join((*found[0], f"t={found[1]}")), found[0], found[1]))
        trace.phases[index_of[key]].ops += 1
        phase_of[id(op)] = index_of[key]

    trace.op_phases = [phase_of.get(id(op)) for op in ops]

    # each op's own backward, again, for the parameters it reads
    for op, name, array in _uses(ops, grads, names):
        per_phase = trace.contributions.setdefault(name, {})
        index = phase_of[id(op)]
        per_phase[index] = per_phase[index] + array if index in per_phase else array
    for name, per_phase in trace.contributions.items():
        trace.gradients[name] = sum(per_phase.values())  # type: ignore[assignment]
    if terms:
        every_op = topological_order([t.op for t in [*tensors, *terms] if t.op is not None])
        trace.per_step = _per_step(terms, every_op, names, trace.gradients)

    # ‖∂L/∂h_k‖ per step, from the full (unfolded) model
    leaving: dict[tuple[tuple[str, ...], int], float] = {}
    named_h: dict[tuple[tuple[str, ...], int], float] = {}
    for edge in graph.edges:
        node = graph.nodes[edge.source]
        found = step_of(node.path)
        if found is None or node.grad_norm is None or node.kind != TENSOR:
            continue
        if node.name == f"h_{found[1]}":
            named_h[found] = node.grad_norm
        elif step_of(graph.nodes[edge.target].path) != found:
            leaving[found] = leaving.get(found, 0.0) + node.grad_norm**2
    for key, squared in leaving.items():
        named_h.setdefault(key, float(np.sqrt(squared)))
    for (run, k), norm in sorted(named_h.items()):
        trace.state_grad.setdefault(run, {})[k] = norm
    return trace


def _check_terms(per_step: Sequence[Tensor] | None) -> list[Tensor]:
    if per_step is None:
        return []
    if isinstance(per_step, Tensor) or not isinstance(per_step, Sequence) or not per_step:
        raise ValueError(
            f"trace_backward: per_step must be a non-empty list of scalar tensors [L_1, ..., L_T], "
            f"got {type(per_step).__name__}"
        )
    for t, term in enumerate(per_step, 1):
        if not isinstance(term, Tensor) or term.numel() != 1 or not term.requires_grad:
            what = (
                f"a tensor of shape {tuple(term.shape)}" if isinstance(term, Tensor) else type(term).__name__
            )
            grad = "" if not isinstance(term, Tensor) or term.requires_grad else " that does not require grad"
            raise ValueError(
                f"trace_backward: per_step[{t - 1}] must be a scalar tensor that requires grad "
                f"(the loss term of step {t}), got {what}{grad}"
            )
    return list(per_step)


def _per_step(
    terms: list[Tensor], every_op: list[Any], names: _Names, gradients: dict[str, np.ndarray]
) -> list[dict[str, dict[tuple[tuple[str, ...], int], np.ndarray]]]:
    """One walk of the engine per term; each use of a parameter inside step k of a run is
    added to that term's (run, k) entry. The terms' gradients, uses outside the steps
    included, must add up to ``gradients`` (the roots' own). ``every_op``: the ops behind
    all terms, in order, sorted once rather than once per term."""
    found = []
    totals: dict[str, np.ndarray] = {}
    for term in terms:
        per_param: dict[str, dict[tuple[tuple[str, ...], int], np.ndarray]] = {}
        ops, grads = _walk([term], every_op)
        for op, name, array in _uses(ops, grads, names):
            totals[name] = totals[name] + array if name in totals else array
            step = step_of(op.scope)
            if step is None:
                continue
            cells = per_param.setdefault(name, {})
            cells[step] = cells[step] + array if step in cells else array
        found.append(per_param)
    # float32 sums in another order differ in the last bits: compare against the largest entry
    # of any gradient, so that a parameter whose gradient is ~0 is not held to a relative bound
    scale = max([float(np.abs(g).max()) for g in [*gradients.values(), *totals.values()] if g.size] + [1e-30])
    for name in sorted(set(gradients) | set(totals)):
        expected, got = gradients.get(name), totals.get(name)
        difference = (got if got is not None else 0.0) - (expected if expected is not None else 0.0)
        if float(np.abs(difference).max()) > 1e-4 * scale:
            raise ValueError(
                f"trace_backward: the per_step terms do not add up to the loss: the gradient of "
                f"their sum differs from the loss's gradient for {name!r}; pass terms with "
                f"loss = L_1 + ... + L_T (a mean over steps divides each term by T)"
            )
    return found


def node_phases(model: GraphModel, trace: BackwardTrace) -> dict[str, int]:
    """For each node of ``model`` (a picture of the traced graph, folded or not), the index of
    the phase in which the walk's gradient reaches it: a step's nodes in that step's phase, a
    fold in the phase of the first step it hides that the walk enters, other ops and tensors
    in the phase of their scope, leaves (parameters, inputs) after the last phase."""
    step_phase: dict[tuple[tuple[str, ...], int], int] = {}
    scope_phase: dict[tuple[str, ...], int] = {}
    for index, phase in enumerate(trace.phases):
        if phase.run is not None and phase.step is not None:
            step_phase[phase.run, phase.step] = index
    for index, phase in enumerate(trace.phases):
        if phase.run is None:
            where = phase.label.split(": ", 1)[1]
            scope_phase.setdefault(() if where == "the loss" else tuple(where.split("/")), index)
    found = {}
    end = len(trace.phases)
    for node in model.nodes.values():
        if node.kind in (PARAMETER, INPUT, GHOST):
            found[node.id] = end
            continue
        if node.kind in (OP, TENSOR) and node.id[:2] in ("op", "ou"):  # "op{i}" or "out{i}"
            index = int(node.id[2:] if node.id.startswith("op") else node.id[3:])
            at = trace.op_phases[index] if index < len(trace.op_phases) else None
            if at is not None:
                found[node.id] = at
                continue
        step = step_of(node.path)
        if step is not None and step in step_phase:
            found[node.id] = step_phase[step]
        elif node.kind == FOLD and node.steps is not None:
            first, last = node.steps
            hidden = [i for (run, k), i in step_phase.items() if run == node.path and first <= k <= last]
            found[node.id] = min(hidden) if hidden else end
        else:
            found[node.id] = scope_phase.get(node.path, 0)
    return found
