"""Time one training step of a character-level RNN (and an LSTM) in several implementations.

Run from the repository root (``python -m benchmarks.bench_rnn`` works too)::

    python benchmarks/bench_rnn.py                   # every config, float32 and float64
    python benchmarks/bench_rnn.py --quick           # smoke run, well under a minute
    python benchmarks/bench_rnn.py --json out.json   # also write the results

One step is: one-hot input (T, B, V) -> recurrent layer (hidden H, zero initial state) ->
linear head to V logits at every step -> mean softmax cross-entropy over all T*B targets ->
backward through time -> SGD update (lr 0.1, no momentum). Every implementation starts from
the same weights and sees the same data:

- ``numpy_manual``: hand-written numpy forward and BPTT, the floor for a numpy engine.
- ``torch_unrolled``: torch eager, the cell written by hand in a Python loop.
- ``torch_nn_rnn`` / ``torch_nn_lstm``: ``torch.nn.RNN`` / ``torch.nn.LSTM`` + ``nn.Linear``.
- ``ours_nn`` / ``ours_cell``: the same two torch programs run on tinygrad_rnn; added when
  ``tinygrad_rnn`` provides the names they use (see ``OURS_REQUIREMENTS``).

Before timing, each config is checked in float64: every implementation must give the loss,
the gradients and the updated weights of the reference (``torch_nn_*``) to a relative error
below 1e-8, or the config is not timed.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

if not __package__:  # run as a file: measure this checkout's tinygrad_rnn, find the helpers
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import (  # noqa: E402
    blas_info,
    machine_info,
    match_torch_threads,
    missing_from_ours,
    peak_rss_kib,
)

LEARNING_RATE = 0.1
SEED = 0
TOLERANCE = 1e-8
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Config:
    name: str
    cell: str  # "rnn" or "lstm"
    vocab: int  # V
    batch: int  # B
    seq_len: int  # T
    hidden: int  # H
    dtypes: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"{self.name}: {self.cell.upper()} V={self.vocab} B={self.batch} T={self.seq_len} H={self.hidden}"
        )


CONFIGS = (
    Config("tiny", "rnn", vocab=10, batch=1, seq_len=5, hidden=100, dtypes=("float64",)),
    Config("small", "rnn", vocab=65, batch=32, seq_len=50, hidden=128, dtypes=("float32", "float64")),
    Config("medium", "rnn", vocab=65, batch=64, seq_len=100, hidden=512, dtypes=("float32", "float64")),
    Config("lstm", "lstm", vocab=65, batch=32, seq_len=50, hidden=128, dtypes=("float32", "float64")),
)

# torch's parameter names, prefixed by the submodule that owns them; every implementation
# reports its weights and gradients under these names.
RECURRENT_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
HEAD_NAMES = ("weight", "bias")
PARAMETER_NAMES = tuple(f"rnn.{n}" for n in RECURRENT_NAMES) + tuple(f"head.{n}" for n in HEAD_NAMES)


@dataclass
class Problem:
    """The model's initial weights and one batch of data, shared by every implementation."""

    config: Config
    dtype: np.dtype
    weights: dict[str, np.ndarray]  # PARAMETER_NAMES -> array; LSTM gates ordered i, f, g, o
    inputs: np.ndarray  # (T, B, V) one-hot of the input characters
    targets: np.ndarray  # (T*B,) int64: row t*B + b is the next character of sequence b


def make_problem(config: Config, dtype: str) -> Problem:
    """Weights drawn like torch's default init, U(-1/sqrt(H), 1/sqrt(H)), in float64 and then
    cast, so that the float32 and float64 runs start from the same numbers."""
    rng = np.random.default_rng(SEED)
    gates = 4 if config.cell == "lstm" else 1
    rows, hidden, vocab = gates * config.hidden, config.hidden, config.vocab
    shapes = {
        "rnn.weight_ih_l0": (rows, vocab),
        "rnn.weight_hh_l0": (rows, hidden),
        "rnn.bias_ih_l0": (rows,),
        "rnn.bias_hh_l0": (rows,),
        "head.weight": (vocab, hidden),
        "head.bias": (vocab,),
    }
    bound = 1.0 / np.sqrt(hidden)
    weights = {name: rng.uniform(-bound, bound, shape).astype(dtype) for name, shape in shapes.items()}
    tokens = rng.integers(0, vocab, size=(config.seq_len + 1, config.batch))
    inputs = np.eye(vocab, dtype=dtype)[tokens[:-1]]
    targets = tokens[1:].reshape(-1).astype(np.int64)
    return Problem(config, np.dtype(dtype), weights, inputs, targets)


