"""Per-op overhead on small tensors: raw numpy, torch, and tinygrad_rnn when it is importable.

Run from the repository root (``python -m benchmarks.bench_ops`` works too)::

    python benchmarks/bench_ops.py            # about half a minute
    python benchmarks/bench_ops.py --quick    # a few seconds
    python benchmarks/bench_ops.py --json out.json

The tensors are tiny ((4, 8) and (8, 8)), so the numbers are dominated by what a library does
around the arithmetic: dispatch, type checks, allocating the result and, with
``requires_grad=True``, recording the graph. Each op is timed with ``timeit``; a repeat runs
the op enough times to last ``--target`` seconds, repeats of all ops and libraries are
interleaved, and the median over repeats is reported in µs per op.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

if not __package__:  # run as a file: measure this checkout's tinygrad_rnn, find the helpers
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import (  # noqa: E402
    CLOCKS,
    blas_info,
    machine_info,
    match_torch_threads,
    missing_from_ours,
    step_clock,
)

Ops = dict[str, Callable[[], Any]]

OPS = ("add", "mul", "matmul", "tanh", "getitem", "sum", "forward+backward")
# A chain of CHAIN tanh ops on x, y = tanh(tanh(...(x))), timed forward alone and forward +
# backward (to x): divided by CHAIN, the first is what recording one op costs, and their
# difference what the backward walk costs per op. Rows "chain ..." are per op.
CHAIN = 100
CHAIN_OPS = ("chain forward", "chain forward+backward")
DERIVED = "chain backward (difference)"
ROWS = OPS + CHAIN_OPS + (DERIVED,)
OURS_REQUIREMENTS = ("Tensor", "Tensor.tanh", "Tensor.sum", "Tensor.backward")
EXPRESSION = "((x @ w + b).tanh() * y).sum(), backward to x, w, b"


def make_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x": rng.standard_normal((4, 8)),
        "y": rng.standard_normal((4, 8)),
        "w": rng.standard_normal((8, 8)),
        "b": rng.standard_normal(8),
    }


def numpy_ops(arrays: dict[str, np.ndarray]) -> Ops:
    x, y, w, b = arrays["x"], arrays["y"], arrays["w"], arrays["b"]

    def forward_backward() -> tuple[np.ndarray, ...]:
        """The expression and its gradients written by hand: the floor for any engine."""
        out = np.tanh(x @ w + b)
        loss = (out * y).sum()
        grad_pre = y * (1.0 - out * out)
        return loss, grad_pre @ w.T, x.T @ grad_pre, grad_pre.sum(axis=0)

    def chain() -> list[np.ndarray]:
        outputs = [x]
        for _ in range(CHAIN):
            outputs.append(np.tanh(outputs[-1]))
        return outputs

    def chain_backward() -> np.ndarray:
        """The chain's gradient by hand, keeping what a graph would keep: every output."""
        outputs = chain()
        grad = np.ones_like(x)
        for out in reversed(outputs[1:]):
            grad = grad * (1.0 - out * out)
        return grad

    return {
        "add": lambda: x + y,
        "mul": lambda: x * y,
        "matmul": lambda: x @ w,
        "tanh": lambda: np.tanh(x),
        "getitem": lambda: x[1:3],
        "sum": lambda: x.sum(),
        "forward+backward": forward_backward,
        "chain forward": chain,
        "chain forward+backward": chain_backward,
    }


def tensor_ops(
    make: Callable[[np.ndarray, bool], Any], arrays: dict[str, np.ndarray], requires_grad: bool
) -> Ops:
    """The ops on a torch-like library's tensors; ``make(array, requires_grad)`` builds one.

    With ``requires_grad`` every op also records its node of the graph, as in training.
    The forward+backward row is timed only then (without grad there is nothing to
    differentiate). Gradients accumulate from call to call, as they would between two
    ``zero_grad`` calls; that keeps the timed statement the expression alone.
    """
    x, w, b = (make(arrays[name], requires_grad) for name in ("x", "w", "b"))
    y = make(arrays["y"], False)
    other = make(arrays["y"], requires_grad)
    ops = {
        "add": lambda: x + other,
        "mul": lambda: x * other,
        "matmul": lambda: x @ w,
        "tanh": lambda: x.tanh(),
        "getitem": lambda: x[1:3],
        "sum": lambda: x.sum(),
    }
    if requires_grad:
        ops["forward+backward"] = lambda: ((x @ w + b).tanh() * y).sum().backward()

        def chain() -> Any:
            out = x
            for _ in range(CHAIN):
                out = out.tanh()
            return out

        ops["chain forward"] = chain
        ops["chain forward+backward"] = lambda: chain().sum().backward()
    return ops


def torch_maker() -> Callable[[np.ndarray, bool], Any]:
    import torch

    return lambda array, requires_grad: torch.tensor(array, requires_grad=requires_grad)


def ours_maker() -> Callable[[np.ndarray, bool], Any]:
    import tinygrad_rnn

    return lambda array, requires_grad: tinygrad_rnn.Tensor(array, requires_grad=requires_grad)


