"""The benchmark harness runs end to end, its correctness gate compares every implementation
with torch, and its memory accounting counts what a step keeps (no timing is asserted)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks import bench_rnn
from benchmarks.problem import CELLS, Config, make_config, make_problem


@pytest.fixture
def torch_threads():
    """main() gives torch numpy's BLAS thread count; put the suite's setting back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("cell", CELLS)
def test_every_implementation_agrees_with_torch_nn(cell):
    config = Config(f"{cell}-test", cell, vocab=6, batch=3, seq_len=4, hidden=5)
    impls, notes = bench_rnn.implementations(cell)
    assert notes == []  # ours provides everything the benchmark calls
    ok, rows, broken = bench_rnn.check_correctness(config, impls)
    assert broken == []
    assert ok, bench_rnn.correctness_table(rows)
    assert {r["implementation"] for r in rows} == {i.name for i in impls}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_compiled_step_replays_and_equals_eager_bit_for_bit(cell, dtype, capsys):
    config = Config(f"{cell}-test", cell, vocab=6, batch=3, seq_len=4, hidden=5)
    assert bench_rnn.check_replay(config, dtype, steps=5)
    assert "3 replayed; losses, weights and gradients bit for bit equal: yes" in capsys.readouterr().out


def test_quick_run_reports_every_goal(torch_threads, capsys, tmp_path):
    saved = tmp_path / "run.json"
    argv = ["--quick", "--no-memory", "--configs", "gru-tiny", "--repeat", "1", "--json", str(saved)]
    assert bench_rnn.main(argv) == 0
    out = capsys.readouterr().out
    assert "### gru-tiny: GRU V=10 B=1 T=5 H=100, float32" in out
    goals = out.split("# Goals")[1]
    for column in ("ours_nn ÷ torch_nn", "ours_nn ÷ numpy", "ours_cell ÷ torch_unrolled", "peak ÷ numpy"):
        assert column in goals
    # --report prints the same tables from the saved file
    assert bench_rnn.main(["--report", str(saved)]) == 0
    reported = capsys.readouterr().out.split("### gru-tiny")[1]
    assert reported.strip() == out.split("### gru-tiny")[1].split("\nTotal")[0].strip()


def test_configs_by_size_and_by_name():
    chosen = bench_rnn.selected_configs("small,gru-tiny", "rnn,lstm")
    assert [c.name for c in chosen] == ["rnn-small", "lstm-small", "gru-tiny"]
    with pytest.raises(SystemExit, match="huge"):
        bench_rnn.selected_configs("huge", "rnn")


@pytest.mark.parametrize("cell", CELLS)
def test_numpy_retains_its_caches(cell):
    """The numpy figure is exactly the arrays forward leaves for backward."""
    config = make_config(cell, "tiny")
    problem = make_problem(config, "float64")
    trainer = bench_rnn.NumpyTrainer(problem)
    per_step = {"rnn": 1, "lstm": 4 + 1 + 1 + 1, "gru": 3 + 1 + 1}[cell]  # (B, H) blocks: gates, c, tanh c, h
    expected = config.seq_len * config.batch * (per_step * config.hidden + config.vocab) * 8
    assert bench_rnn.retained_bytes(trainer, "numpy") == expected


def test_ours_retained_bytes_include_the_saved_states():
    """Ours' figure covers at least the hidden states and the softmax a graph must keep."""
    config = make_config("rnn", "tiny")
    problem = make_problem(config, "float64")
    impl = next(i for i in bench_rnn.implementations("rnn")[0] if i.name == "ours_nn")
    trainer = impl.build(problem)
    trainer.step()
    floor = config.seq_len * config.batch * (config.hidden + config.vocab) * np.dtype("float64").itemsize
    assert bench_rnn.retained_bytes(trainer, "ours") >= floor


def test_torch_retained_bytes_leave_out_parameters():
    config = make_config("rnn", "tiny")
    problem = make_problem(config, "float64")
    impl = next(i for i in bench_rnn.implementations("rnn", with_ours=False)[0] if i.name == "torch_nn")
    trainer = impl.build(problem)
    retained = bench_rnn.retained_bytes(trainer, "torch")
    parameters = sum(w.nbytes for w in problem.weights.values())
    floor = config.seq_len * config.batch * config.hidden * 8
    assert floor <= retained < parameters