class Trainer(Protocol):
    """One implementation, built from a Problem, owning its own copy of the weights."""

    def step(self) -> float:
        """Forward, loss, backward, SGD update; returns the loss before the update."""

    def parameters(self) -> dict[str, np.ndarray]:
        """Current weights, by PARAMETER_NAMES, as numpy arrays."""

    def gradients(self) -> dict[str, np.ndarray]:
        """Gradients of the last step's loss, by PARAMETER_NAMES, as numpy arrays."""


def to_numpy(value: Any) -> np.ndarray:
    """A copy of a torch tensor, a tinygrad_rnn Tensor or an array, as a numpy array."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.array(value)


# --------------------------------------------------------------------------- numpy, by hand


class NumpyCharModel:
    """What the numpy RNN and LSTM share: weights, buffers, the head, the loss and SGD."""

    def __init__(self, problem: Problem) -> None:
        config = problem.config
        self.seq_len, self.batch, self.hidden = config.seq_len, config.batch, config.hidden
        self.params = {name: w.copy() for name, w in problem.weights.items()}
        self.grads = {name: np.empty_like(w) for name, w in problem.weights.items()}
        self.inputs = problem.inputs.reshape(-1, config.vocab)  # (T*B, V)
        self.targets = problem.targets
        self.rows = np.arange(self.targets.size)
        self.states = np.empty((self.seq_len, self.batch, self.hidden), problem.dtype)  # h_1..h_T

    def head_backward(self) -> tuple[float, np.ndarray]:
        """Logits, mean cross-entropy and its backward into the head's weights; returns the
        loss and dL/dh_t from the head, (T, B, H)."""
        flat_states = self.states.reshape(-1, self.hidden)
        logits = flat_states @ self.params["head.weight"].T
        logits += self.params["head.bias"]
        logits -= logits.max(axis=1, keepdims=True)
        target_logits = logits[self.rows, self.targets]
        probs = np.exp(logits, out=logits)
        sums = probs.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(sums[:, 0]) - target_logits))
        count = self.targets.size
        grad_logits = probs
        grad_logits /= sums * count  # softmax / N ...
        grad_logits[self.rows, self.targets] -= 1.0 / count  # ... minus one-hot / N
        np.matmul(grad_logits.T, flat_states, out=self.grads["head.weight"])
        np.sum(grad_logits, axis=0, out=self.grads["head.bias"])
        grad_states = grad_logits @ self.params["head.weight"]
        return loss, grad_states.reshape(self.seq_len, self.batch, self.hidden)

    def input_weight_grads(self, grad_pre: np.ndarray) -> None:
        """Gradients of W_ih, W_hh and both biases from dL/d(pre-activation), (T, B, G*H)."""
        width = grad_pre.shape[2]
        flat = grad_pre.reshape(-1, width)
        np.matmul(flat.T, self.inputs, out=self.grads["rnn.weight_ih_l0"])
        # h_0 = 0 contributes nothing to W_hh: step t's pre-activation reads h_{t-1}.
        np.matmul(
            grad_pre[1:].reshape(-1, width).T,
            self.states[:-1].reshape(-1, self.hidden),
            out=self.grads["rnn.weight_hh_l0"],
        )
        np.sum(flat, axis=0, out=self.grads["rnn.bias_ih_l0"])
        self.grads["rnn.bias_hh_l0"][...] = self.grads["rnn.bias_ih_l0"]

    def sgd(self) -> None:
        for name, param in self.params.items():
            param -= LEARNING_RATE * self.grads[name]

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: p.copy() for name, p in self.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        return {name: g.copy() for name, g in self.grads.items()}


class NumpyRNN(NumpyCharModel):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), backward written out by hand."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.carry = np.empty((self.batch, self.hidden), problem.dtype)

    def step(self) -> float:
        w_hh = self.params["rnn.weight_hh_l0"]
        states, carry = self.states, self.carry
        # The input projection of every step in one matmul; the loop only adds W_hh h_{t-1}.
        np.matmul(self.inputs, self.params["rnn.weight_ih_l0"].T, out=states.reshape(-1, self.hidden))
        states += self.params["rnn.bias_ih_l0"] + self.params["rnn.bias_hh_l0"]
        np.tanh(states[0], out=states[0])  # h_0 = 0
        for t in range(1, self.seq_len):
            np.matmul(states[t - 1], w_hh.T, out=carry)
            states[t] += carry
            np.tanh(states[t], out=states[t])

        loss, grad_pre = self.head_backward()  # dL/dh_t from the head, made dL/dpre_t in place
        tanh_grad = 1.0 - np.square(states)
        for t in reversed(range(self.seq_len)):
            if t < self.seq_len - 1:
                grad_pre[t] += carry  # dL/dh_t through step t+1
            grad_pre[t] *= tanh_grad[t]
            if t:
                np.matmul(grad_pre[t], w_hh, out=carry)
        self.input_weight_grads(grad_pre)
        self.sgd()
        return loss


def _sigmoid_(x: np.ndarray) -> None:
    """In-place logistic sigmoid, 1 / (1 + exp(-x))."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    np.reciprocal(x, out=x)


