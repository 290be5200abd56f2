"""Benchmarks of tinygrad_rnn against hand-written numpy and PyTorch.

Run them from the repository root as modules (``python -m benchmarks.bench_rnn``), so that
the ``tinygrad_rnn`` package of this checkout is the one measured. This file holds the
helpers both scripts share: how many threads each library uses, and whether the engine
provides the names a benchmark needs.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import platform
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# OpenBLAS exports its thread getter under a prefix and suffix that depend on the build
# (numpy's wheels use the "scipy_" prefix and the "64_" suffix of the ILP64 interface).
_OPENBLAS_THREAD_GETTERS = (
    "openblas_get_num_threads",
    "openblas_get_num_threads64_",
    "scipy_openblas_get_num_threads",
    "scipy_openblas_get_num_threads64_",
)
_OPENBLAS_CORENAME_GETTERS = (
    "openblas_get_corename",
    "openblas_get_corename64_",
    "scipy_openblas_get_corename",
    "scipy_openblas_get_corename64_",
)


def _loaded_openblas() -> ctypes.CDLL | None:
    """The OpenBLAS library numpy has loaded into this process, found in /proc/self/maps."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _call_first(library: ctypes.CDLL, names: tuple[str, ...], restype: Any) -> Any:
    for name in names:
        function = getattr(library, name, None)
        if function is not None:
            function.restype = restype
            return function()
    return None


def blas_info() -> dict[str, Any]:
    """Threads numpy's BLAS uses, and how that number was found.

    Asks OpenBLAS itself (threadpoolctl when installed, else the library's own getter
    through ctypes). Reads nothing from the environment and changes nothing.
    """
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        for pool in threadpoolctl.threadpool_info():
            if pool.get("user_api") == "blas":
                return {
                    "threads": int(pool["num_threads"]),
                    "library": f"{pool.get('internal_api')} {pool.get('version')}",
                    "core": pool.get("architecture"),
                    "source": "threadpoolctl",
                }
    library = _loaded_openblas()
    if library is not None:
        threads = _call_first(library, _OPENBLAS_THREAD_GETTERS, ctypes.c_int)
        if threads is not None:
            core = _call_first(library, _OPENBLAS_CORENAME_GETTERS, ctypes.c_char_p)
            return {
                "threads": int(threads),
                "library": "openblas",
                "core": core.decode() if core else None,
                "source": "openblas_get_num_threads",
            }
    return {
        "threads": os.cpu_count() or 1,
        "library": "unknown",
        "core": None,
        "source": "os.cpu_count (BLAS thread count could not be read)",
    }


def match_torch_threads(torch: Any, threads: int) -> dict[str, int]:
    """Give torch's intra-op pool the thread count numpy's BLAS uses, so that ratios
    compare libraries and not thread counts."""
    torch.set_num_threads(threads)
    return {"threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads()}


def machine_info() -> dict[str, Any]:
    """What a result depends on: versions, CPU count, BLAS build (environment left as is)."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


def peak_rss_kib() -> int:
    """This process's peak resident set size in KiB.

    Linux's VmHWM belongs to the current program image. ``ru_maxrss`` is not used where
    VmHWM exists: a child started by fork+exec inherits the parent's peak in it, so a child
    of a large benchmark process would report the parent's peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def missing_from_ours(names: tuple[str, ...]) -> list[str]:
    """The dotted names (``"nn.RNN"``, ``"Tensor.tanh"``) that ``tinygrad_rnn`` lacks.

    A name not found as an attribute is tried as a submodule, so ``nn.functional`` is found
    even when ``tinygrad_rnn.nn`` does not import it. If the package itself fails to import,
    every name is reported missing, with the reason.
    """
    try:
        root = importlib.import_module("tinygrad_rnn")
    except Exception as error:  # an engine in progress may fail in any way at import
        return [f"{name} (import tinygrad_rnn failed: {error!r})" for name in names]
    missing = []
    for name in names:
        target: Any = root
        module_path = "tinygrad_rnn"
        for part in name.split("."):
            module_path = f"{module_path}.{part}"
            if hasattr(target, part):
                target = getattr(target, part)
                continue
            try:
                target = importlib.import_module(module_path)
            except Exception:  # a missing or broken submodule: the name is unavailable
                missing.append(name)
                break
    return missing


CLOCKS = ("wall", "cpu")


def step_clock(name: str, blas_threads: int) -> Callable[[], float]:
    """The clock timings are read from: ``wall`` (``time.perf_counter``) or ``cpu``
    (``time.thread_time``, the CPU time of this thread).

    On a machine other processes keep busy, wall time measures the share of the CPU this
    process got as much as the code; the thread's CPU time does not. It sees only this
    thread's work, so it is refused unless numpy's BLAS runs on this one thread
    (``OPENBLAS_NUM_THREADS=1``); torch is then set to one thread as well
    (``match_torch_threads``)."""
    if name == "wall":
        return time.perf_counter
    if blas_threads != 1:
        raise SystemExit(
            f"--clock cpu times this thread only, but numpy's BLAS uses {blas_threads} threads; "
            "run with OPENBLAS_NUM_THREADS=1 (torch is then given one thread too)"
        )
    return time.thread_time
