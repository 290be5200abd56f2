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


def test_model_gives_torchs_loss_and_gradients():
    """The same model in torch, from the same weights, on the same packed batch (float64)."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    import tinygrad_rnn as tg

    tg.manual_seed(4)
    ours = seq2seq.Seq2Seq(hidden_size=8, embedding_size=6).double()
    torch_parts = torch.nn.ModuleDict(
        {
            "embedding": torch.nn.Embedding(seq2seq.VOCAB, 6),
            "encoder": torch.nn.GRU(6, 4, batch_first=True, bidirectional=True),
            "decoder": torch.nn.GRUCell(6 + 8, 8),
            "score": torch.nn.Linear(8, 8, bias=False),
            "head": torch.nn.Linear(16, seq2seq.VOCAB),
        }
    ).double()
    torch_parts.load_state_dict({name: torch.tensor(value) for name, value in ours.state_dict().items()})
    batch = seq2seq.make_batch(np.random.default_rng(5), 4, [3, 5, 4, 2])

    embedded = torch_parts["embedding"](torch.tensor(batch.inputs))
    packed = pack_padded_sequence(
        embedded, torch.tensor(batch.lengths), batch_first=True, enforce_sorted=False
    )
    outputs, h_n = torch_parts["encoder"](packed)
    encoded, _ = pad_packed_sequence(outputs, batch_first=True, total_length=batch.inputs.shape[1])
    hidden = torch.cat([h_n[0], h_n[1]], dim=1)
    context = torch.zeros(4, 8, dtype=torch.float64)
    steps = []
    for t in range(batch.decoder_inputs.shape[1]):
        token = torch_parts["embedding"](torch.tensor(batch.decoder_inputs[:, t]))
        hidden = torch_parts["decoder"](torch.cat([token, context], dim=1), hidden)
        scores = torch.einsum("bh,bsh->bs", torch_parts["score"](hidden), encoded)
        weights = scores.masked_fill(torch.tensor(batch.padding), float("-inf")).softmax(-1)
        context = torch.einsum("bs,bsh->bh", weights, encoded)
        steps.append(torch_parts["head"](torch.cat([hidden, context], dim=1)))
    logits = torch.stack(steps, dim=1)
    expected = torch.nn.functional.cross_entropy(
        logits.reshape(-1, seq2seq.VOCAB),
        torch.tensor(batch.targets.reshape(-1)),
        ignore_index=seq2seq.IGNORE,
    )
    expected.backward()

    loss = seq2seq.loss_of(ours, batch)
    loss.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-10)
    torch_grads = dict(torch_parts.named_parameters())
    for name, parameter in ours.named_parameters():
        np.testing.assert_allclose(
            parameter.grad.numpy(), torch_grads[name].grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name
        )
