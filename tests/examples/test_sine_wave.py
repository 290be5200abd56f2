"""examples/sine_wave.py: truncated BPTT on a sine wave, and the same run in torch."""

import sys

import numpy as np
import pytest

from ._load import assert_png, load_example

sine_wave = load_example("sine_wave")
PICTURES = ("sine_wave_predictions.png", "sine_wave_loss.png")


def test_chunks_are_consecutive_half_periods():
    times, x, y = sine_wave.sine_chunk(3)
    assert x.shape == y.shape == (20, 1, 1)
    np.testing.assert_allclose(times[[0, -1]], [3, 4])
    np.testing.assert_allclose(x[1:], y[:-1])  # each target is the next input
    _, next_x, _ = sine_wave.sine_chunk(4)
    np.testing.assert_allclose(next_x[0, 0, 0], y[-1, 0, 0], atol=1e-12)  # the signal continues


@pytest.mark.slow
def test_quick_run_follows_torch_loss_for_loss(tmp_path, capsys):
    pytest.importorskip("torch")
    result = sine_wave.main(["--quick", "--compare-torch", "--out", str(tmp_path)])
    assert len(result.losses) == len(result.torch_losses) == 60
    np.testing.assert_allclose(result.losses, result.torch_losses, rtol=1e-8)
    assert np.mean(result.losses[-5:]) < 0.05 * np.mean(result.losses[:5]), "training did not reduce the loss"
    printed = capsys.readouterr().out
    assert "max relative difference of the 60 losses" in printed
    assert [p.name for p in result.paths] == list(PICTURES)
    for path in result.paths:
        assert_png(path)
        assert f"wrote {path}" in printed


def test_snapshots_show_training_from_first_to_last_step(tmp_path):
    result = sine_wave.main(["--steps", "12", "--out", str(tmp_path)])
    steps = [snap.step for snap in result.snapshots]
    assert steps[0] == 0 and steps[-1] == 11 and steps == sorted(set(steps))
    for snap in result.snapshots:
        assert snap.prediction.shape == (20,)
        assert snap.loss == pytest.approx(result.losses[snap.step])


def test_compare_torch_without_torch_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    result = sine_wave.main(["--steps", "3", "--compare-torch", "--out", str(tmp_path)])
    assert result.torch_losses is None
    assert "torch is not installed" in capsys.readouterr().out
    for name in PICTURES:
        assert_png(tmp_path / name)


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        sine_wave.main(["--help"])
    assert exit_info.value.code == 0
    assert "--compare-torch" in capsys.readouterr().out
