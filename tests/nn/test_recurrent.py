"""nn.RNN / LSTM / GRU and their cells against torch: outputs, final states and every
gradient in float64, with torch's weights loaded into ours; plus shapes, errors, state
dicts, scopes, dropout and truncated BPTT."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.engine import Op, topological_order
from tinygrad_rnn.nn import recurrent

from ..helpers import assert_close

T, B, IN, H = 4, 3, 5, 4
RTOL, ATOL = 1e-10, 1e-12

# (our class, torch class, extra constructor arguments)
KINDS = {
    "rnn_tanh": (nn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, torch.nn.LSTM, {}),
    "gru": (nn.GRU, torch.nn.GRU, {}),
}
CELLS = {
    "rnn_tanh": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (nn.GRUCell, torch.nn.GRUCell, {}),
}


def close(ours, theirs, what):
    assert_close(ours, theirs, what, rtol=RTOL, atol=ATOL)


def make_pair(kind, seed=0, **kwargs):
    """A torch layer in float64 and ours with the same weights (loaded from numpy arrays)."""
    ours_cls, torch_cls, extra = KINDS[kind]
    torch.manual_seed(seed)
    theirs = torch_cls(IN, H, **extra, **kwargs).double()
    ours = ours_cls(IN, H, **extra, **kwargs).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def state_shape(num_layers, bidirectional, batched=True):
    return (num_layers * (2 if bidirectional else 1),) + ((B,) if batched else ()) + (H,)


def check_against_torch(ours, theirs, x, hx, rng):
    """Forward both with the same input and initial state (None: zeros), backpropagate the
    same random upstream gradients from the output and the final state(s), and compare the
    outputs, the final states and the gradients of input, initial states and parameters."""
    is_lstm = isinstance(ours, nn.LSTM)
    inputs_o = [tg.Tensor(x, requires_grad=True)]
    inputs_t = [torch.tensor(x, requires_grad=True)]
    if hx is not None:
        inputs_o += [tg.Tensor(s, requires_grad=True) for s in hx]
        inputs_t += [torch.tensor(s, requires_grad=True) for s in hx]
    if hx is None:
        hx_o = hx_t = None
    elif is_lstm:
        hx_o, hx_t = tuple(inputs_o[1:]), tuple(inputs_t[1:])
    else:
        hx_o, hx_t = inputs_o[1], inputs_t[1]
    out_o, final_o = ours(inputs_o[0], hx_o)
    out_t, final_t = theirs(inputs_t[0], hx_t)
    results_o = [out_o, *(final_o if is_lstm else [final_o])]
    results_t = [out_t, *(final_t if is_lstm else [final_t])]

    loss_o, loss_t = 0, 0
    for i, (a, b) in enumerate(zip(results_o, results_t)):
        close(a, b, ["output", "h_n", "c_n"][i])
        g = rng.standard_normal(a.shape)
        loss_o = loss_o + (a * tg.Tensor(g)).sum()
        loss_t = loss_t + (b * torch.tensor(g)).sum()
    loss_o.backward()
    loss_t.backward()
    for i, (a, b) in enumerate(zip(inputs_o, inputs_t)):
        close(a.grad, b.grad, ["input", "h_0", "c_0"][i] + " gradient")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, f"{name} gradient")


# --------------------------------------------------------------------------- layers vs torch


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["seq_first", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2], ids=["1layer", "2layers"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_matches_torch(kind, num_layers, bidirectional, batch_first, bias):
    """Output, h_n (and c_n) and the gradients of input, h_0 (c_0) and every parameter."""
    ours, theirs = make_pair(
        kind, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, IN) if batch_first else (T, B, IN))
    n_states = 2 if kind == "lstm" else 1
    hx = [rng.standard_normal(state_shape(num_layers, bidirectional)) for _ in range(n_states)]
    check_against_torch(ours, theirs, x, hx, rng)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_without_initial_state_matches_torch(kind, bidirectional):
    ours, theirs = make_pair(kind, num_layers=2, bidirectional=bidirectional)
    rng = np.random.default_rng(2)
    check_against_torch(ours, theirs, rng.standard_normal((T, B, IN)), None, rng)


@pytest.mark.parametrize("batch_first", [False, True], ids=["seq_first", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_input_matches_torch(kind, bidirectional, batch_first):
    """A 2-D input (T, in) gives output (T, D*H) and states (num_layers*D, H), as in torch."""
    ours, theirs = make_pair(kind, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    rng = np.random.default_rng(3)
    n_states = 2 if kind == "lstm" else 1
    hx = [rng.standard_normal(state_shape(2, bidirectional, batched=False)) for _ in range(n_states)]
    x = rng.standard_normal((T, IN))
    check_against_torch(ours, theirs, x, hx, rng)
    output, _ = ours(tg.Tensor(x))
    assert output.shape == (T, (2 if bidirectional else 1) * H)
    check_against_torch(ours, theirs, x, None, rng)


def test_shapes_follow_torch():
    lstm = nn.LSTM(IN, H, num_layers=3, batch_first=True, bidirectional=True)
    output, (h_n, c_n) = lstm(tg.randn(B, T, IN))
    assert output.shape == (B, T, 2 * H)
    assert h_n.shape == c_n.shape == (6, B, H)
    assert output.dtype == h_n.dtype == np.float32
    gru = nn.GRU(IN, H)
    output, h_n = gru(tg.randn(T, B, IN))
    assert output.shape == (T, B, H) and h_n.shape == (1, B, H)


def test_output_is_the_last_layers_hidden_states():
    rnn = nn.RNN(IN, H, num_layers=2, bidirectional=True)
    output, h_n = rnn(tg.randn(T, B, IN))
    # forward direction ends at the last step, the reverse direction at the first
    np.testing.assert_array_equal(output.detach().numpy()[-1, :, :H], h_n.detach().numpy()[2])
    np.testing.assert_array_equal(output.detach().numpy()[0, :, H:], h_n.detach().numpy()[3])


# --------------------------------------------------------------------------- cells vs torch


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_unrolled_by_hand_match_torch(kind, bias):
    """The docstring loop of torch.nn.LSTMCell, on both sides: outputs and all gradients."""
    ours_cls, torch_cls, extra = CELLS[kind]
    torch.manual_seed(0)
    theirs = torch_cls(IN, H, bias=bias, **extra).double()
    ours = ours_cls(IN, H, bias=bias, **extra).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(4)
    x = rng.standard_normal((T, B, IN))
    h0 = [rng.standard_normal((B, H)) for _ in range(2 if kind == "lstm" else 1)]
    x_o, x_t = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    h_o = [tg.Tensor(s, requires_grad=True) for s in h0]
    h_t = [torch.tensor(s, requires_grad=True) for s in h0]
    state_o = tuple(h_o) if kind == "lstm" else h_o[0]
    state_t = tuple(h_t) if kind == "lstm" else h_t[0]
    loss_o, loss_t = 0, 0
    for t in range(T):
        state_o, state_t = ours(x_o[t], state_o), theirs(x_t[t], state_t)
        outs_o = state_o if kind == "lstm" else (state_o,)
        outs_t = state_t if kind == "lstm" else (state_t,)
        for a, b in zip(outs_o, outs_t):
            close(a, b, f"step {t}")
            g = rng.standard_normal(a.shape)
            loss_o = loss_o + (a * tg.Tensor(g)).sum()
            loss_t = loss_t + (b * torch.tensor(g)).sum()
    loss_o.backward()
    loss_t.backward()
    close(x_o.grad, x_t.grad, "input gradient")
    for i, (a, b) in enumerate(zip(h_o, h_t)):
        close(a.grad, b.grad, f"initial state {i} gradient")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, f"{name} gradient")


@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_unbatched_and_without_state_match_torch(kind):
    ours_cls, torch_cls, extra = CELLS[kind]
    torch.manual_seed(0)
    theirs = torch_cls(IN, H, **extra).double()
    ours = ours_cls(IN, H, **extra).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(5)
    for shape in [(IN,), (B, IN)]:
        x = rng.standard_normal(shape)
        out_o, out_t = ours(tg.Tensor(x)), theirs(torch.tensor(x))
        for a, b in zip(out_o if kind == "lstm" else [out_o], out_t if kind == "lstm" else [out_t]):
            close(a, b, f"cell output for input {shape}")
        h = [rng.standard_normal(shape[:-1] + (H,)) for _ in range(2 if kind == "lstm" else 1)]
        hx_o = tuple(tg.Tensor(s) for s in h) if kind == "lstm" else tg.Tensor(h[0])
        hx_t = tuple(torch.tensor(s) for s in h) if kind == "lstm" else torch.tensor(h[0])
        out_o, out_t = ours(tg.Tensor(x), hx_o), theirs(torch.tensor(x), hx_t)
        for a, b in zip(out_o if kind == "lstm" else [out_o], out_t if kind == "lstm" else [out_t]):
            close(a, b, f"cell output for input {shape} with a state")


def test_layer_is_the_cell_unrolled():
    """nn.LSTM's output equals LSTMCell applied step by step with the same weights."""
    tg.manual_seed(0)
    lstm = nn.LSTM(IN, H).double()
    cell = nn.LSTMCell(IN, H).double()
    cell.load_state_dict({k[: -len("_l0")]: v for k, v in lstm.state_dict().items()})
    x = tg.randn(T, B, IN, dtype=np.float64)
    output, (h_n, c_n) = lstm(x)
    state = None
    for t in range(T):
        state = cell(x[t], state)
        np.testing.assert_allclose(
            output.detach().numpy()[t], state[0].detach().numpy(), rtol=1e-13, atol=1e-15
        )
    np.testing.assert_allclose(c_n.detach().numpy()[0], state[1].detach().numpy(), rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("kind", "num_layers", "bidirectional", "bias"),
    list(itertools.product(KINDS, [1, 3], [False, True], [True, False])),
)
def test_state_dict_keys_order_and_shapes_are_torchs(kind, num_layers, bidirectional, bias):
    ours_cls, torch_cls, extra = KINDS[kind]
    ours = ours_cls(IN, H, num_layers=num_layers, bidirectional=bidirectional, bias=bias, **extra)
    theirs = torch_cls(IN, H, num_layers=num_layers, bidirectional=bidirectional, bias=bias, **extra)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key, value in ours_sd.items():
        assert value.shape == tuple(theirs_sd[key].shape), key
        assert value.dtype == np.float32, key


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_state_dict_is_torchs(kind):
    ours_cls, torch_cls, extra = CELLS[kind]
    for bias in (True, False):
        ours, theirs = ours_cls(IN, H, bias=bias, **extra), torch_cls(IN, H, bias=bias, **extra)
        assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
        ]


