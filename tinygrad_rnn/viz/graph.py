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

Folding long unrolls
--------------------
By default (``fold=True``) a long run of time steps of one layer is drawn as its first steps,
one **fold** node standing for the steps in between (``… 96 steps …``, with the steps it hides,
how many ops, and with gradients the norm of what leaves its last and its first step), and its
last steps: ``FOLD_KEEP`` (2) steps at each end when a step holds at most ``FOLD_SMALL_STEP``
ops (an RNN), else one (an LSTM or GRU step is ~4 times wider), so that a 100-step two-layer
LSTM fits 4,000 px. A run is folded when that hides at least two steps. Every edge into or out
of a hidden step goes to the fold node instead, so the weights still feed it and the gradient
still visibly flows through it. ``fold=False`` draws every step; ``fold=k`` keeps k steps at
each end.

Names
-----
A tensor made by slicing (``getitem``) that has a name (an LSTM's gates ``i f g o``, a GRU's
``r_x ... n_h``, the step's slice ``x_3 W_ih^T + b_ih`` of the input projection) is drawn as one
box, without the ``getitem`` op before it. An input leaf that is all zeros (a defaulted initial
state ``h_0``) says so (``zeros``). With ``model=`` the parameters are named by their full path
in the model (``head.weight``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import engine
from ..engine import Op, grad_key, topological_order
from ..nn.module import Module, Parameter
from ..tensor import Tensor

__all__ = [
    "FOLD_KEEP",
    "Cluster",
    "Edge",
    "GraphModel",
    "Node",
    "build_graph",
    "flatten_roots",
    "step_of",
]

# node kinds
OP = "op"
TENSOR = "tensor"  # a tensor made by an op
PARAMETER = "parameter"
INPUT = "input"
GHOST = "ghost"  # where detach() cut the graph
SCOPE = "scope"  # a collapsed scope
FOLD = "fold"  # the middle time steps of a long unroll, folded into one node

FOLD_KEEP = 2  # steps drawn at each end of a folded run of small steps (an RNN's)
FOLD_SMALL_STEP = 8  # ops: a run whose steps hold more (LSTM, GRU) keeps one step at each end
_ZERO_CHECK_LIMIT = 1 << 20  # elements: larger input leaves are not scanned for "all zeros"

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
    op_count: int = 0  # collapsed scope or fold: how many ops it stands for
    is_root: bool = False
    requires_grad: bool = False
    op: str | None = None  # the op that made a tensor node (for tooltips)
    dtype: str | None = None
    zeros: bool = False  # an input leaf holding only zeros (a defaulted initial state)
    steps: tuple[int, int] | None = None  # fold: the first and last step it hides
    stats: str | None = None  # "min … mean … max …" of the values, when asked for


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
    folded: int = 0  # how many time steps fold nodes hide
    root_name: str = "output"  # what the gradient legend calls the root
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
    model: Module | None = None,
    show_grad: bool = False,
    collapse: bool = False,
    all_tensors: bool = False,
    fold: bool | int = True,
    stats: bool = False,
) -> GraphModel:
    """Walk the graph behind ``roots`` into a :class:`GraphModel` (options as ``viz.draw``;
    ``stats``: keep min/mean/max of every tensor still alive, for the tooltips of ``viz.html``)."""
    tensors = flatten_roots(roots)
    keep = _fold_keep(fold)
    names: dict[int, str] = {}
    if model is not None:
        if not isinstance(model, Module):
            raise TypeError(f"draw: model must be an nn.Module, got {type(model).__name__}")
        names.update((id(t), name) for name, t in model.named_parameters())
    names.update((id(t), name) for name, t in (params or {}).items())
    ops = topological_order([t.op for t in tensors if t.op is not None])
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
        if t.op is not None:
            output_of[id(t.op)] = t
        else:
            leaves.setdefault(id(t), t)
        root_labels[grad_key(t)] = f"output {i + 1}"
    if len(tensors) == 1:
        root = tensors[0]
        root_name = names.get(id(root)) or root.name or ("loss" if root.ndim == 0 else "output")
        root_labels = dict.fromkeys(root_labels, root_name)
    else:
        root_name = "sum of outputs"

    graph = GraphModel(show_grad=show_grad, root_name=root_name)
    node_of: dict[int, str] = {}  # id(op) or id(leaf) -> the node its value flows out of

    def tensor_name(t: Tensor) -> str | None:
        return names.get(id(t)) or t.name

    for t in leaves.values():
        node_of[id(t)] = _add_leaf(graph, t, tensor_name(t), users.get(id(t), []), names, grads, stats)
        graph.nodes[node_of[id(t)]].is_root = id(t) in root_labels
    for index, op in enumerate(ops):
        op_id = f"op{index}"
        made = output_of.get(id(op))
        name = tensor_name(made) if made is not None else getattr(op, "output_name", None)
        sources = [node_of[id(s)] for s in op.inputs if isinstance(s, (Op, Tensor))]
        leaves_scope = any(s != op.scope for s in users.get(id(op), []))
        is_root = id(op) in root_labels
        common: dict[str, Any] = {
            "path": op.scope,
            "shape": op.out_shape,
            "grad_norm": _norm(grads.get(id(op))),
            "op": op.name,
            "dtype": str(op.out_dtype),
            "stats": _stats(made) if stats and made is not None else None,
        }
        if name and op.name == "getitem":  # a named slice (a gate): one box, no getitem op
            tensor_id = f"out{index}"
            graph.nodes[tensor_id] = Node(
                tensor_id, TENSOR, name, op.scope, name=name, is_root=is_root, requires_grad=True, **common
            )
            for source_id in sources:
                graph.add_edge(Edge(source_id, tensor_id, cut=graph.nodes[source_id].kind == GHOST))
            node_of[id(op)] = tensor_id
            continue
        graph.nodes[op_id] = Node(op_id, OP, op.name, op.scope, **common)
        for source_id in sources:
            graph.add_edge(Edge(source_id, op_id, cut=graph.nodes[source_id].kind == GHOST))
        node_of[id(op)] = op_id
        if all_tensors or name or is_root or leaves_scope:
            tensor_id = f"out{index}"
            graph.nodes[tensor_id] = Node(
                tensor_id,
                TENSOR,
                name or root_labels.get(id(op), ""),
                op.scope,
                name=name,
                is_root=is_root,
                requires_grad=True,
                **common,
            )
            graph.add_edge(Edge(op_id, tensor_id))
            node_of[id(op)] = tensor_id

    if collapse:
        graph = _collapse(graph)
    if keep is not False:
        graph = _fold(graph, keep)
    for node in graph.nodes.values():
        for depth in range(1, len(node.scope) + 1):
            path = node.scope[:depth]
            if path not in graph.clusters:
                found = step_of(path[-1:])
                graph.clusters[path] = Cluster(path, path[-1], found[1] if found else None)
    return graph


def _add_leaf(
    model: GraphModel,
    t: Tensor,
    name: str | None,
    user_scopes: list[tuple[str, ...]],
    names: Mapping[int, str],
    grads: Mapping[int, Any],
    stats: bool,
) -> str:
    node_id = f"leaf{len(model.nodes)}"
    scope = _common_prefix(user_scopes)
    detail = ""
    if t.detached_from is not None:
        kind = GHOST
        op_name, op_scope = t.detached_from
        detail = f"detached from {op_name}" + (f" in {'/'.join(op_scope)}" if op_scope else "")
    elif isinstance(t, Parameter) or id(t) in names or t.requires_grad:
        kind = PARAMETER
        found = step_of(scope)
        if found is not None:  # shared by the steps: drawn once, outside them
            scope = found[0]
    else:
        kind = INPUT
    zeros = kind == INPUT and t._data.size <= _ZERO_CHECK_LIMIT and not t._data.any()
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
        dtype=str(t.dtype),
        zeros=bool(zeros),
        stats=_stats(t) if stats else None,
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


def _stats(t: Tensor) -> str:
    data = t._data
    if data.size == 0 or data.dtype.kind not in "fiub":
        return ""
    values = np.asarray(data, dtype=np.float64)
    return f"min {values.min():.4g}, mean {values.mean():.4g}, max {values.max():.4g}"


def _fold_keep(fold: bool | int) -> int | None | bool:
    """Steps kept at each end of a folded run, None to choose by step size, False for none."""
    if fold is True:
        return None
    if fold is False:
        return False
    if not isinstance(fold, int) or fold < 1:
        raise ValueError(
            f"draw: fold must be True, False or the number of steps to keep at each end (>= 1), got {fold!r}"
        )
    return fold


def _fold(model: GraphModel, keep: int | None) -> GraphModel:
    """Replace the middle steps of every long run by one node, keeping ``keep`` steps at each
    end (None: chosen by the size of a step, see the module docstring)."""
    steps_of: dict[tuple[str, ...], set[int]] = {}  # parent of the steps -> their numbers
    ops_in: dict[tuple[str, ...], int] = {}
    for node in model.nodes.values():
        found = step_of(node.path)
        if found is not None and node.kind != PARAMETER:
            steps_of.setdefault(found[0], set()).add(found[1])
            ops_in[found[0]] = ops_in.get(found[0], 0) + (node.kind == OP) + node.op_count
    hidden: dict[tuple[str, ...], tuple[list[int], str]] = {}  # parent -> (hidden steps, fold id)
    for parent, steps in steps_of.items():
        ordered = sorted(steps)
        at_each_end = keep
        if at_each_end is None:
            at_each_end = FOLD_KEEP if ops_in[parent] <= FOLD_SMALL_STEP * len(ordered) else 1
        if len(ordered) >= 2 * at_each_end + 2:
            keep_here = at_each_end
            hidden[parent] = (ordered[keep_here:-keep_here], f"fold{len(hidden)}")
    if not hidden:
        return model

    folded = GraphModel(show_grad=model.show_grad, collapsed=model.collapsed, root_name=model.root_name)
    representative: dict[str, str] = {}
    members: dict[str, list[Node]] = {}
    for node in model.nodes.values():
        found = step_of(node.path)
        run = hidden.get(found[0]) if found is not None and node.kind != PARAMETER else None
        if run is not None and found is not None and run[0][0] <= found[1] <= run[0][-1]:
            representative[node.id] = run[1]
            members.setdefault(run[1], []).append(node)
        else:
            representative[node.id] = node.id
            folded.nodes[node.id] = node
    for parent, (hidden_steps, fold_id) in hidden.items():
        group = members[fold_id]
        ops = sum(n.kind == OP for n in group) + sum(n.op_count for n in group if n.kind == SCOPE)
        folded.nodes[fold_id] = Node(
            fold_id,
            FOLD,
            f"… {len(hidden_steps)} steps …",
            parent,
            path=parent,
            detail=f"t={hidden_steps[0]} … t={hidden_steps[-1]} folded: {ops} ops",
            op_count=ops,
            steps=(hidden_steps[0], hidden_steps[-1]),
            is_root=any(n.is_root for n in group),
            requires_grad=True,
        )
        folded.folded += len(hidden_steps)

    leaving: dict[str, list[float]] = {}  # fold id -> norms of the tensors flowing out of it
    at_step: dict[tuple[str, int], float] = {}  # (fold id, k) -> squared norm of what leaves step k
    for edge in model.edges:
        source, target = representative[edge.source], representative[edge.target]
        node = model.nodes[edge.source]
        norm = node.grad_norm
        if source in members and norm is not None:
            found, to = step_of(node.path), step_of(model.nodes[edge.target].path)
            if found is not None and found != to:
                at_step[source, found[1]] = at_step.get((source, found[1]), 0.0) + norm * norm
        if source == target:
            continue
        if source in members and norm is not None:
            leaving.setdefault(source, []).append(norm)
        folded.add_edge(Edge(source, target, edge.cut))
    for fold_id in members:
        node = folded.nodes[fold_id]
        if fold_id in leaving:
            node.grad_norm = float(np.sqrt(sum(n * n for n in leaving[fold_id])))
        first, last = node.steps or (0, 0)
        if (fold_id, first) in at_step and (fold_id, last) in at_step:
            node.detail += (
                f"; gradient norm {_short(np.sqrt(at_step[fold_id, last]))} at t={last}, "
                f"{_short(np.sqrt(at_step[fold_id, first]))} at t={first}"
            )
    return folded


def _short(norm: float | None) -> str:
    return "?" if norm is None else f"{norm:.2g}"


def _collapse(model: GraphModel) -> GraphModel:
    """One node per innermost scope; parameters and ghosts keep their own nodes."""
    scopes_with_children = {n.scope[:depth] for n in model.nodes.values() for depth in range(len(n.scope))}
    innermost = {n.scope for n in model.nodes.values() if n.scope and n.scope not in scopes_with_children}

    collapsed = GraphModel(show_grad=model.show_grad, collapsed=True, root_name=model.root_name)
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
