"""Rendering time of the pictures the docs show, with each installed renderer.

Run from the repository root (``python -m benchmarks.bench_viz`` works too)::

    python benchmarks/bench_viz.py            # a few seconds per renderer
    python benchmarks/bench_viz.py --json out.json

For each picture (a 5-step RNN, a 30-step GRU and LSTM, a 100-step two-layer LSTM, each with
gradients, folded as by default; and the 30-step LSTM drawn in full), the time from the loss to
the written PNG, the median of ``--repeat`` runs, and the PNG's size. Nothing is asserted: the
tests check what the pictures show, this script how long they take.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run as a file: measure this checkout's tinygrad_rnn
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinygrad_rnn import viz  # noqa: E402
from tinygrad_rnn.cli import unrolled_loss  # noqa: E402

CASES = (  # (name, cell, steps, layers, fold)
    ("rnn 5 steps", "rnn", 5, 1, True),
    ("gru 30 steps", "gru", 30, 1, True),
    ("lstm 30 steps", "lstm", 30, 1, True),
    ("lstm 30 steps, full", "lstm", 30, 1, False),
    ("lstm 100 steps, 2 layers", "lstm", 100, 2, True),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per picture (median reported)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    backends = ["graphviz-pure"] + (["dot"] if shutil.which("dot") else [])
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for backend in backends:
            for name, cell, steps, layers, fold in CASES:
                seconds = []
                for _ in range(args.repeat):
                    model, loss = unrolled_loss(cell, steps, layers)
                    start = time.perf_counter()
                    path = viz.render(
                        loss,
                        path=Path(folder) / "p.png",
                        model=model,
                        show_grad=True,
                        fold=fold,
                        backend=backend,
                    )
                    seconds.append(time.perf_counter() - start)
                width, height = struct.unpack(">II", path.read_bytes()[16:24])
                row = {"backend": backend, "picture": name, "seconds": statistics.median(seconds),
                       "width": width, "height": height}  # fmt: skip
                results.append(row)
                print(f"{backend:14} {name:26} {row['seconds']:6.2f} s  {width} x {height} px", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