@pytest.mark.parametrize("kind", list(KINDS))
def test_our_weights_load_into_torch(kind):
    """Ours (float32, our init) -> torch.load_state_dict({k: torch.tensor(v)}): same outputs."""
    ours_cls, torch_cls, extra = KINDS[kind]
    tg.manual_seed(3)
    ours = ours_cls(IN, H, num_layers=2, bidirectional=True, **extra)
    theirs = torch_cls(IN, H, num_layers=2, bidirectional=True, **extra)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(6).standard_normal((T, B, IN)).astype(np.float32)
    out_o, _ = ours(tg.Tensor(x))
    out_t, _ = theirs(torch.tensor(x))
    assert_close(out_o, out_t, "output after loading our weights into torch", rtol=1e-5, atol=1e-6)


def test_init_is_uniform_in_torchs_bounds_and_seeded():
    tg.manual_seed(0)
    a = nn.GRU(IN, 16, num_layers=2)
    tg.manual_seed(0)
    b = nn.GRU(IN, 16, num_layers=2)
    bound = 1 / np.sqrt(16)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
        assert p.dtype == np.float32 and p.requires_grad
        assert np.all(np.abs(p.detach().numpy()) <= bound), name
        assert np.abs(p.detach().numpy()).max() > 0.8 * bound, name  # spread over the whole range
    cell = nn.LSTMCell(IN, 9)
    assert all(np.all(np.abs(p.detach().numpy()) <= 1 / 3) for p in cell.parameters())