def working_ops(ops: Ops) -> tuple[Ops, dict[str, str]]:
    """The ops that run once without error, and the error of each that does not (an engine
    in progress may lack an op; the others are still worth timing)."""
    working, failed = {}, {}
    for op, fn in ops.items():
        try:
            fn()
        except Exception as error:  # any failure of the engine under test drops just this op
            failed[op] = f"{type(error).__name__}: {error}"
        else:
            working[op] = fn
    return working, failed


def calibrate(fn: Callable[[], Any], target: float, clock: Callable[[], float]) -> int:
    """Loops per repeat so that one repeat lasts about ``target`` seconds."""
    timer = timeit.Timer(fn, timer=clock)
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= target / 10 or number >= 10**7:
            return max(1, int(number * target / max(elapsed, 1e-9)))
        number *= 10


def measure(
    columns: dict[str, Ops], repeats: int, target: float, clock: Callable[[], float] = time.perf_counter
) -> dict[str, dict[str, float]]:
    """Median µs per call of every (column, op), repeats interleaved in rotated order."""
    cases = [(column, op) for column, ops in columns.items() for op in ops]
    timers = {case: timeit.Timer(columns[case[0]][case[1]], timer=clock) for case in cases}
    numbers = {case: calibrate(columns[case[0]][case[1]], target, clock) for case in cases}
    samples: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
    for r in range(repeats):
        shift = r % len(cases)
        for case in cases[shift:] + cases[:shift]:
            samples[case].append(timers[case].timeit(numbers[case]) / numbers[case] * 1e6)
    result: dict[str, dict[str, float]] = {column: {} for column in columns}
    for (column, op), values in samples.items():
        result[column][op] = statistics.median(values) / (CHAIN if op in CHAIN_OPS else 1)
    for row in result.values():
        if all(op in row for op in CHAIN_OPS):
            row[DERIVED] = row[CHAIN_OPS[1]] - row[CHAIN_OPS[0]]
    return result


def table(result: dict[str, dict[str, float]], call_overhead: float) -> str:
    columns = list(result)
    pairs = (("ours", "torch"), ("ours (grad)", "torch (grad)"), ("ours (grad)", "numpy"))
    ratios = [(a, b) for a, b in pairs if a in result]
    header = ["op"] + [f"{c} µs" for c in columns] + [f"{a} ÷ {b}" for a, b in ratios]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for op in ROWS:
        cells = [op] + [f"{result[c][op]:.2f}" if op in result[c] else "–" for c in columns]
        for a, b in ratios:
            both = op in result[a] and op in result[b]
            cells.append(f"{result[a][op] / result[b][op]:.1f}" if both else "–")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"\nAn empty Python call costs {call_overhead:.3f} µs here; it is included in every number.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Per-op overhead on small tensors.")
    parser.add_argument("--repeat", type=int, help="interleaved repeats (default 15, --quick 3)")
    parser.add_argument("--target", type=float, help="seconds per repeat (default 0.05, --quick 0.005)")
    parser.add_argument("--quick", action="store_true", help="a few seconds in all, for CI")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="wall",
        help="wall time, or this thread's CPU time (needs OPENBLAS_NUM_THREADS=1; for a busy machine)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeat or (3 if args.quick else 15)
    target = args.target or (0.005 if args.quick else 0.05)

    import torch

    blas = blas_info()
    clock = step_clock(args.clock, blas["threads"])
    torch_threads = match_torch_threads(torch, blas["threads"])
    arrays = make_arrays()
    columns = {
        "numpy": numpy_ops(arrays),
        "torch": tensor_ops(torch_maker(), arrays, requires_grad=False),
        "torch (grad)": tensor_ops(torch_maker(), arrays, requires_grad=True),
    }
    notes = [f"ours skipped: tinygrad_rnn lacks {name}" for name in missing_from_ours(OURS_REQUIREMENTS)]
    if not notes:
        for column, requires_grad in (("ours", False), ("ours (grad)", True)):
            columns[column], failed = working_ops(tensor_ops(ours_maker(), arrays, requires_grad))
            notes += [f"{column} {op} skipped: {error}" for op, error in failed.items()]

    print("# Per-op overhead, float64, x (4, 8), w (8, 8), b (8,)\n")
    print(
        f"numpy {np.__version__} ({blas['threads']} BLAS threads), torch {torch.__version__} "
        f"({torch_threads['threads']} threads); {args.clock} clock; {repeats} interleaved repeats of "
        f"about {target} s; "
        "median µs per op. getitem is x[1:3]; add and mul are (4, 8) with (4, 8); "
        f"forward+backward is {EXPRESSION}. '(grad)': inputs require grad, so the graph is "
        f"recorded. 'chain' rows are per op of a chain of {CHAIN} tanh ops: forward alone (with "
        "grad: recording), forward and backward (numpy: the backward by hand, every output kept), "
        "and their difference, the backward walk's cost per op (the sum over outputs and the seed "
        "spread over the chain: under 0.1 µs).\n"
    )
    for note in notes:
        print(f"- {note}")
    call_overhead = measure({"empty": {"call": lambda: None}}, repeats, target, clock)["empty"]["call"]
    result = measure(columns, repeats, target, clock)
    print(table(result, call_overhead))
    if args.json:
        machine = machine_info() | {"torch": torch.__version__, "blas": blas, "torch_threads": torch_threads}
        payload = {"machine": machine, "repeats": repeats, "target_s": target}
        payload |= {"call_overhead_us": call_overhead, "us_per_op": result}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