class NumpyLSTM(NumpyCharModel):
    """torch's LSTM (gates i, f, g, o), backward written out by hand."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        shape, dtype = (self.seq_len, self.batch, self.hidden), problem.dtype
        self.gates = np.empty((self.seq_len, self.batch, 4 * self.hidden), dtype)  # activated
        self.cells = np.empty(shape, dtype)
        self.tanh_cells = np.empty(shape, dtype)
        self.gate_carry = np.empty((self.batch, 4 * self.hidden), dtype)
        self.h_carry = np.empty((self.batch, self.hidden), dtype)
        self.c_carry = np.empty((self.batch, self.hidden), dtype)

    def step(self) -> float:
        size = self.hidden
        in_gate, forget_gate, cell_gate, out_gate = (slice(k * size, (k + 1) * size) for k in range(4))
        w_hh = self.params["rnn.weight_hh_l0"]
        gates, cells, tanh_cells, states = self.gates, self.cells, self.tanh_cells, self.states
        np.matmul(self.inputs, self.params["rnn.weight_ih_l0"].T, out=gates.reshape(-1, 4 * size))
        gates += self.params["rnn.bias_ih_l0"] + self.params["rnn.bias_hh_l0"]
        for t in range(self.seq_len):
            z = gates[t]
            if t:  # h_0 = 0
                np.matmul(states[t - 1], w_hh.T, out=self.gate_carry)
                z += self.gate_carry
            _sigmoid_(z[:, : 2 * size])  # input and forget gates
            np.tanh(z[:, cell_gate], out=z[:, cell_gate])
            _sigmoid_(z[:, out_gate])
            i, f, g, o = z[:, in_gate], z[:, forget_gate], z[:, cell_gate], z[:, out_gate]
            np.multiply(i, g, out=cells[t])
            if t:  # c_0 = 0
                cells[t] += f * cells[t - 1]
            np.tanh(cells[t], out=tanh_cells[t])
            np.multiply(o, tanh_cells[t], out=states[t])

        loss, grad_states = self.head_backward()
        # Each activation's local derivative, for all steps at once: s(1-s) and 1 - tanh^2.
        local = gates * (1.0 - gates)
        local[:, :, cell_gate] = 1.0 - np.square(gates[:, :, cell_gate])
        tanh_cell_grad = 1.0 - np.square(tanh_cells)
        grad_pre = np.empty_like(gates)
        for t in reversed(range(self.seq_len)):
            z, dz = gates[t], grad_pre[t]
            i, f, g, o = z[:, in_gate], z[:, forget_gate], z[:, cell_gate], z[:, out_gate]
            grad_h = grad_states[t]
            if t < self.seq_len - 1:
                grad_h += self.h_carry
            np.multiply(grad_h, tanh_cells[t], out=dz[:, out_gate])
            grad_c = grad_h * o
            grad_c *= tanh_cell_grad[t]
            if t < self.seq_len - 1:
                grad_c += self.c_carry
            np.multiply(grad_c, g, out=dz[:, in_gate])
            if t:
                np.multiply(grad_c, cells[t - 1], out=dz[:, forget_gate])
            else:
                dz[:, forget_gate] = 0.0
            np.multiply(grad_c, i, out=dz[:, cell_gate])
            dz *= local[t]
            if t:
                np.multiply(grad_c, f, out=self.c_carry)
                np.matmul(dz, w_hh, out=self.h_carry)
        self.input_weight_grads(grad_pre)
        self.sgd()
        return loss


# --------------------------------------------------------------------------- torch and ours
# The programs below are written once against the PyTorch API and run on torch and on
# tinygrad_rnn alike, so that "ours" and torch execute the same sequence of operations.


@dataclass(frozen=True)
class Library:
    """How a torch-like library is reached: its module, how arrays become tensors, and how
    weights are handed to ``load_state_dict``."""

    name: str
    module: Any  # exposes nn.RNN, nn.LSTM, nn.Linear, nn.functional, optim.SGD, cat, float64
    tensor: Callable[[np.ndarray, bool], Any]  # (array, requires_grad) -> tensor (a copy)
    state_value: Callable[[np.ndarray], Any]  # ndarray -> what load_state_dict accepts


def torch_library() -> Library:
    import torch

    return Library(
        "torch",
        torch,
        tensor=lambda array, requires_grad: torch.tensor(array, requires_grad=requires_grad),
        state_value=torch.from_numpy,
    )


def ours_library() -> Library:
    import tinygrad_rnn

    for submodule in ("nn", "nn.functional", "optim"):
        importlib.import_module(f"tinygrad_rnn.{submodule}")
    return Library(
        "tinygrad_rnn",
        tinygrad_rnn,
        tensor=lambda array, requires_grad: tinygrad_rnn.Tensor(array, requires_grad=requires_grad),
        state_value=np.array,
    )


def rnn_cell(x: Any, state: Any, p: dict[str, Any], hidden: int) -> tuple[Any, Any]:
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh); returns (output, new state)."""
    pre = x @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"] + state @ p["rnn.weight_hh_l0"].T
    h = (pre + p["rnn.bias_hh_l0"]).tanh()
    return h, h


