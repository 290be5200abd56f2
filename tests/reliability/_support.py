"""Shared pieces of the reliability suite: a known-good checkpoint, the folder listing that
shows leftovers, and running a snippet in a fresh interpreter (for resource limits and
signals, which must not touch the test process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def good_state() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "rnn.weight_ih_l0": rng.standard_normal((8, 3)),
        "rnn.weight_hh_l0": rng.standard_normal((8, 8)).astype(np.float32),
        "head.bias": np.arange(4, dtype=np.float64),
        "step": np.array(7, dtype=np.int64),
    }


def other_state() -> dict[str, np.ndarray]:
    """A different state of a few megabytes, so writing it takes several chunks."""
    return {f"layer{i}.weight": np.full((256, 512), float(i)) for i in range(4)}


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter that imports this checkout of tinygrad_rnn."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