def test_repr_names_the_options():
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)) == "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kind", list(KINDS))
def test_feature_size_mismatch_names_expected_and_got(kind):
    layer = KINDS[kind][0](IN, H)
    with pytest.raises(RuntimeError, match=r"input_size\. Expected 5, got 3"):
        layer(tg.randn(T, B, 3))
    with pytest.raises(RuntimeError, match=r"Expected 5, got 3"):
        KINDS[kind][1](IN, H)(torch.randn(T, B, 3))  # torch says the same


@pytest.mark.parametrize("kind", list(KINDS))
def test_wrong_rank_is_rejected(kind):
    layer = KINDS[kind][0](IN, H)
    for shape in [(IN,), (2, T, B, IN)]:
        with pytest.raises(ValueError, match=rf"Expected input to be 2D or 3D, got {len(shape)}D"):
            layer(tg.randn(*shape))


def test_wrong_initial_state_shape_names_expected_and_got():
    rnn = nn.RNN(IN, H, num_layers=2)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 3, 4\), got \[1, 3, 4\]"):
        rnn(tg.randn(T, B, IN), tg.randn(1, B, H))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 3, 4\), got \[2, 2, 4\]"):
        rnn(tg.randn(T, B, IN), tg.randn(2, 2, H))
    with pytest.raises(RuntimeError, match=r"batched 3-D input, hx should also be 3-D but got 2-D"):
        rnn(tg.randn(T, B, IN), tg.randn(2, H))
    with pytest.raises(RuntimeError, match=r"unbatched 2-D input, hx should also be 2-D but got 3-D"):
        rnn(tg.randn(T, IN), tg.randn(2, 1, H))
    lstm = nn.LSTM(IN, H, bidirectional=True)
    good = tg.randn(2, B, H)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(2, 3, 4\), got \[2, 3, 5\]"):
        lstm(tg.randn(T, B, IN), (good, tg.randn(2, B, 5)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 3, 4\), got \[1, 3, 4\]"):
        lstm(tg.randn(T, B, IN), (tg.randn(1, B, H), good))
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
        lstm(tg.randn(T, B, IN), good)
    with pytest.raises(TypeError, match=r"hx must be a Tensor"):
        nn.GRU(IN, H)(tg.randn(T, B, IN), (tg.randn(1, B, H), tg.randn(1, B, H)))


def test_dtype_mismatch_says_how_to_fix_it():
    lstm = nn.LSTM(IN, H)
    with pytest.raises(
        ValueError, match=r"input dtype float64 but weights float32: call model\.double\(\) or x\.float\(\)"
    ):
        lstm(tg.randn(T, B, IN, dtype=np.float64))
    lstm.double()
    with pytest.raises(
        ValueError, match=r"input dtype float32 but weights float64: call model\.float\(\) or x\.double\(\)"
    ):
        lstm(tg.randn(T, B, IN))
    with pytest.raises(ValueError, match=r"hx\[0\] dtype float32 but weights float64"):
        lstm(tg.randn(T, B, IN, dtype=np.float64), (tg.randn(1, B, H), tg.randn(1, B, H, dtype=np.float64)))
    with pytest.raises(RuntimeError, match=r"input dtype float64 but weights float32"):  # as torch
        nn.GRUCell(IN, H)(tg.randn(B, IN, dtype=np.float64))


def test_cell_errors():
    cell = nn.LSTMCell(IN, H)
    with pytest.raises(ValueError, match=r"Expected input to be 1D or 2D, got 3D"):
        cell(tg.randn(T, B, IN))
    with pytest.raises(RuntimeError, match=r"inconsistent input_size: got 3 expected 5"):
        cell(tg.randn(B, 3))
    with pytest.raises(RuntimeError, match=r"Input batch size 3 doesn't match hx\[0\] batch size 2"):
        cell(tg.randn(B, IN), (tg.randn(2, H), tg.randn(2, H)))
    with pytest.raises(RuntimeError, match=r"hx\[1\] has inconsistent hidden_size: got 5, expected 4"):
        cell(tg.randn(B, IN), (tg.randn(B, H), tg.randn(B, 5)))
    with pytest.raises(ValueError, match=r"Expected hx to be 1D"):
        nn.RNNCell(IN, H)(tg.randn(IN), tg.randn(1, H))
    with pytest.raises(TypeError, match=r"input must be a Tensor, got ndarray"):
        nn.GRUCell(IN, H)(np.zeros((B, IN)))


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match=r"Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'"):
        nn.RNN(IN, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"Unknown nonlinearity 'gelu'"):
        nn.RNNCell(IN, H, nonlinearity="gelu")
    for p in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\]"):
            nn.LSTM(IN, H, num_layers=2, dropout=p)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(IN, 0)
    with pytest.raises(TypeError, match="input_size should be of type int"):
        nn.GRU(2.0, H)
    with pytest.raises(ValueError, match="num_layers must be an int greater than zero"):
        nn.LSTM(IN, H, num_layers=0)
    with pytest.raises(TypeError, match="bias should be of type bool"):
        nn.LSTMCell(IN, H, bias=1)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.RNN(IN, H, dropout=0.5)