def lstm_cell(x: Any, state: Any, p: dict[str, Any], hidden: int) -> tuple[Any, Any]:
    """torch's LSTM cell, gates i, f, g, o; state is (h, c)."""
    h, c = state
    gates = x @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"] + h @ p["rnn.weight_hh_l0"].T
    gates = gates + p["rnn.bias_hh_l0"]
    i = gates[:, :hidden].sigmoid()
    f = gates[:, hidden : 2 * hidden].sigmoid()
    g = gates[:, 2 * hidden : 3 * hidden].tanh()
    o = gates[:, 3 * hidden :].sigmoid()
    c = f * c + i * g
    h = o * c.tanh()
    return h, (h, c)


class HandCellTrainer:
    """The cell written by hand from tensor ops, unrolled in a Python loop; autograd does BPTT."""

    def __init__(self, problem: Problem, library: Library) -> None:
        config = problem.config
        self.lib = library.module
        self.hidden = config.hidden
        self.cell = lstm_cell if config.cell == "lstm" else rnn_cell
        self.params = {name: library.tensor(w, True) for name, w in problem.weights.items()}
        self.inputs = [library.tensor(x, False) for x in problem.inputs]  # T tensors (B, V)
        zeros = library.tensor(np.zeros((config.batch, config.hidden), problem.dtype), False)
        self.initial_state = (zeros, zeros) if config.cell == "lstm" else zeros
        self.targets = library.tensor(problem.targets, False)
        self.optimizer = self.lib.optim.SGD(list(self.params.values()), lr=LEARNING_RATE)

    def step(self) -> float:
        p = self.params
        self.optimizer.zero_grad()
        state, outputs = self.initial_state, []
        for x in self.inputs:
            output, state = self.cell(x, state, p, self.hidden)
            outputs.append(output)
        logits = self.lib.cat(outputs) @ p["head.weight"].T + p["head.bias"]  # (T*B, V)
        loss = self.lib.nn.functional.cross_entropy(logits, self.targets)
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: to_numpy(p) for name, p in self.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        return {name: to_numpy(p.grad) for name, p in self.params.items()}


class ModuleTrainer:
    """``nn.RNN``/``nn.LSTM`` + ``nn.Linear`` + ``cross_entropy`` + ``optim.SGD``."""

    def __init__(self, problem: Problem, library: Library) -> None:
        config = problem.config
        lib = self.lib = library.module
        layer = lib.nn.LSTM if config.cell == "lstm" else lib.nn.RNN
        self.rnn = layer(config.vocab, config.hidden)
        self.head = lib.nn.Linear(config.hidden, config.vocab)
        dtype = getattr(lib, problem.dtype.name)  # torch.float64 / tinygrad_rnn.float64
        self.rnn.to(dtype)  # as in torch: load_state_dict casts to the parameters' dtype
        self.head.to(dtype)
        for prefix, module in (("rnn.", self.rnn), ("head.", self.head)):
            weights = {n.removeprefix(prefix): w for n, w in problem.weights.items() if n.startswith(prefix)}
            module.load_state_dict({n: library.state_value(w) for n, w in weights.items()})
        for name, param in self.named_parameters().items():
            if to_numpy(param).dtype != problem.dtype:
                raise TypeError(
                    f"{library.name}: parameter {name} is {to_numpy(param).dtype} after "
                    f"module.to({problem.dtype}) and load_state_dict of {problem.dtype} arrays"
                )
        self.inputs = library.tensor(problem.inputs, False)  # (T, B, V)
        self.targets = library.tensor(problem.targets, False)
        self.flat_shape = (config.seq_len * config.batch, config.hidden)
        self.optimizer = lib.optim.SGD(list(self.named_parameters().values()), lr=LEARNING_RATE)

    def named_parameters(self) -> dict[str, Any]:
        params = {f"rnn.{n}": getattr(self.rnn, n) for n in RECURRENT_NAMES}
        params.update({f"head.{n}": getattr(self.head, n) for n in HEAD_NAMES})
        return params

    def step(self) -> float:
        self.optimizer.zero_grad()
        output, _ = self.rnn(self.inputs)  # (T, B, H)
        logits = self.head(output.reshape(*self.flat_shape))
        loss = self.lib.nn.functional.cross_entropy(logits, self.targets)
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: to_numpy(p) for name, p in self.named_parameters().items()}

    def gradients(self) -> dict[str, np.ndarray]:
        return {name: to_numpy(p.grad) for name, p in self.named_parameters().items()}


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Implementation:
    name: str
    library: str  # "numpy", "torch" or "ours": what its process imports (memory baseline)
    build: Callable[[Problem], Trainer]
    optional: bool = False  # ours: a failure to build skips it instead of stopping the run


