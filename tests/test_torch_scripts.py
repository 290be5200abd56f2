"""Training scripts written the way torch tutorials write them, run twice: once with torch,
once with ``tinygrad_rnn`` in its place (the module is the script's ``torch`` parameter, so
nothing else changes). Both start from the same weights, in float64, and must agree step by
step: loss, predictions and, at the end, every parameter.

The idioms are the ones such scripts rely on: ``hidden = hidden.data`` to cut the graph,
``prediction.data.numpy()``, a hand-written update ``p.data.add_(p.grad.data, alpha=-lr)``
with ``p.grad.zero_()``, one-hot tensors filled through chained indexing
(``tensor[i][0][j] = 1``), ``optimizer.zero_grad(); loss.backward(); clip_grad_norm_; step()``,
and ``model.parameters()`` copied into with ``p.copy_(...)`` under ``no_grad``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch as real_torch

import tinygrad_rnn

from .helpers import assert_close

RTOL = 1e-8


def load_weights(torch: Any, model: Any, weights: dict[str, np.ndarray]) -> None:
    """Copy the shared initial weights in, as a torch user would."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(weights[name]))


def initial_weights(model: Any, seed: int) -> dict[str, np.ndarray]:
    """Random float64 weights with the shapes of a torch model's parameters."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-0.3, 0.3, tuple(p.shape)) for name, p in model.named_parameters()}


# --------------------------------------------------------------------------- (a) sine wave


def sine_wave_rnn(torch: Any, weights: dict[str, np.ndarray] | None, steps: int = 8) -> Any:
    """Predict cos from sin, one window after another, the hidden state carried across
    windows and cut from the graph with ``hidden.data`` (the classic RNN regression demo)."""
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.RNN(input_size=1, hidden_size=12, num_layers=1, batch_first=True)
            self.out = nn.Linear(12, 1)

        def forward(self, x: Any, h_state: Any) -> Any:
            r_out, h_state = self.rnn(x, h_state)
            outs = []
            for time_step in range(r_out.size(1)):
                outs.append(self.out(r_out[:, time_step, :]))
            return torch.stack(outs, dim=1), h_state

    rnn = Net().double()
    if weights is None:
        return rnn
    load_weights(torch, rnn, weights)
    optimizer = torch.optim.Adam(rnn.parameters(), lr=0.02)
    loss_func = nn.MSELoss()

    h_state = None
    record = []
    for step in range(steps):
        start, end = step * np.pi, (step + 1) * np.pi
        time_steps = np.linspace(start, end, 10, dtype=np.float64, endpoint=False)
        x_np, y_np = np.sin(time_steps), np.cos(time_steps)
        x = torch.from_numpy(x_np[np.newaxis, :, np.newaxis])
        y = torch.from_numpy(y_np[np.newaxis, :, np.newaxis])

        prediction, h_state = rnn(x, h_state)
        h_state = h_state.data  # cut the graph: the next window does not backprop into this one

        loss = loss_func(prediction, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        record.append((loss.item(), prediction.data.numpy().copy(), h_state.numpy().copy()))
    return record, {name: p.detach().numpy().copy() for name, p in rnn.named_parameters()}


# --------------------------------------------------------------------------- (b) char classifier

ALL_LETTERS = "abcdefghijklmnopqrstuvwxyz '"
N_LETTERS = len(ALL_LETTERS)
CATEGORIES = ["English", "French", "Italian"]
NAMES = [
    ("smith", "English"),
    ("dubois", "French"),
    ("rossi", "Italian"),
    ("brown", "English"),
    ("lefevre", "French"),
    ("bianchi", "Italian"),
    ("o'neil", "English"),
    ("moreau", "French"),
]


def char_classifier(torch: Any, weights: dict[str, np.ndarray] | None, epochs: int = 2) -> Any:
    """The "classifying names with a character-level RNN" tutorial: a hand-made RNN cell,
    one-hot letters, and a plain SGD update written out by hand on ``p.data``."""
    nn = torch.nn

    class RNN(nn.Module):
        def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
            super().__init__()
            self.hidden_size = hidden_size
            self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
            self.h2o = nn.Linear(hidden_size, output_size)

        def forward(self, input: Any, hidden: Any) -> Any:
            combined = torch.cat((input, hidden), 1)
            hidden = self.i2h(combined).tanh()
            output = self.h2o(hidden)
            return output, hidden

        def init_hidden(self) -> Any:
            return torch.zeros(1, self.hidden_size, dtype=torch.float64)

    def line_to_tensor(line: str) -> Any:
        tensor = torch.zeros(len(line), 1, N_LETTERS, dtype=torch.float64)
        for li, letter in enumerate(line):
            tensor[li][0][ALL_LETTERS.find(letter)] = 1
        return tensor

    rnn = RNN(N_LETTERS, 10, len(CATEGORIES)).double()
    if weights is None:
        return rnn
    load_weights(torch, rnn, weights)
    criterion = nn.CrossEntropyLoss()
    learning_rate = 0.05

    def train(category_tensor: Any, line_tensor: Any) -> Any:
        hidden = rnn.init_hidden()
        for p in rnn.parameters():
            if p.grad is not None:
                p.grad.zero_()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        loss = criterion(output, category_tensor)
        loss.backward()
        # add parameters' gradients to their values, multiplied by learning rate
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)
        return output, loss.item()

    record = []
    for _ in range(epochs):
        for name, category in NAMES:
            category_tensor = torch.tensor([CATEGORIES.index(category)], dtype=torch.long)
            output, loss = train(category_tensor, line_to_tensor(name))
            guess = output.argmax(1).item()
            record.append((loss, output.data.numpy().copy(), guess))
    return record, {name: p.detach().numpy().copy() for name, p in rnn.named_parameters()}


# --------------------------------------------------------------------------- (c) LSTM language model


def lstm_language_model(torch: Any, weights: dict[str, np.ndarray] | None, batches: int = 6) -> Any:
    """The word-language-model example, small: Embedding -> 2-layer LSTM -> Linear, truncated
    BPTT with the hidden state repackaged between batches, gradient clipping, SGD."""
    nn = torch.nn
    vocab, emsize, nhid, bptt, batch_size = 11, 6, 8, 5, 3

    class RNNModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Embedding(vocab, emsize)
            self.rnn = nn.LSTM(emsize, nhid, 2)
            self.decoder = nn.Linear(nhid, vocab)

        def forward(self, input: Any, hidden: Any) -> Any:
            emb = self.encoder(input)
            output, hidden = self.rnn(emb, hidden)
            decoded = self.decoder(output)
            decoded = decoded.view(-1, vocab)
            return nn.functional.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz: int) -> Any:
            weight = next(self.parameters())
            return (
                torch.zeros(2, bsz, nhid, dtype=weight.dtype),
                torch.zeros(2, bsz, nhid, dtype=weight.dtype),
            )

    def repackage_hidden(h: Any) -> Any:
        """Wraps hidden states in new Tensors, to detach them from their history."""
        if isinstance(h, torch.Tensor):
            return h.detach()
        return tuple(repackage_hidden(v) for v in h)

    model = RNNModel().double()
    if weights is None:
        return model
    load_weights(torch, model, weights)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)

    rng = np.random.default_rng(7)
    source = torch.from_numpy(rng.integers(0, vocab, (batches * bptt + 1, batch_size)))
    model.train()
    hidden = model.init_hidden(batch_size)
    record = []
    for i in range(0, batches * bptt, bptt):
        data, targets = source[i : i + bptt], source[i + 1 : i + 1 + bptt].reshape(-1)
        hidden = repackage_hidden(hidden)
        optimizer.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        total_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()
        record.append((loss.item(), float(total_norm), output.detach().numpy().copy()))
    return record, {name: p.detach().numpy().copy() for name, p in model.named_parameters()}


# --------------------------------------------------------------------------- the comparison


def compare(script: Any, seed: int) -> None:
    weights = initial_weights(script(real_torch, None), seed)
    theirs, their_params = script(real_torch, weights)
    ours, our_params = script(tinygrad_rnn, weights)
    assert len(ours) == len(theirs)
    for step, (mine, ref) in enumerate(zip(ours, theirs)):
        for k, (a, b) in enumerate(zip(mine, ref)):
            assert_close(np.asarray(a), np.asarray(b), f"step {step}, value {k}", rtol=RTOL, atol=1e-12)
    assert our_params.keys() == their_params.keys()
    for name in their_params:
        assert_close(our_params[name], their_params[name], f"final {name}", rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("script", [sine_wave_rnn, char_classifier, lstm_language_model])
def test_script_gives_torchs_numbers_with_the_import_swapped(script: Any) -> None:
    compare(script, seed=3)
