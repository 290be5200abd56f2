"""The benchmark's hand-written numpy training steps (forward and BPTT by hand) give torch's
loss, gradients and updated weights in float64, for the RNN, the LSTM and the GRU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.numpy_bptt import NUMPY_MODELS
from benchmarks.problem import CELLS, LEARNING_RATE, Config, make_problem

TOLERANCE = 1e-10  # relative to the largest entry of each array


def torch_step(problem) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The same step with torch's own layers: loss, gradients, weights after SGD."""
    config = problem.config
    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[config.cell]
    rnn = layer(config.vocab, config.hidden).double()
    head = torch.nn.Linear(config.hidden, config.vocab).double()
    modules = {"rnn": rnn, "head": head}
    for prefix, module in modules.items():
        module.load_state_dict(
            {
                n.removeprefix(f"{prefix}."): torch.from_numpy(w)
                for n, w in problem.weights.items()
                if n.startswith(prefix)
            }
        )
    params = {f"{prefix}.{n}": p for prefix, m in modules.items() for n, p in m.named_parameters()}
    output, _ = rnn(torch.from_numpy(problem.inputs))
    logits = head(output.reshape(-1, config.hidden))
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(problem.targets))
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in params.items()}
    torch.optim.SGD(list(params.values()), lr=LEARNING_RATE).step()
    return loss.item(), grads, {n: p.detach().numpy().copy() for n, p in params.items()}


def assert_relative(ours: np.ndarray, reference: np.ndarray, what: str) -> None:
    assert ours.shape == reference.shape, f"{what}: shape {ours.shape} != torch {reference.shape}"
    scale = np.max(np.abs(reference))
    if scale == 0:  # e.g. W_hh's gradient when T = 1 (h_0 = 0)
        assert not np.any(ours), f"{what}: torch's is zero, ours is not: {ours.ravel()[:5]}"
        return
    error = np.max(np.abs(ours - reference)) / scale
    assert error < TOLERANCE, (
        f"{what}: relative error {error:.2e}\nnumpy {ours.ravel()[:5]}\ntorch {reference.ravel()[:5]}"
    )


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("vocab", "batch", "seq_len", "hidden"), [(7, 3, 6, 5), (4, 1, 1, 3)])
def test_numpy_step_matches_torch(cell, vocab, batch, seq_len, hidden):
    problem = make_problem(Config(f"{cell}-test", cell, vocab, batch, seq_len, hidden), "float64")
    model = NUMPY_MODELS[cell](problem)
    loss = model.step()
    ref_loss, ref_grads, ref_params = torch_step(problem)
    assert abs(loss - ref_loss) <= TOLERANCE * abs(ref_loss), f"loss {loss} != torch {ref_loss}"
    for name, grad in model.gradients().items():
        assert_relative(grad, ref_grads[name], f"{cell} grad {name}")
    for name, param in model.parameters().items():
        assert_relative(param, ref_params[name], f"{cell} weight {name} after SGD")


@pytest.mark.parametrize("cell", CELLS)
def test_numpy_steps_repeat_like_torch(cell):
    """The buffers are reused from step to step: a second step still matches torch's."""
    problem = make_problem(Config(f"{cell}-test", cell, 6, 2, 4, 3), "float64")
    model = NUMPY_MODELS[cell](problem)
    model.step()
    problem.weights = model.parameters()
    loss = model.step()
    ref_loss, ref_grads, _ = torch_step(problem)
    assert abs(loss - ref_loss) <= TOLERANCE * abs(ref_loss)
    for name, grad in model.gradients().items():
        assert_relative(grad, ref_grads[name], f"{cell} second step grad {name}")
