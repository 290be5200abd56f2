"""tinygrad_rnn.compile: a replayed training step equals the eager one to the last bit, and
anything a trace cannot replay falls back to eager calls with a warning."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F  # noqa: N812 - torch's habit
from tinygrad_rnn import nn
from tinygrad_rnn.optim import SGD, Adam

T, B, V, H = 6, 3, 5, 7


class Model(nn.Module):
    def __init__(self, kind: str = "LSTM", dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn = getattr(nn, kind)(V, H)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(H, V)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(self.drop(out))


def _pair(kind="LSTM", dropout=0.0):
    tg.manual_seed(3)
    a = Model(kind, dropout).double()
    b = Model(kind, dropout).double()
    b.load_state_dict(a.state_dict())
    return a, b


def _data(seed):
    rng = np.random.default_rng(seed)
    x = tg.Tensor(rng.standard_normal((T, B, V)))
    y = tg.tensor(rng.integers(0, V, (T * B,)))
    return x, y


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_replayed_training_equals_eager_bit_for_bit(kind):
    eager_model, replay_model = _pair(kind)

    def loss_of(model):
        def fn(x, y):
            loss = F.cross_entropy(model(x).reshape(T * B, V), y)
            loss.backward()
            return loss

        return fn

    eager_step, compiled = loss_of(eager_model), tg.compile(loss_of(replay_model))
    opt_e, opt_r = Adam(eager_model.parameters(), lr=0.01), Adam(replay_model.parameters(), lr=0.01)
    x, y = _data(0)
    for _ in range(6):
        opt_e.zero_grad()
        opt_r.zero_grad()
        le, lr_ = eager_step(x, y), compiled(x, y)
        assert le.item() == lr_.item()
        for (name, p), q in zip(eager_model.named_parameters(), replay_model.parameters()):
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy(), err_msg=name)
        opt_e.step()
        opt_r.step()
    assert compiled.replays == 4 and compiled.eager_reason is None  # trace, check, then replays
    for p, q in zip(eager_model.parameters(), replay_model.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_new_float_data_of_the_same_shape_is_replayed_and_new_targets_retraced():
    eager_model, replay_model = _pair("GRU")

    def fn_for(model):
        def fn(x, y):
            loss = F.cross_entropy(model(x).reshape(T * B, V), y)
            loss.backward()
            return loss

        return fn

    compiled = tg.compile(fn_for(replay_model))
    x0, y0 = _data(0)
    for seed in range(5):
        x, _ = _data(seed + 10)
        y = y0 if seed < 3 else _data(seed)[1]  # targets change at the end: a new trace
        eager_model.zero_grad()
        replay_model.zero_grad()
        assert fn_for(eager_model)(x, y).item() == compiled(x, y).item()
        for p, q in zip(eager_model.parameters(), replay_model.parameters()):
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert compiled.replays == 1 and len(compiled.traces) == 3


def test_dropout_inside_is_caught_by_the_check_and_falls_back_to_eager():
    tg.manual_seed(0)
    model = Model("RNN", dropout=0.5).double()
    x, y = _data(1)

    def fn(x, y):
        loss = F.cross_entropy(model(x).reshape(T * B, V), y)
        loss.backward()
        return loss

    compiled = tg.compile(fn)
    compiled(x, y)
    with pytest.warns(UserWarning, match="differed from the eager call"):
        compiled(x, y)
    assert compiled.eager_reason is not None and compiled.replays == 0


@pytest.mark.parametrize(
    "body, reason",
    [
        ("step", "keep optimizer.step\\(\\) outside"),
        ("inplace", "in-place changes cannot be replayed"),
        ("two_backwards", "only one plain loss.backward\\(\\)"),
        ("returns_float", "returns a float"),
    ],
)
def test_what_cannot_be_replayed_is_refused_while_tracing(body, reason):
    tg.manual_seed(0)
    model = Model("RNN").double()
    opt = SGD(model.parameters(), lr=0.1)
    x, y = _data(2)

    def fn(x, y):
        out = model(x)
        if body == "inplace":
            out = out * 1.0
            out.mul_(2.0)
        loss = F.cross_entropy(out.reshape(T * B, V), y)
        if body == "two_backwards":
            loss.backward(retain_graph=True)
        loss.backward()
        if body == "step":
            opt.step()
        return loss.item() if body == "returns_float" else loss

    compiled = tg.compile(fn)
    with pytest.warns(UserWarning, match=reason):
        compiled(x, y)
    compiled(x, y)  # eager from now on
    assert compiled.replays == 0 and not compiled.traces


def test_a_hidden_state_carried_over_without_detach_is_refused():
    tg.manual_seed(0)
    rnn = nn.RNN(V, H).double()
    state = {"h": None}
    x, _ = _data(3)

    def fn(x):
        out, h = rnn(x, state["h"])
        state["h"] = h  # not detached: the next call's graph reaches this call's ops
        out.sum().backward(retain_graph=True)
        return out

    fn(x)  # the state now holds a graph
    compiled = tg.compile(fn)
    with pytest.warns(UserWarning, match="without .detach"):
        compiled(x)
    assert compiled.replays == 0


def test_replayed_outputs_are_values_outside_any_graph():
    tg.manual_seed(0)
    model = Model("RNN").double()
    x, y = _data(4)

    def fn(x, y):
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(T * B, V), y)
        loss.backward()
        return loss, logits

    compiled = tg.compile(fn)
    for _ in range(3):
        loss, logits = compiled(x, y)
    assert compiled.replays == 1
    assert not loss.requires_grad and loss.op is None and logits.shape == (T, B, V)
