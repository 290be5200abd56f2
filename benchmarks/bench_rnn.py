"""Time one training step of a character-level RNN, LSTM and GRU in several implementations.

Run from the repository root (``python -m benchmarks.bench_rnn`` works too)::

    python benchmarks/bench_rnn.py                   # every cell and size, float32 and float64
    python benchmarks/bench_rnn.py --quick           # smoke run: tiny, float32
    python benchmarks/bench_rnn.py --json out.json   # also write the results

One step (see ``problem.py``): one-hot input (T, B, V) -> recurrent layer -> linear head ->
mean cross-entropy -> backward through time -> SGD. Every implementation starts from the same
weights and sees the same data:

- ``numpy_manual``: hand-written numpy forward and BPTT (``numpy_bptt.py``), the floor.
- ``torch_unrolled``: torch eager, the cell written by hand in a Python loop.
- ``torch_nn``: ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` (fused loops) + ``nn.Linear``.
- ``ours_nn`` / ``ours_cell``: the same two torch programs run on tinygrad_rnn; added when
  ``tinygrad_rnn`` provides the names they use (see ``OURS_REQUIREMENTS``).

Before timing, each config is checked in float64: every implementation must give the loss,
the gradients and the updated weights of ``torch_nn`` to a relative error below 1e-8, or the
config is not timed. The report ends with the performance goals of docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
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
    CLOCKS,
    blas_info,
    machine_info,
    match_torch_threads,
    missing_from_ours,
    peak_rss_kib,
    step_clock,
)
from benchmarks.numpy_bptt import NUMPY_MODELS  # noqa: E402
from benchmarks.problem import (  # noqa: E402
    CELLS,
    HEAD_NAMES,
    LEARNING_RATE,
    PARAMETER_NAMES,
    RECURRENT_NAMES,
    SIZES,
    Config,
    Problem,
    make_config,
    make_problem,
)

TOLERANCE = 1e-8
REPO_ROOT = Path(__file__).resolve().parents[1]

CONFIGS = tuple(make_config(cell, size) for cell in CELLS for size in SIZES)
DTYPES = ("float32", "float64")


class Trainer(Protocol):
    """One implementation, built from a Problem, owning its own copy of the weights.

    ``step()`` is ``finish(forward())``; the two halves exist so that what the graph (or the
    hand-written caches) holds between forward and backward can be measured."""

    def step(self) -> float:
        """Forward, loss, backward, SGD update; returns the loss before the update."""

    def forward(self) -> Any:
        """Zero the gradients, run forward to the loss; returns the loss (graph alive)."""

    def finish(self, loss: Any) -> float:
        """Backward from ``forward``'s loss and the SGD update; returns the loss."""

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


class NumpyTrainer:
    """A hand-written numpy model (``numpy_bptt``) behind the Trainer interface."""

    def __init__(self, problem: Problem) -> None:
        self.model = NUMPY_MODELS[problem.config.cell](problem)
        self.step = self.model.step
        self.parameters = self.model.parameters
        self.gradients = self.model.gradients

    def forward(self) -> float:
        return self.model.forward()

    def finish(self, loss: Any) -> float:
        self.model.backward()
        self.model.sgd()
        return float(loss)


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


def gru_cell(x: Any, state: Any, p: dict[str, Any], hidden: int) -> tuple[Any, Any]:
    """torch's GRU cell, gates r, z, n: n = tanh(x_n + r * (W_hn h + b_hn)), h' = n + z (h - n)."""
    gates_x = x @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"]
    gates_h = state @ p["rnn.weight_hh_l0"].T + p["rnn.bias_hh_l0"]
    r = (gates_x[:, :hidden] + gates_h[:, :hidden]).sigmoid()
    z = (gates_x[:, hidden : 2 * hidden] + gates_h[:, hidden : 2 * hidden]).sigmoid()
    n = (gates_x[:, 2 * hidden :] + r * gates_h[:, 2 * hidden :]).tanh()
    h = n + z * (state - n)
    return h, h


HAND_CELLS = {"rnn": rnn_cell, "lstm": lstm_cell, "gru": gru_cell}


