"""The annotations of the op layer and the recurrent layers catch mistakes: mypy, run with the
project's configuration on a module that makes them, reports each one and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = """
from __future__ import annotations

import numpy as np

from tinygrad_rnn import nn
from tinygrad_rnn.engine import Grad, Op
from tinygrad_rnn.tensor import Tensor


class Scale(Op):
    def forward(ctx, x: np.ndarray, factor: float) -> np.ndarray:
        ctx.factor = factor
        return x * factor

    def backward(ctx, grad: Grad) -> tuple[Grad, None]:
        return grad * ctx.factr, None  # MISSPELLED


class Clip(Op):
    def forward(ctx, x: np.ndarray) -> np.ndarray:
        ctx.inside = np.abs(x) < 1
        return np.clip(x, -1, 1)

    def backward(ctx, grad: Grad) -> Grad:
        return np.where(ctx.inside, grad, 0)  # RAW_NUMPY: an array under create_graph


def run(x: Tensor, h: Tensor) -> Tensor:
    output, (h_n, c_n) = nn.LSTM(2, 3).forward(x)
    nn.LSTM(2, 3).forward(x, h)  # LSTM_HX: an LSTM's hx is (h, c)
    _, h_n = nn.GRU(2, 3).forward(x, h)
    return output + h_n.detach() + c_n
"""


def test_mypy_reports_a_misspelled_attribute_raw_numpy_in_backward_and_a_wrong_hx(tmp_path, monkeypatch):
    sample = tmp_path / "sample_ops.py"
    sample.write_text(SAMPLE)
    lines = SAMPLE.splitlines()
    line_of = {
        tag: lines.index(next(s for s in lines if tag in s)) + 1
        for tag in ("MISSPELLED", "RAW_NUMPY", "LSTM_HX")
    }
    monkeypatch.chdir(ROOT)  # this checkout's package, whatever is installed
    out, err, status = api.run(
        [str(sample), "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache")]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err
    assert len(errors) == 3, out
    assert f'sample_ops.py:{line_of["MISSPELLED"]}: error: "Scale" has no attribute "factr"' in out
    assert f"sample_ops.py:{line_of['RAW_NUMPY']}: error: Incompatible return value type" in out
    assert 'expected "Tensor"' in out
    assert f'sample_ops.py:{line_of["LSTM_HX"]}: error: No overload variant of "forward"' in out