# What tinygrad_rnn must provide for each "ours" implementation (dotted names).
_OURS_COMMON = ("Tensor", "nn.functional.cross_entropy", "optim.SGD")
OURS_REQUIREMENTS = {
    ("ours_nn", "rnn"): (*_OURS_COMMON, "nn.RNN", "nn.Linear", "float32", "float64"),
    ("ours_nn", "lstm"): (*_OURS_COMMON, "nn.LSTM", "nn.Linear", "float32", "float64"),
    ("ours_cell", "rnn"): (*_OURS_COMMON, "cat", "Tensor.tanh"),
    ("ours_cell", "lstm"): (*_OURS_COMMON, "cat", "Tensor.tanh", "Tensor.sigmoid"),
}


def implementations(cell: str, with_ours: bool = True) -> tuple[list[Implementation], list[str]]:
    """The implementations for a cell type, and a note for each "ours" left out.

    ``with_ours=False`` does not even import tinygrad_rnn (a memory process of a baseline
    implementation must not carry the engine's imports)."""
    torch_nn_name = f"torch_nn_{cell}"
    found = [
        Implementation("numpy_manual", "numpy", NumpyLSTM if cell == "lstm" else NumpyRNN),
        Implementation("torch_unrolled", "torch", lambda p: HandCellTrainer(p, torch_library())),
        Implementation(torch_nn_name, "torch", lambda p: ModuleTrainer(p, torch_library())),
    ]
    builders = {
        "ours_nn": lambda p: ModuleTrainer(p, ours_library()),
        "ours_cell": lambda p: HandCellTrainer(p, ours_library()),
    }
    notes: list[str] = []
    for name, build in builders.items() if with_ours else ():
        missing = missing_from_ours(OURS_REQUIREMENTS[name, cell])
        if missing:
            notes.append(f"{name} skipped: tinygrad_rnn lacks {', '.join(missing)}")
        else:
            found.append(Implementation(name, "ours", build, optional=True))
    return found, notes


def reference_name(cell: str) -> str:
    return f"torch_nn_{cell}"


# --------------------------------------------------------------------------- correctness


def relative_error(value: np.ndarray, reference: np.ndarray) -> float:
    """max |value - reference| / max |reference| (0 when both are all zeros)."""
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    error = float(np.max(np.abs(value - reference))) if reference.size else 0.0
    return error / scale if scale else error


Row = dict[str, Any]


def check_correctness(config: Config, impls: list[Implementation]) -> tuple[bool, list[Row], list[str]]:
    """One float64 step of every implementation from the same weights: the loss, every
    gradient and every updated weight against the reference's. Returns (all agree, rows,
    implementations that failed to build)."""
    problem = make_problem(config, "float64")
    outcomes, broken = {}, []
    for impl in impls:
        try:
            trainer = impl.build(problem)
            loss = trainer.step()
            outcomes[impl.name] = (loss, trainer.gradients(), trainer.parameters())
        except Exception as error:  # ours may be incomplete in any way; the baselines may not
            if not impl.optional:
                raise
            broken.append(f"{impl.name} skipped: {type(error).__name__}: {error}")
    ref_loss, ref_grads, ref_params = outcomes[reference_name(config.cell)]
    rows, agree = [], True
    for name, (loss, grads, params) in outcomes.items():
        grad_errors = {p: relative_error(grads[p], ref_grads[p]) for p in PARAMETER_NAMES}
        param_errors = {p: relative_error(params[p], ref_params[p]) for p in PARAMETER_NAMES}
        worst = max(grad_errors, key=grad_errors.__getitem__)
        row = {
            "implementation": name,
            "loss": loss,
            "loss_rel_err": abs(loss - ref_loss) / abs(ref_loss),
            "grad_rel_err": grad_errors[worst],
            "worst_grad": worst,
            "param_rel_err": max(param_errors.values()),
        }
        row["ok"] = max(row["loss_rel_err"], row["grad_rel_err"], row["param_rel_err"]) < TOLERANCE
        agree = agree and row["ok"]
        rows.append(row)
    return agree, rows, broken


