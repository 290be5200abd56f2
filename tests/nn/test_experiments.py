"""The homework's two experiments, end to end with the library's layers, losses and
optimizers: a character model that learns two sentences, and a sine predictor trained with
truncated BPTT that follows torch step for step."""

from __future__ import annotations

import numpy as np
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias

SENTENCES = ("你好李焕英", "夏洛特烦恼")


def char_data() -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Vocabulary (the 10 characters), one-hot inputs (T=5, B=2, 10) with one sentence per
    batch column, and next-character targets (5, 2); the last character of a sentence
    predicts its first."""
    vocab = tuple(dict.fromkeys("".join(SENTENCES)))
    ids = np.array([[vocab.index(c) for c in sentence] for sentence in SENTENCES]).T  # (T, B)
    inputs = np.eye(len(vocab), dtype=np.float32)[ids]
    return vocab, inputs, np.roll(ids, -1, axis=0)


class CharModel(nn.Module):
    """nn.RNN(tanh) over the one-hot characters, a Linear head to one logit per character."""

    def __init__(self, vocab_size: int, hidden_size: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(vocab_size, hidden_size, nonlinearity="tanh")
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        output, _ = self.rnn(x)  # (T, B, H)
        return self.head(output)  # (T, B, vocab)


def test_char_model_learns_every_next_character():
    vocab, inputs, targets = char_data()
    assert len(vocab) == 10 and inputs.shape == (5, 2, 10)
    tg.manual_seed(0)
    model = CharModel(len(vocab), 16)
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    x = tg.Tensor(inputs)
    flat_targets = targets.reshape(-1)
    losses = []
    for _ in range(300):
        logits = model(x).reshape(-1, len(vocab))  # (T*B, vocab)
        loss = F.cross_entropy(logits, flat_targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with tg.no_grad():
        predicted = model(x).argmax(-1).numpy()
    wrong = [
        f"{vocab[int(i)]}->{vocab[int(p)]} (want {vocab[int(t)]})"
        for i, p, t in zip(inputs.argmax(-1).ravel(), predicted.ravel(), targets.ravel())
        if p != t
    ]
    assert not wrong, f"mispredicted: {wrong}; loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    assert losses[-1] < 0.1 * losses[0]


# --------------------------------------------------------------------------- sine, vs torch

CHUNK, STEPS = 20, 30


def sine_chunk(k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k-th half-period of sin, [k*pi, (k+1)*pi], as 21 points: inputs are the first 20,
    targets the next point of each, both (20, 1, 1) (time, batch, feature)."""
    points = np.sin(np.linspace(k * np.pi, (k + 1) * np.pi, CHUNK + 1))
    return points[:-1].reshape(CHUNK, 1, 1), points[1:].reshape(CHUNK, 1, 1)


class SineModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(1, 32)
        self.head = nn.Linear(32, 1)

    def forward(self, x: tg.Tensor, hidden: tg.Tensor | None) -> tuple[tg.Tensor, tg.Tensor]:
        output, hidden = self.rnn(x, hidden)
        return self.head(output), hidden


class TorchSineModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = torch.nn.RNN(1, 32)
        self.head = torch.nn.Linear(32, 1)

    def forward(self, x, hidden):
        output, hidden = self.rnn(x, hidden)
        return self.head(output), hidden


def test_sine_model_with_truncated_bptt_follows_torch_step_for_step():
    """Same initial weights (ours, copied into torch), float64, Adam(lr=0.01), one chunk
    per step with the hidden state carried and detached: equal losses at every step and
    equal weights at the end."""
    tg.manual_seed(0)
    ours = SineModel().double()
    theirs = TorchSineModel().double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    opt_ours = optim.Adam(ours.parameters(), lr=0.01)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=0.01)

    hidden_ours = hidden_theirs = None
    losses_ours, losses_theirs = [], []
    for step in range(STEPS):
        x, y = sine_chunk(step)
        prediction, hidden_ours = ours(tg.Tensor(x), hidden_ours)
        loss = F.mse_loss(prediction, tg.Tensor(y))
        opt_ours.zero_grad()
        loss.backward()
        opt_ours.step()
        hidden_ours = hidden_ours.detach()
        losses_ours.append(loss.item())

        prediction_t, hidden_theirs = theirs(torch.tensor(x), hidden_theirs)
        loss_t = torch.nn.functional.mse_loss(prediction_t, torch.tensor(y))
        opt_theirs.zero_grad()
        loss_t.backward()
        opt_theirs.step()
        hidden_theirs = hidden_theirs.detach()
        losses_theirs.append(loss_t.item())

    np.testing.assert_allclose(losses_ours, losses_theirs, rtol=1e-8)
    final_theirs = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value, final_theirs[name].numpy(), rtol=1e-8, atol=1e-12, err_msg=name)
    assert np.mean(losses_ours[-5:]) < 0.2 * np.mean(losses_ours[:5]), "training did not reduce the loss"
