"""Where one training step of ours spends its time: op bodies (the numpy work) against the
engine around them (recording the graph, the backward walk), and a cProfile listing.

Run from the repository root (``python -m benchmarks.profile_step`` works too)::

    python benchmarks/profile_step.py                          # lstm-small, float32, ours_nn
    python benchmarks/profile_step.py --config rnn-tiny --dtype float64 --impl ours_cell

Three measurements of the same trainer as ``bench_rnn.py``'s:

1. Plain timing of forward (zero_grad through the loss: every op records its node) and of
   the rest (backward walk and SGD), median over ``--steps`` steps, no instrumentation.
2. The ops one step records, by name, from the graph of the loss.
3. The same steps with every op's ``forward`` and ``backward`` wrapped in a timer: the time
   inside op bodies (numpy calls and the few Python lines around them). What is left of the
   phase's plain time is the engine's own cost: ``Op.apply``, Tensor creation, the
   topological sort, gradient bookkeeping, plus the timers' own ~0.1 µs per call. That
   difference, divided by the op count, is the per-op record and walk cost; a replay of the
   recorded numpy calls could save at most that.
4. cProfile of the same steps, top functions by own time (profiling inflates Python-level
   costs, and cProfile's clock is wall time whatever ``--clock`` says; read it for the
   ranking, not the absolute numbers).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import pstats
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: measure this checkout's tinygrad_rnn, find the helpers
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import CLOCKS, blas_info, step_clock  # noqa: E402
from benchmarks.bench_rnn import CONFIGS, HandCellTrainer, ModuleTrainer, ours_library  # noqa: E402
from benchmarks.problem import make_problem  # noqa: E402


def subclasses(root: type) -> list[type]:
    """Every subclass of ``root`` imported so far."""
    found, todo = [], [root]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


@contextmanager
def timed_op_bodies(totals: dict[str, float], clock: Callable[[], float]) -> Iterator[None]:
    """Wrap every op's forward and backward so that ``totals["forward"]`` and
    ``totals["backward"]`` accumulate the seconds spent inside them; the deferred gradient
    work of lazy gradients (``dense``, ``add_to``: the weight gradients' products) counts
    as backward. Only the outermost body counts: a backward that calls another op's
    forward (``dual``) is timed once."""
    from tinygrad_rnn.engine import LazyGrad, Op

    depth = [0]
    originals = []
    # one reading of the clock falls inside each timed window: take it out
    overhead = statistics.median(-clock() + clock() for _ in range(1001))

    def wrap(function: Any, kind: str) -> Any:
        def timed(*args: Any) -> Any:
            if depth[0]:
                return function(*args)
            depth[0] = 1
            start = clock()
            try:
                return function(*args)
            finally:
                totals[kind] += clock() - start - overhead
                depth[0] = 0

        return timed

    for cls in subclasses(Op):
        for kind in ("forward", "backward"):
            if kind in cls.__dict__:
                originals.append((cls, kind, cls.__dict__[kind]))
                setattr(cls, kind, staticmethod(wrap(getattr(cls, kind), kind)))
    for cls in [LazyGrad, *subclasses(LazyGrad)]:
        for method in ("dense", "add_to"):
            if method in cls.__dict__:
                originals.append((cls, method, cls.__dict__[method]))
                setattr(cls, method, wrap(cls.__dict__[method], "backward"))
    try:
        yield
    finally:
        for cls, kind, original in reversed(originals):
            setattr(cls, kind, original)


PHASES = ("forward", "backward", "sgd")


def phase_times(
    trainer: Any, steps: int, clock: Callable[[], float], bodies: dict[str, float] | None = None
) -> dict[str, list[float]]:
    """Seconds of each phase of each of ``steps`` steps: forward (zero_grad to the loss),
    backward (the walk), sgd (the optimizer's step). With ``bodies`` (see timed_op_bodies),
    also "forward bodies" and "backward bodies": the time inside op bodies, per step."""
    times: dict[str, list[float]] = {name: [] for name in (*PHASES, "forward bodies", "backward bodies")}
    for _ in range(steps):
        if bodies is not None:
            bodies["forward"] = bodies["backward"] = 0.0
        start = clock()
        loss = trainer.forward()
        after_forward = clock()
        loss.backward()
        after_backward = clock()
        trainer.optimizer.step()
        end = clock()
        times["forward"].append(after_forward - start)
        times["backward"].append(after_backward - after_forward)
        times["sgd"].append(end - after_backward)
        if bodies is not None:
            times["forward bodies"].append(bodies["forward"])
            times["backward bodies"].append(bodies["backward"])
    return times


def graph_census(trainer: Any) -> tuple[collections.Counter[str], dict[str, int], int]:
    """For one step's graph: the ops by name; the bytes of the arrays they saved for
    backward, by op name (each memory block once, charged to the first op that holds it,
    a view counted as its whole base array); and what tracemalloc sees allocated during
    forward and alive with the loss in hand (arrays and the graph's Python objects).
    Parameters and inputs, alive before forward, are left out of both."""
    import gc
    import tracemalloc

    import numpy as np

    from tinygrad_rnn import Tensor
    from tinygrad_rnn.engine import topological_order

    gc.collect()
    tracemalloc.start()
    loss = trainer.forward()
    retained = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    ops = topological_order([loss._op])
    counts = collections.Counter(op.name for op in ops)
    saved: dict[str, int] = collections.defaultdict(int)

    def base_of(array: np.ndarray) -> Any:
        return array if array.base is None else array.base

    # parameters and inputs exist before forward: what the graph holds of them is not retained
    seen = {id(base_of(t._data)) for op in ops for t in op.inputs if isinstance(t, Tensor)}
    for op in ops:
        for value in (*op.saved, *vars(op).values()):
            if isinstance(value, np.ndarray) and value.size:
                base = base_of(value)
                if isinstance(base, np.ndarray) and id(base) not in seen:
                    seen.add(id(base))
                    saved[op.name] += base.nbytes
    trainer.finish(loss)
    return counts, dict(saved), retained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Profile one training step of ours.")
    parser.add_argument("--config", default="lstm-small", choices=[c.name for c in CONFIGS])
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--impl", default="ours_nn", choices=("ours_nn", "ours_cell"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--top", type=int, default=15, help="functions listed from cProfile")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="wall",
        help="wall time, or this thread's CPU time (needs OPENBLAS_NUM_THREADS=1; for a busy machine)",
    )
    args = parser.parse_args(argv)
    clock = step_clock(args.clock, blas_info()["threads"])

    config = next(c for c in CONFIGS if c.name == args.config)
    problem = make_problem(config, args.dtype)
    trainer_class = ModuleTrainer if args.impl == "ours_nn" else HandCellTrainer
    trainer = trainer_class(problem, ours_library())
    for _ in range(3):
        trainer.step()

    counts, saved, retained = graph_census(trainer)
    n_ops = sum(counts.values())
    plain = phase_times(trainer, args.steps, clock)
    totals = {"forward": 0.0, "backward": 0.0}
    with timed_op_bodies(totals, clock):
        instrumented = phase_times(trainer, args.steps, clock, totals)

    def ms(samples: list[float]) -> float:  # median, per step
        return statistics.median(samples) * 1e3

    print(f"# {args.impl}, {config.describe()}, {args.dtype}, {args.clock} clock\n")
    print(f"{n_ops} ops per step ({n_ops / config.seq_len:.1f} per time step): ", end="")
    print(", ".join(f"{name} {count}" for name, count in counts.most_common()))
    print(
        "\nMedians over steps. engine = plain − in op bodies (the timers' own cost falls outside "
        "the bodies, so it inflates the instrumented column, not this one).\n"
    )
    print("| phase | plain ms/step | instrumented ms/step | in op bodies ms | engine ms | engine µs/op |")
    print("|---|---|---|---|---|---|")
    for kind, label in (("forward", "forward (record)"), ("backward", "backward walk")):
        body = ms(instrumented[f"{kind} bodies"])
        engine = ms(plain[kind]) - body
        print(
            f"| {label} | {ms(plain[kind]):.3f} | {ms(instrumented[kind]):.3f} | {body:.3f} | "
            f"{engine:.3f} | {engine / n_ops * 1e3:.2f} |"
        )
    print(f"| SGD | {ms(plain['sgd']):.3f} | | | | |")
    total = sum(ms(plain[kind]) for kind in PHASES)
    body = ms(instrumented["forward bodies"]) + ms(instrumented["backward bodies"])
    print(f"\nWhole step {total:.3f} ms; in op bodies {body:.3f} ms ({body / total:.0%}).")

    def kib(size: float) -> str:  # per time step
        return f"{size / config.seq_len / 1024:.1f}"

    by_op = ", ".join(f"{name} {kib(size)}" for name, size in sorted(saved.items(), key=lambda i: -i[1]))
    rest = retained - sum(saved.values())
    print(
        f"\nRetained between forward and backward (KiB per time step): {kib(retained)} in all "
        f"(tracemalloc); saved arrays {kib(sum(saved.values()))}, by op: {by_op}; the rest, "
        f"{kib(rest)}, is the graph's Python objects and arrays no op saved."
    )

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.steps):
        trainer.step()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.top)
    print(f"\n## cProfile, {args.steps} steps, top {args.top} by own time\n")
    print("```")
    lines = text.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print("\n".join(line.replace(str(Path.cwd()) + "/", "") for line in lines[start:] if line.strip()))
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