def correctness_table(rows: list[Row]) -> str:
    header = ["implementation", "loss", "rel err loss", "max rel err grads (worst)"]
    header += ["max rel err weights after step", "ok"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append(
            f"| {r['implementation']} | {r['loss']:.12f} | {r['loss_rel_err']:.1e} | "
            f"{r['grad_rel_err']:.1e} ({r['worst_grad']}) | {r['param_rel_err']:.1e} | "
            f"{'yes' if r['ok'] else 'NO'} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- timing


def build_trainers(impls: list[Implementation], problem: Problem) -> tuple[dict[str, Trainer], list[str]]:
    """A trainer per implementation; an optional one that fails to build or to run a first
    step (e.g. ours in float32 only) is left out with a note instead of stopping the run."""
    trainers, notes = {}, []
    for impl in impls:
        try:
            trainer = impl.build(problem)
            if impl.optional:
                trainer.step()
        except Exception as error:  # ours may be incomplete in any way; the baselines may not
            if not impl.optional:
                raise
            notes.append(f"{impl.name} skipped: {type(error).__name__}: {error}")
            continue
        trainers[impl.name] = trainer
    return trainers, notes


# OpenBLAS's idle workers spin for about 0.1 s after a call before they sleep, and torch's
# OpenMP workers spin too: on a machine with few cores, a pool still spinning from the last
# implementation slows the next one (measured here: a torch step 8x slower right after numpy,
# a numpy step 3x slower right after torch). Pausing SETTLE_SECONDS whenever the thread pool
# changes, and then running one untimed step, makes each block start from a quiet machine.
SETTLE_SECONDS = 0.2


def thread_pool(library: str) -> str:
    """Which thread pool an implementation's heavy ops run on."""
    return "torch" if library == "torch" else "numpy BLAS"


def time_steps(
    trainers: dict[str, Trainer], pools: dict[str, str], rounds: int, warmup: int, round_seconds: float
) -> dict[str, list[float]]:
    """Seconds per step of each trainer, from interleaved rounds.

    Each round runs every trainer for a short block of steps, in an order rotated from round
    to round, so that slow drift (frequency, other load) touches all of them alike. A block
    has as many steps as fit in ``round_seconds`` (at least one), judged from the warm-up.
    Trainers sharing a thread pool (``pools``) stay next to each other in every rotation, so
    a round changes pool only twice; see SETTLE_SECONDS for what happens at a change.
    """
    order = sorted(trainers, key=lambda name: pools[name])  # stable: registry order within a pool
    current_pool = None

    def enter(name: str) -> None:
        nonlocal current_pool
        if pools[name] != current_pool:
            time.sleep(SETTLE_SECONDS)
            trainers[name].step()
            current_pool = pools[name]

    block = {}
    for name in order:
        enter(name)
        start = time.perf_counter()
        for _ in range(warmup):
            trainers[name].step()
        block[name] = max(1, int(round_seconds / ((time.perf_counter() - start) / warmup)))
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for r in range(rounds):
        shift = r % len(order)
        for name in order[shift:] + order[:shift]:
            enter(name)
            step, record = trainers[name].step, times[name].append
            for _ in range(block[name]):
                start = time.perf_counter()
                step()
                record(time.perf_counter() - start)
    return times


def summarize(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1e3 for s in samples)
    quartiles = statistics.quantiles(ms, n=4) if len(ms) > 1 else [ms[0]] * 3
    median = statistics.median(ms)
    return {"median_ms": median, "q1_ms": quartiles[0], "q3_ms": quartiles[2], "steps": len(ms)}


# --------------------------------------------------------------------------- memory
# Peak memory is measured in a fresh process per implementation: its peak resident set size
# (VmHWM, see peak_rss_kib) after building the trainer and running a few steps, minus the peak
# of a baseline process. Both first import the same libraries, build the same data and warm the
# library up on a miniature problem (_warm_library), so the difference is what the model itself
# needs. For numpy-based implementations a second figure comes from tracemalloc (numpy reports
# its buffers to it): the peak of memory allocated from building the trainer through the steps.


def _warm_library(library: str, config: Config, dtype: str) -> None:
    """One step of each of the library's implementations on a miniature problem, so that
    lazy imports and one-time set-up count in the baseline, not in an implementation's
    figure (torch.optim's first step alone imports some 800 modules, about 70 MiB)."""
    miniature = make_problem(replace(config, vocab=3, batch=2, seq_len=2, hidden=2), dtype)
    for impl in implementations(config.cell, with_ours=library == "ours")[0]:
        if impl.library == library:
            impl.build(miniature).step()


def memory_child(impl_name: str, config: Config, dtype: str, steps: int) -> dict[str, Any]:
    """Body of a memory-measuring process (see ``--memory-child``)."""
    if impl_name.startswith("baseline_"):
        library, impl = impl_name.removeprefix("baseline_"), None
    else:
        impls = implementations(config.cell, with_ours=impl_name.startswith("ours_"))[0]
        impl = next(i for i in impls if i.name == impl_name)
        library = impl.library
    if library == "torch":
        import torch

        match_torch_threads(torch, blas_info()["threads"])
    problem = make_problem(config, dtype)
    _warm_library(library, config, dtype)
    result: dict[str, Any] = {"peak_rss_kib": None, "tracemalloc_bytes": None}
    if impl is None:
        result["peak_rss_kib"] = peak_rss_kib()
        return result
    trainer = impl.build(problem)
    for _ in range(steps):
        trainer.step()
    result["peak_rss_kib"] = peak_rss_kib()
    if library != "torch":  # tracemalloc cannot see torch's allocator
        del trainer
        gc.collect()
        tracemalloc.start()
        trainer = impl.build(problem)
        for _ in range(steps):
            trainer.step()
        result["tracemalloc_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result


def run_memory_child(impl_name: str, config: Config, dtype: str, steps: int) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.bench_rnn",
        "--memory-child",
        impl_name,
        "--configs",
        config.name,
        "--dtype",
        dtype,
        "--memory-steps",
        str(steps),
    ]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


MemoryJob = tuple[Config, str, list[Implementation]]  # config, dtype, implementations


def measure_memory(jobs: list[MemoryJob], steps: int) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Peak memory of every (config, dtype, implementation), relative to its library's
    baseline process. The processes run two at a time after all timing is done."""
    tasks = []
    for config, dtype, impls in jobs:
        for library in sorted({i.library for i in impls}):
            tasks.append((config, dtype, f"baseline_{library}"))
        tasks.extend((config, dtype, i.name) for i in impls)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outputs = pool.map(lambda task: run_memory_child(task[2], task[0], task[1], steps), tasks)
        raw = dict(zip(tasks, outputs))
    results = {}
    for config, dtype, impls in jobs:
        for impl in impls:
            measured = raw[config, dtype, impl.name]
            baseline = raw[config, dtype, f"baseline_{impl.library}"]
            entry: dict[str, Any] = {"rss_delta_mib": None, "tracemalloc_mib": None}
            if "error" in measured or "error" in baseline:
                entry["error"] = measured.get("error") or baseline.get("error")
            else:
                entry["rss_delta_mib"] = (measured["peak_rss_kib"] - baseline["peak_rss_kib"]) / 1024
                if measured["tracemalloc_bytes"] is not None:
                    entry["tracemalloc_mib"] = measured["tracemalloc_bytes"] / 2**20
            results[config.name, dtype, impl.name] = entry
    return results


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def results_table(result: dict[str, Any]) -> str:
    timings, memory = result["timings"], result["memory"]
    ours = [name for name in timings if name.startswith("ours_")]
    header = ["implementation", "median ms/step", "IQR ms", "steps", "peak RSS Δ MiB", "tracemalloc peak MiB"]
    header += [f"{name} ÷ this" for name in ours]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, timing in timings.items():
        mem = memory.get(name, {})
        cells = [
            name,
            f"{timing['median_ms']:.3f}",
            f"{timing['q1_ms']:.3f}–{timing['q3_ms']:.3f}",
            str(timing["steps"]),
            mem.get("error", _fmt(mem.get("rss_delta_mib"), ".1f")),
            _fmt(mem.get("tracemalloc_mib"), ".1f"),
        ]
        cells += [f"{timings[o]['median_ms'] / timing['median_ms']:.2f}" for o in ours]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def selected_configs(names: str) -> list[Config]:
    by_name = {c.name: c for c in CONFIGS}
    unknown = [n for n in names.split(",") if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown config(s) {', '.join(unknown)}; choose from {', '.join(by_name)}")
    return [by_name[n] for n in names.split(",")]


def config_dtypes(config: Config, dtype_flag: str) -> list[str]:
    wanted = ("float32", "float64") if dtype_flag == "both" else (dtype_flag,)
    return [d for d in config.dtypes if d in wanted]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time one char-RNN training step per implementation.")
    parser.add_argument("--dtype", choices=("both", "float32", "float64"), default="both")
    parser.add_argument("--configs", default=",".join(c.name for c in CONFIGS), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=None, help="interleaved rounds (default 30, --quick 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 rounds, first dtype of each config, memory for the first config only",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory processes")
    parser.add_argument("--memory-steps", type=int, default=None, help="steps per memory process (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (3 if args.quick else 30)
    args.memory_steps = args.memory_steps or (1 if args.quick else 3)
    return args


def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], bool]:
    """Check, time and measure every selected config; returns the results and whether all
    configs passed their correctness check."""
    warmup, round_seconds = (1, 0.002) if args.quick else (3, 0.02)
    all_ok, results, memory_jobs = True, [], []
    for config in selected_configs(args.configs):
        impls, notes = implementations(config.cell)
        print(f"\n## {config.describe()}\n")
        for note in notes:
            print(f"- {note}")
        ok, rows, broken = check_correctness(config, impls)
        for note in broken:
            print(f"- {note}")
        impls = [i for i in impls if i.name in {r["implementation"] for r in rows}]
        reference = reference_name(config.cell)
        print(f"\nCorrectness, float64, one step, against {reference} (tolerance {TOLERANCE:g}):\n")
        print(correctness_table(rows))
        if not ok:
            print(f"\n**{config.name}: implementations disagree; not timed.**")
            all_ok = False
            results.append({"config": config.name, "correctness": rows, "aborted": True})
            continue
        dtypes = config_dtypes(config, args.dtype)
        for dtype in dtypes[:1] if args.quick else dtypes:
            problem = make_problem(config, dtype)
            trainers, notes = build_trainers(impls, problem)
            for note in notes:
                print(f"- {dtype}: {note}")
            pools = {i.name: thread_pool(i.library) for i in impls if i.name in trainers}
            samples = time_steps(trainers, pools, args.repeat, warmup, round_seconds)
            del trainers
            gc.collect()
            result = {
                "config": config.name,
                "cell": config.cell,
                "V": config.vocab,
                "B": config.batch,
                "T": config.seq_len,
                "H": config.hidden,
                "dtype": dtype,
                "correctness": rows,
                "timings": {name: summarize(s) for name, s in samples.items()},
                "memory": {},
            }
            results.append(result)
            if not args.no_memory and (not args.quick or not memory_jobs):
                memory_jobs.append((config, dtype, [i for i in impls if i.name in samples], result))
            print(f"\n{config.name} {dtype}: timed ({args.repeat} rounds)")
    if memory_jobs:
        print(f"\nMeasuring peak memory ({len(memory_jobs)} config/dtype pairs, fresh processes) ...")
        memory = measure_memory([(c, d, i) for c, d, i, _ in memory_jobs], args.memory_steps)
        for config, dtype, impls, result in memory_jobs:
            result["memory"] = {i.name: memory[config.name, dtype, i.name] for i in impls}
    return results, all_ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        config = selected_configs(args.configs)[0]
        print(json.dumps(memory_child(args.memory_child, config, args.dtype, args.memory_steps)))
        return 0

    import torch

    blas = blas_info()
    torch_threads = match_torch_threads(torch, blas["threads"])
    machine = machine_info() | {"torch": torch.__version__, "blas": blas, "torch_threads": torch_threads}
    print("# RNN training-step benchmark\n")
    print(
        f"numpy {np.__version__}: BLAS {blas['library']} ({blas['core']}), {blas['threads']} threads "
        f"(from {blas['source']}); torch {torch.__version__}: {torch_threads['threads']} intra-op "
        f"threads (set to match), {torch_threads['interop_threads']} inter-op; "
        f"OPENBLAS_CORETYPE={machine['OPENBLAS_CORETYPE']}"
    )
    print(
        f"SGD lr={LEARNING_RATE}; {args.repeat} interleaved rounds; time per step is the median over "
        "all timed steps, IQR its interquartile range."
    )
    results, all_ok = run(args)

    print("\n# Results\n")
    print(
        "peak RSS Δ: peak resident set (VmHWM) of a fresh process that builds the implementation "
        f"and runs {args.memory_steps} step(s), minus that of a process that stops before building "
        "it (both import the same libraries, build the same data and warm up on a miniature model). "
        "tracemalloc peak (numpy-based only): the most memory numpy and Python held at once from "
        "building the implementation through those steps. 'ours ÷ this' > 1 means ours is slower.\n"
    )
    for result in results:
        if result.get("aborted"):
            print(f"### {result['config']}: not timed (implementations disagree)\n")
            continue
        config = next(c for c in CONFIGS if c.name == result["config"])
        print(f"### {config.describe()}, {result['dtype']}\n")
        print(results_table(result))
        print()
    if args.json:
        settings = vars(args) | {"json": str(args.json)}
        payload = {"machine": machine, "args": settings, "results": results}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
