"""examples/vanishing_gradients.py: dL/dh_t over a long unroll, checked against torch."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import autograd

from ._load import assert_png, load_example

vg = load_example("vanishing_gradients")
PICTURES = ("vanishing_gradients.png", "vanishing_gradients_graph.png")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("vanishing")
    return out, vg.main(["--quick", "--out", str(out)])


def test_quick_run_writes_readable_pictures(quick_run):
    out, result = quick_run
    assert [p.name for p in result.paths] == list(PICTURES)
    for name in PICTURES:
        assert_png(out / name)


def test_plain_rnn_gradient_vanishes_going_back_in_time(quick_run):
    _, result = quick_run
    rnn = result.norms["RNN (tanh)"]
    assert len(rnn) == 40
    assert rnn[0] < 1e-6 * rnn[-1], f"||dL/dh_1|| = {rnn[0]:.2e}, ||dL/dh_T|| = {rnn[-1]:.2e}"
    assert np.all(np.diff(np.log(rnn[:-1])) > 0), "the norm should shrink at every step back"


def test_gates_biased_to_remember_carry_the_gradient_much_further(quick_run):
    _, result = quick_run
    ratios = {label: norms[0] / norms[-1] for label, norms in result.norms.items()}
    for label in ("LSTM, forget-gate bias +2", "GRU, update-gate bias +2"):
        assert ratios[label] > 1e4 * ratios["RNN (tanh)"], ratios


def _torch_hidden_grads(model, inputs):
    """dL/dh_t for the same weights, unrolled with torch's cell."""
    import torch

    kind = model.kind
    size = model.cell.hidden_size
    cell = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind](
        inputs.shape[1], size, dtype=torch.float64
    )
    head = torch.nn.Linear(size, 1, dtype=torch.float64)
    state = {k: torch.from_numpy(v) for k, v in model.state_dict().items()}
    cell.load_state_dict({k.removeprefix("cell."): v for k, v in state.items() if k.startswith("cell.")})
    head.load_state_dict({k.removeprefix("head."): v for k, v in state.items() if k.startswith("head.")})
    hidden = cell_state = torch.zeros(size, dtype=torch.float64)
    states = []
    for x in torch.from_numpy(inputs):
        if kind == "lstm":
            hidden, cell_state = cell(x, (hidden, cell_state))
        else:
            hidden = cell(x, hidden)
        hidden.retain_grad()
        states.append(hidden)
    loss = torch.nn.functional.mse_loss(head(hidden), torch.ones(1, dtype=torch.float64))
    loss.backward()
    return [h.grad.numpy() for h in states]


@pytest.mark.parametrize("variant", vg.variants(2.0), ids=lambda v: v.label)
def test_hidden_state_gradients_match_torch(variant):
    pytest.importorskip("torch")
    model = vg.make_model(variant, 6, seed=1)
    inputs = vg.make_inputs(15, seed=1)
    loss, states = model(tg.Tensor(inputs))
    ours = autograd.grad(loss, states)
    theirs = _torch_hidden_grads(model, inputs)
    for t, (a, b) in enumerate(zip(ours, theirs), start=1):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-10, atol=1e-300, err_msg=f"dL/dh_{t}")
    norms = vg.gradient_norms(model, inputs)
    np.testing.assert_allclose(norms, [np.linalg.norm(b) for b in theirs], rtol=1e-10)


def test_a_plain_rnn_has_no_gate_to_bias():
    with pytest.raises(ValueError, match="no gate"):
        vg.Unrolled("rnn", 2, 3, gate_bias=1.0)


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        vg.main(["--help"])
    assert exit_info.value.code == 0
    assert "--gate-bias" in capsys.readouterr().out