class HandCellTrainer:
    """The cell written by hand from tensor ops, unrolled in a Python loop; autograd does BPTT."""

    def __init__(self, problem: Problem, library: Library) -> None:
        config = problem.config
        self.lib = library.module
        self.hidden = config.hidden
        self.cell = HAND_CELLS[config.cell]
        self.params = {name: library.tensor(w, True) for name, w in problem.weights.items()}
        self.inputs = [library.tensor(x, False) for x in problem.inputs]  # T tensors (B, V)
        zeros = library.tensor(np.zeros((config.batch, config.hidden), problem.dtype), False)
        self.initial_state = (zeros, zeros) if config.cell == "lstm" else zeros
        self.targets = library.tensor(problem.targets, False)
        self.optimizer = self.lib.optim.SGD(list(self.params.values()), lr=LEARNING_RATE)

    def forward(self) -> Any:
        p = self.params
        self.optimizer.zero_grad()
        state, outputs = self.initial_state, []
        for x in self.inputs:
            output, state = self.cell(x, state, p, self.hidden)
            outputs.append(output)
        logits = self.lib.cat(outputs) @ p["head.weight"].T + p["head.bias"]  # (T*B, V)
        return self.lib.nn.functional.cross_entropy(logits, self.targets)

    def finish(self, loss: Any) -> float:
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    def step(self) -> float:
        return self.finish(self.forward())

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: to_numpy(p) for name, p in self.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        return {name: to_numpy(p.grad) for name, p in self.params.items()}


class ModuleTrainer:
    """``nn.RNN``/``nn.LSTM``/``nn.GRU`` + ``nn.Linear`` + ``cross_entropy`` + ``optim.SGD``."""

    def __init__(self, problem: Problem, library: Library) -> None:
        config = problem.config
        lib = self.lib = library.module
        layer = {"rnn": lib.nn.RNN, "lstm": lib.nn.LSTM, "gru": lib.nn.GRU}[config.cell]
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

    def forward(self) -> Any:
        self.optimizer.zero_grad()
        output, _ = self.rnn(self.inputs)  # (T, B, H)
        logits = self.head(output.reshape(*self.flat_shape))
        return self.lib.nn.functional.cross_entropy(logits, self.targets)

    def finish(self, loss: Any) -> float:
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    def step(self) -> float:
        return self.finish(self.forward())

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: to_numpy(p) for name, p in self.named_parameters().items()}

    def gradients(self) -> dict[str, np.ndarray]:
        return {name: to_numpy(p.grad) for name, p in self.named_parameters().items()}


class CompiledTrainer(ModuleTrainer):
    """``ours_nn`` with its forward and backward run through ``tinygrad_rnn.compile``: traced
    once, then replayed (the optimizer step stays eager). ``forward``/``finish`` stay eager, so
    memory is not measured for it."""

    def __init__(self, problem: Problem, library: Library) -> None:
        super().__init__(problem, library)

        def loss_and_backward(inputs: Any, targets: Any) -> Any:
            output, _ = self.rnn(inputs)
            logits = self.head(output.reshape(*self.flat_shape))
            loss = self.lib.nn.functional.cross_entropy(logits, targets)
            loss.backward()
            return loss

        self.compiled = self.lib.compile(loss_and_backward)

    def step(self) -> float:
        self.optimizer.zero_grad()
        loss = self.compiled(self.inputs, self.targets)
        self.optimizer.step()
        return float(loss.item())


def check_replay(config: Config, dtype: str, steps: int = 5) -> bool:
    """Train ``ours_nn`` eagerly and through ``compile`` from the same weights and data: every
    loss, weight and gradient must be equal to the last bit, with replays actually used."""
    problem = make_problem(config, dtype)
    eager, compiled = ModuleTrainer(problem, ours_library()), CompiledTrainer(problem, ours_library())
    same = True
    for _ in range(steps):
        same &= eager.step() == compiled.step()
        for name, value in eager.parameters().items():
            same &= bool(np.array_equal(value, compiled.parameters()[name]))
        for name, value in eager.gradients().items():
            same &= bool(np.array_equal(value, compiled.gradients()[name]))
    replays = compiled.compiled.replays
    ok = same and replays == steps - 2 and compiled.compiled.eager_reason is None
    print(
        f"\nReplay check, {config.name} {dtype}: {steps} steps eager and compiled, "
        f"{replays} replayed; losses, weights and gradients bit for bit equal: {'yes' if same else 'NO'}"
    )
    return ok


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Implementation:
    name: str
    library: str  # "numpy", "torch" or "ours": what its process imports (memory baseline)
    build: Callable[[Problem], Trainer]
    optional: bool = False  # ours: a failure to build skips it instead of stopping the run