# --------------------------------------------------------------------------- scopes


def _ops_of(*outputs):
    return topological_order([o.op for o in outputs])


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_op_of_step_k_is_tagged_t_equals_k(kind):
    layer = KINDS[kind][0](IN, H, num_layers=2, bidirectional=True)
    x = tg.randn(T, B, IN)
    output, final = layer(x)
    finals = list(final) if kind == "lstm" else [final]
    ops = _ops_of(output, *finals)
    name = type(layer).__name__.lower()
    assert all(op.scope[:1] == (name,) for op in ops)
    step_scopes = {op.scope for op in ops if len(op.scope) == 3}
    expected = {
        (name, f"l{layer_index}{suffix}", f"t={t}")
        for layer_index in range(2)
        for suffix in ("", "_reverse")
        for t in range(1, T + 1)
    }
    assert step_scopes == expected
    # the per-step hidden states stacked into a direction's output were made in that step
    for suffix in ("", "_reverse"):
        stack_op = next(op for op in ops if op.scope == (name, f"l1{suffix}") and op.name == "stack")
        for t, step_op in enumerate(stack_op.inputs[1:], start=1):
            assert step_op.scope == (name, f"l1{suffix}", f"t={t}")
    # the input projection of all steps is one op in the layer's scope
    projections = [op for op in ops if op.name == "linear" and len(op.scope) == 2]
    assert sorted(op.scope[1] for op in projections) == ["l0", "l0_reverse", "l1", "l1_reverse"]
    for op in projections:
        source = op.inputs[0]  # the layer's input: a leaf, or the op that made it
        assert (source.out_shape if isinstance(source, Op) else source.shape)[0] == T


