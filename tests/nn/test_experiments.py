"""The homework's two experiments, end to end with the library's layers, losses and
optimizers, against torch step for step: the character model of examples/char_rnn.py and the
sine predictor of examples/sine_wave.py (truncated BPTT). The models, the data and our training
loop are the examples' own; torch's side is written here, as the reference."""

from __future__ import annotations

import numpy as np
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias

from ..examples._load import load_example

char_rnn = load_example("char_rnn")
sine_wave = load_example("sine_wave")


class TorchHeadedRNN(torch.nn.Module):
    """torch's counterpart of both examples' models: nn.RNN (tanh), then a Linear head."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.rnn = torch.nn.RNN(input_size, hidden_size, dtype=torch.float64)
        self.head = torch.nn.Linear(hidden_size, output_size, dtype=torch.float64)

    def forward(self, x, hidden=None):
        output, hidden = self.rnn(x, hidden)
        return self.head(output), hidden


def torch_copy(model: nn.Module, *sizes: int) -> TorchHeadedRNN:
    theirs = TorchHeadedRNN(*sizes)
    theirs.load_state_dict({name: torch.tensor(value) for name, value in model.state_dict().items()})
    return theirs


def assert_same_weights(ours: nn.Module, theirs: torch.nn.Module) -> None:
    final_theirs = theirs.state_dict()
    assert list(ours.state_dict()) == list(final_theirs)
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value, final_theirs[name].numpy(), rtol=1e-8, atol=1e-12, err_msg=name)


def test_char_model_follows_torch_and_learns_every_next_character():
    """The example's CharRNN and data in float64, SGD(lr=0.5) on both sentences at once for 300
    steps: equal losses at every step, equal weights at the end, and every next character right."""
    data = char_rnn.make_data()
    data = data._replace(inputs=data.inputs.astype(np.float64))
    vocab_size = len(data.vocab)
    assert vocab_size == 10 and data.inputs.shape == (5, 2, 10)
    tg.manual_seed(0)
    ours = char_rnn.CharRNN(vocab_size, 16).double()
    theirs = torch_copy(ours, vocab_size, 16, vocab_size)
    opt_ours = optim.SGD(ours.parameters(), lr=0.5)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.5)
    flat_targets = data.targets.reshape(-1)

    losses_ours, losses_theirs = [], []
    for _ in range(300):
        loss = F.cross_entropy(ours(tg.Tensor(data.inputs)).reshape(-1, vocab_size), flat_targets)
        opt_ours.zero_grad()
        loss.backward()
        opt_ours.step()
        losses_ours.append(loss.item())

        logits_t, _ = theirs(torch.tensor(data.inputs))
        loss_t = torch.nn.functional.cross_entropy(
            logits_t.reshape(-1, vocab_size), torch.tensor(flat_targets)
        )
        opt_theirs.zero_grad()
        loss_t.backward()
        opt_theirs.step()
        losses_theirs.append(loss_t.item())

    np.testing.assert_allclose(losses_ours, losses_theirs, rtol=1e-8)
    assert_same_weights(ours, theirs)
    _, probs = char_rnn.evaluate(ours, data)
    # the homework's targets: one cycle across both sentences, 英 -> 夏 and 恼 -> 你
    assert char_rnn.predictions(probs, data.vocab) == ["好李焕英夏", "洛特烦恼你"]
    assert losses_ours[-1] < 0.1 * losses_ours[0]


STEPS = 30


def test_sine_model_with_truncated_bptt_follows_torch_step_for_step():
    """The example's SineRNN trained by the example's own loop (Adam, one half-period
    per step, the hidden state carried and detached), against the same loop in torch from the
    same initial weights, float64: equal losses at every step and equal weights at the end."""
    tg.manual_seed(0)
    ours = sine_wave.SineRNN().double()
    theirs = torch_copy(ours, 1, sine_wave.HIDDEN, 1)
    losses_ours, _ = sine_wave.train(ours, STEPS, show=())

    optimizer = torch.optim.Adam(theirs.parameters(), lr=sine_wave.LEARNING_RATE)
    hidden = None
    losses_theirs = []
    for step in range(STEPS):
        _, x, y = sine_wave.sine_chunk(step)
        prediction, hidden = theirs(torch.tensor(x), hidden)
        loss = torch.nn.functional.mse_loss(prediction, torch.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        hidden = hidden.detach()
        losses_theirs.append(loss.item())

    np.testing.assert_allclose(losses_ours, losses_theirs, rtol=1e-8)
    assert_same_weights(ours, theirs)
    assert np.mean(losses_ours[-5:]) < 0.2 * np.mean(losses_ours[:5]), "training did not reduce the loss"