# What tinygrad_rnn must provide for each "ours" implementation (dotted names).
_OURS_COMMON = ("Tensor", "nn.functional.cross_entropy", "optim.SGD")
_OURS_NN = (*_OURS_COMMON, "nn.Linear", "float32", "float64")
_OURS_CELL = (*_OURS_COMMON, "cat", "Tensor.tanh")
OURS_REQUIREMENTS = {
    ("ours_nn", "rnn"): (*_OURS_NN, "nn.RNN"),
    ("ours_nn", "lstm"): (*_OURS_NN, "nn.LSTM"),
    ("ours_nn", "gru"): (*_OURS_NN, "nn.GRU"),
    ("ours_cell", "rnn"): _OURS_CELL,
    ("ours_cell", "lstm"): (*_OURS_CELL, "Tensor.sigmoid"),
    ("ours_cell", "gru"): (*_OURS_CELL, "Tensor.sigmoid"),
    ("ours_compiled", "rnn"): (*_OURS_NN, "nn.RNN", "compile"),
    ("ours_compiled", "lstm"): (*_OURS_NN, "nn.LSTM", "compile"),
    ("ours_compiled", "gru"): (*_OURS_NN, "nn.GRU", "compile"),
}
REFERENCE = "torch_nn"  # what the correctness check compares every implementation with


def implementations(cell: str, with_ours: bool = True) -> tuple[list[Implementation], list[str]]:
    """The implementations for a cell type, and a note for each "ours" left out.

    ``with_ours=False`` does not even import tinygrad_rnn (a memory process of a baseline
    implementation must not carry the engine's imports)."""
    found = [
        Implementation("numpy_manual", "numpy", NumpyTrainer),
        Implementation("torch_unrolled", "torch", lambda p: HandCellTrainer(p, torch_library())),
        Implementation(REFERENCE, "torch", lambda p: ModuleTrainer(p, torch_library())),
    ]
    builders = {
        "ours_nn": lambda p: ModuleTrainer(p, ours_library()),
        "ours_cell": lambda p: HandCellTrainer(p, ours_library()),
        "ours_compiled": lambda p: CompiledTrainer(p, ours_library()),
    }
    notes: list[str] = []
    for name, build in builders.items() if with_ours else ():
        missing = missing_from_ours(OURS_REQUIREMENTS[name, cell])
        if missing:
            notes.append(f"{name} skipped: tinygrad_rnn lacks {', '.join(missing)}")
        else:
            found.append(Implementation(name, "ours", build, optional=True))
    return found, notes


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
    ref_loss, ref_grads, ref_params = outcomes[REFERENCE]
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
    trainers: dict[str, Trainer],
    pools: dict[str, str],
    rounds: int,
    warmup: int,
    round_seconds: float,
    clock: Callable[[], float] = time.perf_counter,
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
        start = clock()
        for _ in range(warmup):
            trainers[name].step()
        block[name] = max(1, int(round_seconds / max((clock() - start) / warmup, 1e-9)))
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for r in range(rounds):
        shift = r % len(order)
        for name in order[shift:] + order[:shift]:
            enter(name)
            step, record = trainers[name].step, times[name].append
            for _ in range(block[name]):
                start = clock()
                step()
                record(clock() - start)
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
    result["retained_bytes"] = retained_bytes(trainer, library)
    return result