def test_step_scopes_nest_under_the_callers_scope():
    gru = nn.GRU(IN, H)
    with tg.scope("encoder"):
        output, _ = gru(tg.randn(T, B, IN))
    assert output.op.scope == ("encoder", "gru", "l0")
    assert output.op.inputs[1].scope == ("encoder", "gru", "l0", "t=1")


def test_each_step_only_reads_the_previous_step():
    """Inside step k, every input comes from step k, step k-1 of the same direction, the
    layer scope (the input projection), the module scope (h_0) or a leaf."""
    lstm = nn.LSTM(IN, H, bidirectional=True)
    output, _ = lstm(tg.randn(T, B, IN))
    for op in _ops_of(output):
        if len(op.scope) != 3:
            continue
        _, direction, step = op.scope
        t = int(step[2:])
        previous = t + 1 if direction.endswith("_reverse") else t - 1
        allowed = {op.scope, ("lstm", direction, f"t={previous}"), ("lstm", direction), ("lstm",)}
        for parent in op.inputs:
            if isinstance(parent, Op):
                assert parent.scope in allowed, (op.scope, parent.scope)


# --------------------------------------------------------------------------- dropout


def test_dropout_changes_the_output_in_training_and_matches_torch_in_eval():
    ours, theirs = make_pair("lstm", num_layers=3, dropout=0.5)
    x = np.random.default_rng(7).standard_normal((T, B, IN))
    tg.manual_seed(0)
    train_out, _ = ours(tg.Tensor(x))
    no_dropout, _ = make_pair("lstm", num_layers=3)[0](tg.Tensor(x))
    assert not np.allclose(train_out.detach().numpy(), no_dropout.detach().numpy())
    tg.manual_seed(0)
    again, _ = ours(tg.Tensor(x))
    np.testing.assert_array_equal(
        train_out.detach().numpy(), again.detach().numpy()
    )  # the library generator is seeded
    ours.eval()
    theirs.eval()
    close(ours(tg.Tensor(x))[0], theirs(torch.tensor(x))[0], "eval output with dropout=0.5")


