"""Time one training step of the working tree's tinygrad_rnn against another commit's, in
one process, interleaved: the way to see what a change to the engine costs.

    python benchmarks/compare_commits.py --base 286b993
    OPENBLAS_NUM_THREADS=1 python benchmarks/compare_commits.py --base HEAD~5 --configs tiny

The other commit's package is extracted with ``git archive`` into a temporary folder under
another name (the package imports itself relatively, so it runs side by side with this one).
Each round times every (config, version) pair for a fixed slice of CPU time, alternating;
the medians over rounds are compared. Nothing is asserted: a benchmark, not a test.

``--chains`` times the engine alone the same way: per op of a chain of 100 ``tanh`` (recording
only, and recording plus the backward walk) and of 25 ``((y @ w) * y + y).tanh()`` steps with
backward, on (4, 8) float64 tensors, where the arithmetic is negligible.

``--count`` adds what does not depend on the machine's load: the Python bytecode
instructions, Python function calls and C function calls (numpy's included) of one
training step, counted with ``sys.settrace``/``sys.setprofile``. It shows where the
interpreter's work went up or down; the time inside numpy calls is not in it.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"tiny": (10, 1, 5, 100), "small": (65, 32, 50, 128)}  # V, B, T, H


def extract(rev: str, into: Path, name: str) -> None:
    """The package as it was at ``rev``, importable as ``name`` from ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "tinygrad_rnn"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "tinygrad_rnn").rename(into / name)


def training_step(package: str, cell: str, size: str) -> Callable[[], None]:
    """One step of ``cell`` on one-hot characters: forward, cross-entropy, backward, SGD."""
    tg: Any = importlib.import_module(package)
    nn: Any = importlib.import_module(package + ".nn")
    functional: Any = importlib.import_module(package + ".nn.functional")
    optim: Any = importlib.import_module(package + ".optim")
    vocab, batch, steps, hidden = SIZES[size]
    tg.manual_seed(0)
    rnn, head = getattr(nn, cell)(vocab, hidden), nn.Linear(hidden, vocab)
    optimizer = optim.SGD(list(rnn.parameters()) + list(head.parameters()), lr=0.1)
    rng = np.random.default_rng(0)
    x = tg.Tensor(np.eye(vocab, dtype=np.float32)[rng.integers(0, vocab, (steps, batch))])
    y = rng.integers(0, vocab, (steps * batch,))

    def step() -> None:
        out, _ = rnn(x)
        loss = functional.cross_entropy(head(out.reshape(steps * batch, hidden)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def interleaved(runs: dict[str, Callable[[], Any]], rounds: int, seconds: float) -> list[float]:
    """Median CPU seconds per call of each of ``runs``: every round calls each for ``seconds``
    of CPU time in turn (after one warm-up call), so load changes hit all of them alike."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            run()
            start, count = time.process_time(), 0
            while time.process_time() - start < seconds:
                run()
                count += 1
            samples[name].append((time.process_time() - start) / count)
    return [float(np.median(samples[name])) for name in runs]


def engine_chains(package: str) -> dict[str, Callable[[], None]]:
    """Graphs whose cost is the engine's: per op, recording and the backward walk."""
    tg: Any = importlib.import_module(package)
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((4, 8)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((8, 8)) * 0.3, requires_grad=True)

    def tanh_chain() -> Any:
        y = x
        for _ in range(100):
            y = y.tanh()
        return y

    def mixed() -> None:
        y = x
        for _ in range(25):  # 4 ops per round: 100 ops
            y = ((y @ w) * y + y).tanh()
        y.sum().backward()

    return {
        "tanh chain, forward": tanh_chain,
        "tanh chain, forward and backward": lambda: tanh_chain().sum().backward(),
        "matmul, mul, add, tanh, forward and backward": mixed,
    }


def interpreter_work(step: Callable[[], None]) -> tuple[int, int, int]:
    """(bytecode instructions, Python calls, C calls) of one call of ``step``."""
    step()  # warm: first-call imports and caches are not part of a step
    counts = [0, 0, 0]

    def trace(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            counts[0] += 1
        return trace

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            counts[1] += 1
        elif event == "c_call":
            counts[2] += 1

    tracing, profiling = sys.gettrace(), sys.getprofile()  # a coverage run's tracer goes back after
    sys.setprofile(profile)
    sys.settrace(trace)
    try:
        step()
    finally:
        sys.settrace(tracing)
        sys.setprofile(profiling)
    return counts[0], counts[1], counts[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the commit to compare with (any git revision)")
    parser.add_argument("--configs", default="tiny,small", help="sizes: tiny, small (default both)")
    parser.add_argument("--cells", default="RNN,LSTM,GRU")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.15, help="CPU seconds per pair per round")
    parser.add_argument("--count", action="store_true", help="also count the interpreter's work per step")
    parser.add_argument("--chains", action="store_true", help="also time the engine alone on chains of ops")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        extract(args.base, Path(folder), "tinygrad_rnn_base")
        sys.path.insert(0, folder)
        sys.path.insert(0, str(ROOT))
        print(f"one training step, CPU ms (median of {args.rounds} rounds); base = {args.base}\n")
        print("| cell | size | base | working tree | working tree ÷ base |\n|---|---|---|---|---|")
        counted: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
        for cell in args.cells.split(","):
            for size in args.configs.split(","):
                steps = {p: training_step(p, cell, size) for p in ("tinygrad_rnn_base", "tinygrad_rnn")}
                base, new = (t * 1e3 for t in interleaved(steps, args.rounds, args.seconds))
                print(f"| {cell} | {size} | {base:.3f} | {new:.3f} | {new / base:.2f} |")
                if args.count:
                    counted[cell, size] = [interpreter_work(step) for step in steps.values()]
        if args.chains:
            print(f"\nµs per op of 100-op graphs, CPU time (median of {args.rounds} rounds)\n")
            print("| graph | base | working tree | working tree ÷ base |\n|---|---|---|---|")
            chains = {p: engine_chains(p) for p in ("tinygrad_rnn_base", "tinygrad_rnn")}
            for name in chains["tinygrad_rnn"]:
                runs = {p: chains[p][name] for p in chains}
                base, new = (t / 100 * 1e6 for t in interleaved(runs, args.rounds, args.seconds))
                print(f"| {name} | {base:.2f} | {new:.2f} | {new / base:.2f} |")
        if args.count:
            print("\none training step, interpreter work: base → working tree (÷)\n")
            print("| cell | size | bytecode instructions | Python calls | C calls |\n|---|---|---|---|---|")
            for (cell, size), (old, new_) in counted.items():
                cells = " | ".join(f"{a:,} → {b:,} ({b / a:.2f})" for a, b in zip(old, new_))
                print(f"| {cell} | {size} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