def retained_bytes(trainer: Trainer, library: str) -> int:
    """What one step keeps alive between the end of forward and the start of backward.

    numpy: the bytes of the arrays the hand-written forward fills and backward reads. ours:
    what tracemalloc sees allocated during forward and still alive with the loss in hand
    (arrays the graph saved and the graph's own objects). torch: the storages of the
    tensors autograd saved during forward (``saved_tensors_hooks``), each counted once,
    except the parameters' and inputs' (alive before forward); the graph's C++ nodes are not
    counted, so torch's figure is a lower bound."""
    if library == "numpy":
        trainer.step()
        return sum(array.nbytes for array in trainer.model.saved_arrays())  # type: ignore[attr-defined]
    if library == "ours":
        gc.collect()
        tracemalloc.start()
        loss = trainer.forward()
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        trainer.finish(loss)
        return held
    import torch

    def storage(tensor: Any) -> tuple[int, int]:
        data = tensor.untyped_storage()
        return data.data_ptr(), data.nbytes()

    existing = {storage(t)[0] for t in _torch_tensors(trainer)}
    saved: dict[int, int] = {}

    def pack(tensor: Any) -> Any:
        pointer, size = storage(tensor)
        if pointer not in existing:
            saved[pointer] = size
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = trainer.forward()
    trainer.finish(loss)
    return sum(saved.values())