def test_dropout_of_one_cuts_the_next_layer_off_the_input():
    """dropout=1 zeroes the input of layer 2, so its output no longer depends on x."""
    rnn = nn.RNN(IN, H, num_layers=2, dropout=1.0)
    a, _ = rnn(tg.randn(T, B, IN))
    b, _ = rnn(tg.randn(T, B, IN))
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy())
    assert not np.allclose(rnn.eval()(tg.randn(T, B, IN))[0].detach().numpy(), a.detach().numpy())


# --------------------------------------------------------------------------- truncated BPTT


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm"])
def test_truncated_bptt_with_detach_matches_torch(kind):
    """Three chunks, the state carried across with .detach(): every chunk's output and
    parameter gradients match torch doing the same."""
    ours, theirs = make_pair(kind, num_layers=2)
    rng = np.random.default_rng(8)
    state_o = state_t = None
    for chunk in range(3):
        x = rng.standard_normal((T, B, IN))
        out_o, state_o = ours(tg.Tensor(x), state_o)
        out_t, state_t = theirs(torch.tensor(x), state_t)
        close(out_o, out_t, f"chunk {chunk} output")
        g = rng.standard_normal(out_o.shape)
        ours.zero_grad()
        theirs.zero_grad()
        (out_o * tg.Tensor(g)).sum().backward()
        (out_t * torch.tensor(g)).sum().backward()
        theirs_params = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            close(p.grad, theirs_params[name].grad, f"chunk {chunk} {name} gradient")
        if kind == "lstm":
            state_o = (state_o[0].detach(), state_o[1].detach())
            state_t = (state_t[0].detach(), state_t[1].detach())
        else:
            state_o, state_t = state_o.detach(), state_t.detach()
        assert not any(s.requires_grad for s in (state_o if kind == "lstm" else [state_o]))


def test_forgetting_detach_between_chunks_says_so():
    rnn = nn.RNN(IN, H)
    output, hidden = rnn(tg.randn(T, B, IN))
    output.sum().backward()
    output, hidden = rnn(tg.randn(T, B, IN), hidden)
    with pytest.raises(RuntimeError, match=r"h\.detach\(\)"):
        output.sum().backward()


def test_step_functions_are_public_and_are_what_the_cells_use():
    assert {"rnn_step", "lstm_step", "gru_step"} <= set(recurrent.__all__)


def test_step_states_are_named_for_the_rendered_graph():
    """Each step's h (and LSTM c) is named h_k / c_k; the name stays on the op that made it,
    because the graph does not keep the tensor."""
    from tinygrad_rnn.viz.graph import build_graph

    lstm = nn.LSTM(IN, H)
    output, _ = lstm(tg.randn(T, B, IN))
    stack_op = output.op
    assert [op.output_name for op in stack_op.inputs[1:]] == [f"h_{k}" for k in range(1, T + 1)]
    names = {node.name for node in build_graph(output.sum(), fold=False).nodes.values() if node.name}
    assert {f"h_{k}" for k in range(1, T + 1)} | {f"c_{k}" for k in range(1, T + 1)} <= names
