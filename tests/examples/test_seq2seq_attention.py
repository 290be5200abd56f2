"""examples/seq2seq_attention.py: the data, a quick training run, its pictures and options."""

import sys

import numpy as np
import pytest

from ._load import assert_png, load_example

seq2seq = load_example("seq2seq_attention")


def test_batches_are_padded_strings_and_their_reversals():
    batch = seq2seq.make_batch(np.random.default_rng(0), 3, [3, 5, 4])
    assert batch.inputs.shape == (3, 5)
    assert batch.decoder_inputs.shape == batch.targets.shape == (3, 6)
    for row, length in enumerate((3, 5, 4)):
        digits = batch.inputs[row, :length]
        assert (batch.inputs[row, length:] == seq2seq.PAD).all()
        assert batch.lengths[row] == length
        assert batch.padding[row].tolist() == [False] * length + [True] * (5 - length)
        np.testing.assert_array_equal(batch.targets[row, :length], digits[::-1])
        assert batch.targets[row, length] == seq2seq.END
        assert (batch.targets[row, length + 1 :] == seq2seq.IGNORE).all()
        assert batch.decoder_inputs[row, 0] == seq2seq.START
        np.testing.assert_array_equal(batch.decoder_inputs[row, 1 : length + 1], digits[::-1])


def test_attention_ignores_padding():
    model = seq2seq.Seq2Seq(hidden_size=8)
    batch = seq2seq.make_batch(np.random.default_rng(1), 2, [3, 6])
    _, weights = model.greedy(batch, 4)
    assert weights.shape == (2, 4, 6)
    assert (weights[0, :, 3:] == 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)


def test_quick_run_learns_and_writes_its_pictures(tmp_path, capsys):
    result = seq2seq.main(["--quick", "--out", str(tmp_path)])
    assert len(result.losses) == 60
    assert np.mean(result.losses[-10:]) < 0.8 * np.mean(result.losses[:10]), (
        "training did not reduce the loss"
    )
    assert 0.0 <= result.sequence_accuracy <= result.token_accuracy <= 1.0
    printed = capsys.readouterr().out
    assert "reversed exactly" in printed
    names = [path.name for path in result.paths]
    assert "seq2seq_attention_weights.png" in names
    for path in result.paths:
        assert_png(path)
        assert f"wrote {path}" in printed


def test_graph_has_encoder_decoder_and_attention_clusters():
    from tinygrad_rnn import viz

    model = seq2seq.Seq2Seq(hidden_size=8)
    loss = seq2seq.loss_of(model, seq2seq.make_batch(np.random.default_rng(2), 2, [3, 2]))
    scopes = set(viz.build_graph(loss).clusters)
    assert ("encoder",) in {path[:1] for path in scopes}
    assert ("decoder", "t=0", "attention") in scopes
    assert ("decoder", "t=3", "attention") in scopes


def test_without_matplotlib_it_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    result = seq2seq.main(["--steps", "2", "--out", str(tmp_path)])
    assert 'pip install "tinygrad_rnn[examples]"' in capsys.readouterr().out
    assert "seq2seq_attention_weights.png" not in [path.name for path in result.paths]


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        seq2seq.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out