def _torch_tensors(trainer: Any) -> list[Any]:
    """Every torch tensor a torch trainer holds before forward: parameters and inputs."""
    import torch

    found = []
    for value in vars(trainer).values():
        if isinstance(value, dict):
            values = list(value.values())
        else:
            values = list(value) if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, torch.Tensor):
                found.append(item)
            elif isinstance(item, torch.nn.Module):
                found.extend(item.parameters())
    return found


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
    baseline process, and the bytes it retains per time step. The processes run two at a
    time after all timing is done."""
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
            entry: dict[str, Any] = {
                "rss_delta_mib": None,
                "tracemalloc_mib": None,
                "retained_per_step_kib": None,
            }
            if "error" in measured or "error" in baseline:
                entry["error"] = measured.get("error") or baseline.get("error")
            else:
                entry["rss_delta_mib"] = (measured["peak_rss_kib"] - baseline["peak_rss_kib"]) / 1024
                if measured["tracemalloc_bytes"] is not None:
                    entry["tracemalloc_mib"] = measured["tracemalloc_bytes"] / 2**20
                entry["retained_per_step_kib"] = measured["retained_bytes"] / config.seq_len / 1024
            results[config.name, dtype, impl.name] = entry
    return results


# --------------------------------------------------------------------------- report

NUMPY = "numpy_manual"
# Below this peak-RSS delta of the numpy run, RSS is too coarse (pages, allocator arenas) for a
# ratio; the memory goal is then judged on tracemalloc peaks, which see every numpy buffer.
MIN_RSS_FOR_RATIO_MIB = 2.0


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _ratio(value: float | None, reference: float | None) -> float | None:
    return None if value is None or not reference else value / reference


def peak_ratio(memory: dict[str, dict[str, Any]], name: str) -> tuple[float | None, str]:
    """Peak memory of ``name`` over the numpy run's, and which measure gave it ("RSS" or
    "tracemalloc", see MIN_RSS_FOR_RATIO_MIB)."""
    mine, numpy = memory.get(name, {}), memory.get(NUMPY, {})
    if (numpy.get("rss_delta_mib") or 0.0) >= MIN_RSS_FOR_RATIO_MIB:
        return _ratio(mine.get("rss_delta_mib"), numpy["rss_delta_mib"]), "RSS"
    return _ratio(mine.get("tracemalloc_mib"), numpy.get("tracemalloc_mib")), "tracemalloc"


def results_table(result: dict[str, Any]) -> str:
    timings, memory = result["timings"], result["memory"]
    ours = [name for name in timings if name.startswith("ours_")]
    numpy_memory = memory.get(NUMPY, {})
    header = ["implementation", "median ms/step", "IQR ms", "steps", "peak RSS Δ MiB", "tracemalloc peak MiB"]
    header += ["peak ÷ numpy", "retained KiB/step", "retained ÷ numpy"]
    header += [f"{name} ÷ this" for name in ours]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, timing in timings.items():
        mem = memory.get(name, {})
        ratio, measure = peak_ratio(memory, name)
        retained = _ratio(mem.get("retained_per_step_kib"), numpy_memory.get("retained_per_step_kib"))
        cells = [
            name,
            f"{timing['median_ms']:.3f}",
            f"{timing['q1_ms']:.3f}–{timing['q3_ms']:.3f}",
            str(timing["steps"]),
            mem.get("error", _fmt(mem.get("rss_delta_mib"), ".1f")),
            _fmt(mem.get("tracemalloc_mib"), ".2f"),
            _fmt(ratio, ".2f") + (" (tm)" if ratio is not None and measure == "tracemalloc" else ""),
            _fmt(mem.get("retained_per_step_kib"), ".1f"),
            _fmt(retained, ".2f"),
        ]
        cells += [f"{timings[o]['median_ms'] / timing['median_ms']:.2f}" for o in ours]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# The goals, as (column, numerator, denominator, bound by size). Time ratios are of
# median ms per step; memory ratios as in results_table.
TIME_GOALS = (
    ("ours_nn ÷ torch_nn", "ours_nn", REFERENCE, {"tiny": 1.0, "small": 1.0, "medium": 1.0}),
    ("ours_nn ÷ numpy", "ours_nn", NUMPY, {"tiny": 2.5, "small": 1.25, "medium": 1.25}),
    ("ours_cell ÷ torch_unrolled", "ours_cell", "torch_unrolled", {"tiny": 0.9, "small": 0.9, "medium": 0.9}),
)
MEMORY_BOUND = 1.2


def _judged(value: float | None, bound: float) -> tuple[str, bool | None]:
    if value is None:
        return "n/a", None
    met = value <= bound
    return f"{value:.2f} {'✓' if met else '✗'}", met


def goals_table(results: list[dict[str, Any]]) -> str:
    """One row per timed (config, dtype): each goal's ratio, ✓ when within its bound."""
    header = ["config", "dtype"] + [f"{column} (≤)" for column, *_ in TIME_GOALS]
    header += [f"peak ÷ numpy (≤ {MEMORY_BOUND})", f"retained/step ÷ numpy (≤ {MEMORY_BOUND})"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    tally: dict[str, list[bool]] = {column: [] for column in header[2:]}
    for result in results:
        if result.get("aborted"):
            continue
        timings, memory = result["timings"], result["memory"]
        size = result["config"].split("-", 1)[1]
        cells = [result["config"], result["dtype"]]
        judged = []
        for column, mine, theirs, bounds in TIME_GOALS:
            value = None
            if mine in timings and theirs in timings:
                value = timings[mine]["median_ms"] / timings[theirs]["median_ms"]
            text, met = _judged(value, bounds[size])
            judged.append(
                (f"{column} (≤)", f"{text} (≤ {bounds[size]:g})" if value is not None else text, met)
            )
        ratio, measure = peak_ratio(memory, "ours_nn")
        text, met = _judged(ratio, MEMORY_BOUND)
        judged.append(
            (header[-2], text + (" (tm)" if ratio is not None and measure == "tracemalloc" else ""), met)
        )
        retained = _ratio(
            memory.get("ours_nn", {}).get("retained_per_step_kib"),
            memory.get(NUMPY, {}).get("retained_per_step_kib"),
        )
        judged.append((header[-1], *_judged(retained, MEMORY_BOUND)))
        for column, text, met in judged:
            cells.append(text)
            if met is not None:
                tally[column].append(met)
        lines.append("| " + " | ".join(cells) + " |")
    counts = [f"{sum(v)}/{len(v)} met" if v else "–" for v in tally.values()]
    lines.append("| **met** | | " + " | ".join(counts) + " |")
    return "\n".join(lines)


def selected_configs(names: str, cells: str) -> list[Config]:
    """Configs named by size ("small", every selected cell) or in full ("lstm-small")."""
    by_name = {c.name: c for c in CONFIGS}
    wanted_cells = cells.split(",")
    unknown = [c for c in wanted_cells if c not in CELLS]
    unknown += [n for n in names.split(",") if n not in by_name and n not in SIZES]
    if unknown:
        choices = ", ".join([*CELLS, *SIZES, *by_name])
        raise SystemExit(f"unknown cell(s) or config(s) {', '.join(unknown)}; choose from {choices}")
    chosen = []
    for name in names.split(","):
        found = [by_name[name]] if name in by_name else [make_config(c, name) for c in wanted_cells]
        chosen += [c for c in found if c not in chosen]
    return chosen


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time one char-RNN training step per implementation.")
    parser.add_argument("--dtype", choices=("both", *DTYPES), default="both")
    parser.add_argument(
        "--configs",
        default=None,
        help="comma-separated sizes (default tiny,small,medium; --quick tiny) or names (gru-small)",
    )
    parser.add_argument("--cells", default=",".join(CELLS), help="comma-separated, for configs named by size")
    parser.add_argument("--repeat", type=int, default=None, help="interleaved rounds (default 20, --quick 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny only, 3 rounds, float32 only, memory for the first config only",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory processes")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="wall",
        help="wall time, or this thread's CPU time (needs OPENBLAS_NUM_THREADS=1; for a busy machine)",
    )
    parser.add_argument("--memory-steps", type=int, default=None, help="steps per memory process (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--report",
        type=Path,
        nargs="+",
        help="print the tables and the goals from the --json files of earlier runs (merged), run nothing",
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.configs = args.configs or ("tiny" if args.quick else ",".join(SIZES))
    args.repeat = args.repeat or (3 if args.quick else 20)
    args.memory_steps = args.memory_steps or (1 if args.quick else 3)
    return args


def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], bool]:
    """Check, time and measure every selected config; returns the results and whether all
    configs passed their correctness check."""
    warmup, round_seconds = (1, 0.002) if args.quick else (2, 0.02)
    all_ok, results, memory_jobs = True, [], []
    dtypes = DTYPES if args.dtype == "both" else (args.dtype,)
    for config in selected_configs(args.configs, args.cells):
        impls, notes = implementations(config.cell)
        print(f"\n## {config.describe()}\n")
        for note in notes:
            print(f"- {note}")
        ok, rows, broken = check_correctness(config, impls)
        for note in broken:
            print(f"- {note}")
        impls = [i for i in impls if i.name in {r["implementation"] for r in rows}]
        print(f"\nCorrectness, float64, one step, against {REFERENCE} (tolerance {TOLERANCE:g}):\n")
        print(correctness_table(rows))
        if not ok:
            print(f"\n**{config.name}: implementations disagree; not timed.**")
            all_ok = False
            results.append({"config": config.name, "correctness": rows, "aborted": True})
            continue
        for dtype in dtypes[:1] if args.quick else dtypes:
            problem = make_problem(config, dtype)
            trainers, notes = build_trainers(impls, problem)
            for note in notes:
                print(f"- {dtype}: {note}")
            pools = {i.name: thread_pool(i.library) for i in impls if i.name in trainers}
            started = time.perf_counter()
            samples = time_steps(trainers, pools, args.repeat, warmup, round_seconds, args.clock_function)
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
                measured = [i for i in impls if i.name in samples and i.name != "ours_compiled"]
                memory_jobs.append((config, dtype, measured, result))
            if any(i.name == "ours_compiled" for i in impls) and not check_replay(config, dtype):
                print(f"\n**{config.name} {dtype}: the replay differs from eager.**")
                all_ok = False
            seconds = time.perf_counter() - started
            print(f"\n{config.name} {dtype}: timed ({args.repeat} rounds, {seconds:.0f} s)")
    if memory_jobs:
        print(f"\nMeasuring peak memory ({len(memory_jobs)} config/dtype pairs, fresh processes) ...")
        memory = measure_memory([(c, d, i) for c, d, i, _ in memory_jobs], args.memory_steps)
        for config, dtype, impls, result in memory_jobs:
            result["memory"] = {i.name: memory[config.name, dtype, i.name] for i in impls}
    return results, all_ok


