"""compare_commits.py runs against a commit's package side by side with this checkout's, and
its interpreter-work count is exact (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import compare_commits

ROOT = Path(__file__).resolve().parents[2]


def test_interpreter_work_is_the_same_for_the_same_step():
    step = compare_commits.training_step("tinygrad_rnn", "LSTM", "tiny")
    tracing, profiling = sys.gettrace(), sys.getprofile()
    first, second = compare_commits.interpreter_work(step), compare_commits.interpreter_work(step)
    assert (sys.gettrace(), sys.getprofile()) == (tracing, profiling)  # coverage keeps measuring
    assert first == second
    instructions, python_calls, c_calls = first
    assert instructions > 10_000 and python_calls > 500 and c_calls > 500


def test_engine_chains_record_one_hundred_ops():
    chains = compare_commits.engine_chains("tinygrad_rnn")
    y = chains["tanh chain, forward"]()
    depth = 0
    op = y.op
    while op is not None:
        depth += 1
        source = op.inputs[0]
        op = source if not hasattr(source, "requires_grad") else None
    assert depth == 100


def test_a_run_against_head_prints_every_table(capsys):
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    args = ["--base", "HEAD", "--configs", "tiny", "--cells", "RNN", "--rounds", "1", "--seconds", "0.01"]
    assert compare_commits.main([*args, "--count", "--chains"]) == 0
    out = capsys.readouterr().out
    assert "| RNN | tiny |" in out
    assert "| tanh chain, forward and backward |" in out
    assert "bytecode instructions" in out
