"""Walk a graph into a plain model of nodes, edges and clusters: what the picture shows,
decided here in pure Python (no graphviz), so it can be tested without rendering.

What becomes a node
-------------------
* every op (``tanh``, ``linear``, ...), in the cluster of its scope;
* every leaf tensor: a **parameter** (an ``nn.Parameter``, a tensor named in ``params``, or
  any leaf that requires grad), an **input** (any other leaf), or a **ghost** (a leaf made by
  ``detach()``, or computed from one outside the graph: where truncated BPTT cut the graph);
* the tensor an op makes, when it is worth a box of its own: a root, a named tensor, or a
  tensor used outside the scope it was made in (the hidden state handed from one time step to
  the next). Every other intermediate tensor is the edge between two ops
  (``all_tensors=True`` draws them all).

Where a node goes
-----------------
An op sits in the cluster of its scope (``("rnn", "l0", "t=3")``). A leaf sits in the deepest
scope shared by the ops that use it, so an input used by one step sits in that step; a
parameter is never put inside a time-step cluster: a weight shared by all steps is drawn once,
next to them, with an edge into each step.

With ``collapse=True`` every innermost scope (a time step, or a user's ``scope(name)`` with no
scopes inside) becomes one node; parameters and ghosts stay separate, so a 100-step LSTM is a
chain of 100 step nodes fed by its weights.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import engine
from ..engine import Op, topological_order
from ..nn.module import Parameter
from ..tensor import Tensor

__all__ = ["Cluster", "Edge", "GraphModel", "Node", "build_graph", "flatten_roots", "step_of"]

# node kinds
OP = "op"
TENSOR = "tensor"  # a tensor made by an op
PARAMETER = "parameter"
INPUT = "input"
GHOST = "ghost"  # where detach() cut the graph
SCOPE = "scope"  # a collapsed scope

_STEP = re.compile(r"t=(-?\d+)")


def step_of(path: tuple[str, ...]) -> tuple[tuple[str, ...], int] | None:
    """``(parent path, k)`` for the innermost ``"t=k"`` element of a scope path, else None.

    ``step_of(("lstm", "l0", "t=3", "gates")) == (("lstm", "l0"), 3)``."""
    for i in range(len(path) - 1, -1, -1):
        match = _STEP.fullmatch(path[i])
        if match:
            return path[:i], int(match.group(1))
    return None


@dataclass
class Node:
    """One box or ellipse of the picture.

    ``scope`` is the cluster the node is drawn in (``()``: top level); ``path`` is the scope
    the node stands for (an op's own scope; for a collapsed node the collapsed scope).
    ``grad_norm`` is ``||d root / d tensor||`` when the graph was built with ``show_grad``
    (for an op: of the tensor it makes; for a collapsed scope: of the tensors leaving it), or
    None where no gradient flows."""

    id: str
    kind: str
    label: str
    scope: tuple[str, ...]
    path: tuple[str, ...] = ()
    shape: tuple[int, ...] | None = None
    name: str | None = None
    grad_norm: float | None = None
    detail: str = ""  # ghost: where it was cut; collapsed scope: its ops
    op_count: int = 0  # collapsed scope: how many ops it stands for
    is_root: bool = False
    requires_grad: bool = False


@dataclass(frozen=True)
class Edge:
    """Data flows from ``source`` to ``target`` (node ids). ``cut`` marks the edge out of a
    ghost: the value enters, its gradient does not flow back."""

    source: str
    target: str
    cut: bool = False


@dataclass
class Cluster:
    """A scope drawn as a box around its nodes; ``step`` is k for a ``"t=k"`` scope."""

    path: tuple[str, ...]
    label: str
    step: int | None = None


@dataclass
class GraphModel:
    """Nodes, edges and clusters of a graph, in the order the walk met them."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    clusters: dict[tuple[str, ...], Cluster] = field(default_factory=dict)
    show_grad: bool = False
    collapsed: bool = False
    _edge_set: set[Edge] = field(default_factory=set, repr=False)

    def add_edge(self, edge: Edge) -> None:
        """Add ``edge`` unless it is already there (``x * x`` reads x twice: one arrow)."""
        if edge not in self._edge_set:
            self._edge_set.add(edge)
            self.edges.append(edge)

    def nodes_of_kind(self, *kinds: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind in kinds]

    def child_clusters(self, path: tuple[str, ...]) -> list[Cluster]:
        """Clusters directly inside ``path``, time steps in time order."""
        children = [c for p, c in self.clusters.items() if len(p) == len(path) + 1 and p[:-1] == path]
        return sorted(children, key=lambda c: (c.step is None, c.step or 0))

    def nodes_in(self, path: tuple[str, ...]) -> list[Node]:
        """Nodes drawn directly in cluster ``path`` (not in its sub-clusters)."""
        return [n for n in self.nodes.values() if n.scope == path]

    def grad_range(self) -> tuple[float, float] | None:
        """(smallest, largest) non-zero finite gradient norm of the tensor-like nodes (ops are
        not coloured), or None if there is none."""
        norms = [
            n.grad_norm
            for n in self.nodes.values()
            if n.kind != OP and n.grad_norm is not None and n.grad_norm > 0 and np.isfinite(n.grad_norm)
        ]
        return (min(norms), max(norms)) if norms else None


def flatten_roots(roots: Iterable[Any]) -> list[Tensor]:
    """The tensors in ``roots``, which may nest tuples and lists (an LSTM returns
    ``(output, (h_n, c_n))``)."""
    found: list[Tensor] = []
    stack = list(roots)[::-1]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            if all(item is not t for t in found):
                found.append(item)
        elif isinstance(item, (tuple, list)):
            stack.extend(reversed(item))
        else:
            raise TypeError(
                f"draw: roots must be Tensors (or tuples/lists of them), got {type(item).__name__}"
            )
    if not found:
        raise ValueError("draw: give at least one tensor to draw, e.g. draw(loss)")
    return found


def build_graph(
    *roots: Any,
    params: Mapping[str, Tensor] | None = None,
    show_grad: bool = False,
    collapse: bool = False,
    all_tensors: bool = False,
) -> GraphModel:
    """Walk the graph behind ``roots`` into a :class:`GraphModel` (options as ``viz.draw``)."""
    tensors = flatten_roots(roots)
    names = {id(t): name for name, t in (params or {}).items()}
    ops = topological_order([t._op for t in tensors if t._op is not None])
    grads = _gradients(tensors, ops) if show_grad else {}

    # Who uses what: the scopes of the ops consuming each op's output and each leaf. An op's
    # input is either a leaf Tensor or the op that made the tensor (the graph holds the op).
    output_of: dict[int, Tensor] = {}  # id(op) -> the tensor it made, where still alive
    users: dict[int, list[tuple[str, ...]]] = {}  # id(op) or id(leaf) -> consumer scopes
    leaves: dict[int, Tensor] = {}
    for op in ops:
        made_here = op.output()
        if made_here is not None:
            output_of[id(op)] = made_here
        for source in op.inputs:
            if isinstance(source, Op):
                users.setdefault(id(source), []).append(op.scope)
            elif isinstance(source, Tensor):
                leaves.setdefault(id(source), source)
                users.setdefault(id(source), []).append(op.scope)
    root_labels: dict[int, str] = {}  # id(op) or id(leaf) -> "output", or "output 2" of several
    for i, t in enumerate(tensors):
        if t._op is not None:
            output_of[id(t._op)] = t
        else:
            leaves.setdefault(id(t), t)
        root_labels[id(t._op) if t._op is not None else id(t)] = (
            "output" if len(tensors) == 1 else f"output {i + 1}"
        )

    model = GraphModel(show_grad=show_grad)
    node_of: dict[int, str] = {}  # id(op) or id(leaf) -> the node its value flows out of

    def tensor_name(t: Tensor) -> str | None:
        return names.get(id(t)) or t.name

    for t in leaves.values():
        node_of[id(t)] = _add_leaf(model, t, tensor_name(t), users.get(id(t), []), names, grads)
        model.nodes[node_of[id(t)]].is_root = id(t) in root_labels
    for index, op in enumerate(ops):
        op_id = f"op{index}"
        made = output_of.get(id(op))
        model.nodes[op_id] = Node(
            op_id,
            OP,
            op.name,
            op.scope,
            path=op.scope,
            shape=op.out_shape,
            grad_norm=_norm(grads.get(id(op))),
        )
        for source in op.inputs:
            if isinstance(source, (Op, Tensor)):
                from_node = node_of[id(source)]
                model.add_edge(Edge(from_node, op_id, cut=model.nodes[from_node].kind == GHOST))
        node_of[id(op)] = op_id
        name = tensor_name(made) if made is not None else getattr(op, "output_name", None)
        leaves_scope = any(s != op.scope for s in users.get(id(op), []))
        is_root = id(op) in root_labels
        if all_tensors or name or is_root or leaves_scope:
            tensor_id = f"out{index}"
            model.nodes[tensor_id] = Node(
                tensor_id,
                TENSOR,
                name or root_labels.get(id(op), ""),
                op.scope,
                path=op.scope,
                shape=op.out_shape,
                name=name,
                grad_norm=_norm(grads.get(id(op))),
                is_root=is_root,
                requires_grad=True,
            )
            model.add_edge(Edge(op_id, tensor_id))
            node_of[id(op)] = tensor_id

    if collapse:
        model = _collapse(model)
    for node in model.nodes.values():
        for depth in range(1, len(node.scope) + 1):
            path = node.scope[:depth]
            if path not in model.clusters:
                found = step_of(path[-1:])
                model.clusters[path] = Cluster(path, path[-1], found[1] if found else None)
    return model


def _add_leaf(
    model: GraphModel,
    t: Tensor,
    name: str | None,
    user_scopes: list[tuple[str, ...]],
    names: Mapping[int, str],
    grads: Mapping[int, Any],
) -> str:
    node_id = f"leaf{len(model.nodes)}"
    scope = _common_prefix(user_scopes)
    detail = ""
    if t._detached_from is not None:
        kind = GHOST
        op_name, op_scope = t._detached_from
        detail = f"detached from {op_name}" + (f" in {'/'.join(op_scope)}" if op_scope else "")
    elif isinstance(t, Parameter) or id(t) in names or t.requires_grad:
        kind = PARAMETER
        found = step_of(scope)
        if found is not None:  # shared by the steps: drawn once, outside them
            scope = found[0]
    else:
        kind = INPUT
    model.nodes[node_id] = Node(
        node_id,
        kind,
        name or "",
        scope,
        path=scope,
        shape=t.shape,
        name=name,
        grad_norm=_norm(grads.get(id(t))),
        detail=detail,
        requires_grad=t.requires_grad,
    )
    return node_id


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not paths:
        return ()
    prefix = paths[0]
    for path in paths[1:]:
        n = 0
        while n < len(prefix) and n < len(path) and prefix[n] == path[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


def _gradients(roots: list[Tensor], ops: list[Op]) -> dict[int, Any]:
    """d(sum of the roots)/d(every tensor), keyed like ``run_backward(capture_all=True)``,
    without touching any ``.grad`` and keeping the graph's saved arrays."""
    differentiable = [t for t in roots if t.requires_grad]
    if not differentiable:
        raise ValueError(
            "draw(show_grad=True): no root requires grad, so there is no gradient to show; "
            "build the graph from tensors with requires_grad=True (e.g. a model's parameters)"
        )
    for op in ops:
        if op.freed:
            raise RuntimeError(
                f"draw(show_grad=True): the graph's saved arrays were freed by a backward() "
                f"(first freed op: {op.describe()}); draw before calling backward(), or call "
                "backward(retain_graph=True)"
            )
    seeds = [np.ones_like(t._data) for t in differentiable]
    return engine.run_backward(differentiable, seeds, retain_graph=True, create_graph=False, capture_all=True)


def _norm(grad: Any) -> float | None:
    if grad is None:
        return None
    array = grad._data if isinstance(grad, Tensor) else grad
    return float(np.linalg.norm(np.asarray(array, dtype=np.float64)))


def _collapse(model: GraphModel) -> GraphModel:
    """One node per innermost scope; parameters and ghosts keep their own nodes."""
    scopes_with_children = {n.scope[:depth] for n in model.nodes.values() for depth in range(len(n.scope))}
    innermost = {n.scope for n in model.nodes.values() if n.scope and n.scope not in scopes_with_children}

    collapsed = GraphModel(show_grad=model.show_grad, collapsed=True)
    representative: dict[str, str] = {}
    members: dict[tuple[str, ...], list[Node]] = {}
    first_seen: dict[tuple[str, ...], int] = {}  # parent of the steps, or a scope without steps
    for node in model.nodes.values():
        if node.scope in innermost and node.kind in (OP, TENSOR, INPUT):
            members.setdefault(node.scope, []).append(node)
            found = step_of(node.scope)
            first_seen.setdefault(found[0] if found else node.scope, len(first_seen))
        else:
            if node.kind in (PARAMETER, GHOST) and node.scope in innermost:
                node = replace(node, scope=node.scope[:-1])  # the cluster became a node: sit next to it
            collapsed.nodes[node.id] = node
            representative[node.id] = node.id

    def time_order(path: tuple[str, ...]) -> tuple[int, int]:
        found = step_of(path)
        return (first_seen[found[0]], found[1]) if found else (first_seen[path], 0)

    for index, path in enumerate(sorted(members, key=time_order)):
        group = members[path]
        node_id = f"scope{index}"
        for member in group:
            representative[member.id] = node_id
        op_names = list(dict.fromkeys(n.label for n in group if n.kind == OP))
        count = sum(n.kind == OP for n in group)
        collapsed.nodes[node_id] = Node(
            node_id,
            SCOPE,
            path[-1],
            path[:-1],
            path=path,
            detail=", ".join(op_names),
            op_count=count,
            is_root=any(n.is_root for n in group),
            requires_grad=True,
        )

    leaving: dict[str, dict[str, float]] = {}  # scope node -> {member tensor leaving it: its norm}
    for edge in model.edges:
        source, target = representative[edge.source], representative[edge.target]
        if source == target:
            continue
        norm = model.nodes[edge.source].grad_norm
        if collapsed.nodes[source].kind == SCOPE and norm is not None:
            leaving.setdefault(source, {})[edge.source] = norm
        collapsed.add_edge(Edge(source, target, edge.cut))
    for node_id, norms in leaving.items():
        collapsed.nodes[node_id].grad_norm = float(np.sqrt(sum(n * n for n in norms.values())))
    for node in collapsed.nodes.values():  # a root inside a scope: its own gradient
        if node.kind == SCOPE and node.is_root and node.grad_norm is None:
            roots = [m for m in members[node.path] if m.is_root and m.grad_norm is not None]
            node.grad_norm = roots[0].grad_norm if roots else None
    return collapsed