RESULTS_NOTE = (
    "peak RSS Δ: peak resident set (VmHWM) of a fresh process that builds the implementation "
    "and runs {steps} step(s), minus that of a process that stops before building it (both import "
    "the same libraries, build the same data and warm up on a miniature model). tracemalloc peak "
    "(numpy-based only): the most memory numpy and Python held at once from building the "
    "implementation through those steps. peak ÷ numpy: RSS deltas, or tracemalloc peaks (tm) when "
    f"numpy's RSS delta is under {MIN_RSS_FOR_RATIO_MIB:g} MiB. retained KiB/step: what one step "
    "keeps between forward and backward, over T (numpy: its caches; ours: tracemalloc; torch: the "
    "storages autograd saved). 'ours ÷ this' > 1 means ours is slower.\n"
)


def print_report(results: list[dict[str, Any]]) -> None:
    """Each timed config's table, then the goals."""
    for result in results:
        if result.get("aborted"):
            print(f"### {result['config']}: not timed (implementations disagree)\n")
            continue
        config = next(c for c in CONFIGS if c.name == result["config"])
        print(f"### {config.describe()}, {result['dtype']}\n")
        print(results_table(result))
        print()
    print("# Goals\n")
    print(goals_table(results))


def _loads(loads: list[float] | None) -> str:
    return "n/a" if loads is None else ", ".join(f"{x:.1f}" for x in loads)


def report_files(paths: list[Path]) -> int:
    """The report of earlier runs' --json files, merged in the order of CONFIGS."""
    results, machines = [], []
    for path in paths:
        payload = json.loads(path.read_text())
        results += payload["results"]
        machines.append(payload["machine"] | {"args": payload["args"]})
    order = {c.name: i for i, c in enumerate(CONFIGS)}
    results.sort(key=lambda r: (order[r["config"]], r.get("dtype", "")))
    for path, machine in zip(paths, machines):
        settings = machine["args"]
        print(
            f"- {path.name}: configs {settings['configs']} (cells {settings['cells']}), "
            f"{settings['repeat']} rounds, {settings.get('clock', 'wall')} clock; BLAS "
            f"{machine['blas']['threads']} thread(s), torch {machine['torch_threads']['threads']}; "
            f"load average before {_loads(machine.get('load_average_before'))}, "
            f"after {_loads(machine.get('load_average_after'))}"
        )
    print()
    print(RESULTS_NOTE.format(steps=machines[0]["args"]["memory_steps"]))
    print_report(results)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        return report_files(args.report)
    if args.memory_child:
        config = selected_configs(args.configs, args.cells)[0]
        print(json.dumps(memory_child(args.memory_child, config, args.dtype, args.memory_steps)))
        return 0

    import torch

    blas = blas_info()
    args.clock_function = step_clock(args.clock, blas["threads"])
    torch_threads = match_torch_threads(torch, blas["threads"])
    machine = machine_info() | {"torch": torch.__version__, "blas": blas, "torch_threads": torch_threads}
    print("# RNN / LSTM / GRU training-step benchmark\n")
    print(
        f"numpy {np.__version__}: BLAS {blas['library']} ({blas['core']}), {blas['threads']} threads "
        f"(from {blas['source']}); torch {torch.__version__}: {torch_threads['threads']} intra-op "
        f"threads (set to match), {torch_threads['interop_threads']} inter-op; "
        f"OPENBLAS_CORETYPE={machine['OPENBLAS_CORETYPE']}"
    )
    print(
        f"SGD lr={LEARNING_RATE}; {args.repeat} interleaved rounds; time per step ({args.clock} clock) "
        "is the median over all timed steps, IQR its interquartile range."
    )
    # Other processes' load is the usual reason two runs disagree: show it.
    machine["load_average_before"] = os.getloadavg()
    print(f"Load average (1, 5, 15 min) before: {_loads(machine['load_average_before'])}")
    started = time.perf_counter()
    results, all_ok = run(args)
    machine["load_average_after"] = os.getloadavg()

    print("\n# Results\n")
    print(RESULTS_NOTE.format(steps=args.memory_steps))
    print_report(results)
    after = _loads(machine["load_average_after"])
    print(f"\nTotal {time.perf_counter() - started:.0f} s; load average after: {after}.")
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k != "clock_function"} | {"json": str(args.json)}
        payload = {"machine": machine, "args": settings, "results": results}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
