"""nn.init against torch.nn.init.

torch's initialisers are run with their random fills (``Tensor.uniform_`` / ``normal_``)
drawing the very numbers ours draw (same numpy generator, same calls), so any difference in
bounds, std, fan, gain, shape handling or the orthogonal construction shows up exactly. The
draws themselves are checked statistically (seeded, large samples, tight tolerances)."""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import init

SEED = 1234


@contextlib.contextmanager
def torch_draws_like_ours(seed):
    """Make torch's uniform_/normal_ fill tensors from np.random.default_rng(seed), with the
    calls our init makes, so torch's initialisers produce the values ours should."""
    rng = np.random.default_rng(seed)
    original_uniform, original_normal = torch.Tensor.uniform_, torch.Tensor.normal_

    def uniform_(self, a=0.0, b=1.0, generator=None):
        with torch.no_grad():
            return self.copy_(torch.from_numpy(rng.uniform(a, b, tuple(self.shape))))

    def normal_(self, mean=0.0, std=1.0, generator=None):
        with torch.no_grad():
            return self.copy_(torch.from_numpy(rng.normal(mean, std, tuple(self.shape))))

    torch.Tensor.uniform_, torch.Tensor.normal_ = uniform_, normal_
    try:
        yield
    finally:
        torch.Tensor.uniform_, torch.Tensor.normal_ = original_uniform, original_normal


def ours_and_torchs(name, shape, *args, **kwargs):
    ours = tg.Tensor(np.zeros(shape))
    tg.manual_seed(SEED)
    result = getattr(init, name)(ours, *args, **kwargs)
    assert result is ours
    theirs = torch.zeros(shape, dtype=torch.float64)
    with torch_draws_like_ours(SEED):
        getattr(torch.nn.init, name)(theirs, *args, **kwargs)
    return ours.numpy(), theirs.numpy()


SHAPES = [(7, 5), (5, 7), (4, 3, 2, 2), (6, 6)]
CASES = [
    ("uniform_", (), {}),
    ("uniform_", (-0.3, 0.7), {}),
    ("normal_", (), {}),
    ("normal_", (0.5, 2.0), {}),
    ("xavier_uniform_", (), {}),
    ("xavier_uniform_", (), {"gain": 5 / 3}),
    ("xavier_normal_", (), {}),
    ("xavier_normal_", (), {"gain": 0.3}),
    ("kaiming_uniform_", (), {}),
    ("kaiming_uniform_", (), {"a": math.sqrt(5)}),
    ("kaiming_uniform_", (), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", (), {}),
    ("kaiming_normal_", (), {"a": 0.2, "mode": "fan_out"}),
    ("kaiming_normal_", (), {"nonlinearity": "tanh", "mode": "FAN_IN"}),
    ("orthogonal_", (), {}),
    ("orthogonal_", (), {"gain": 1.7}),
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("name", "args", "kwargs"), CASES, ids=[f"{c[0]}{c[1]}{c[2]}" for c in CASES])
def test_initialiser_matches_torch_given_the_same_draws(name, args, kwargs, shape):
    ours, theirs = ours_and_torchs(name, shape, *args, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["constant_", "zeros_", "ones_", "eye_"])
def test_deterministic_fills_match_torch(name):
    args = (2.5,) if name == "constant_" else ()
    ours, theirs = ours_and_torchs(name, (3, 4), *args)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [
        ("linear", None),
        ("conv1d", None),
        ("conv_transpose3d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", 3),
        ("selu", None),
    ],
)
def test_calculate_gain_is_torchs_exactly(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


def test_errors_match_torch():
    with pytest.raises(ValueError, match="Unsupported nonlinearity softsign"):
        init.calculate_gain("softsign")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(tg.zeros(3))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_normal_(tg.zeros(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(tg.zeros(3, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(tg.zeros(3))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(tg.zeros(2, 2, 2))
    empty = tg.zeros(0, 3)
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        assert init.kaiming_uniform_(empty) is empty


@pytest.mark.parametrize(("rows", "cols"), [(8, 8), (12, 5), (5, 12)])
def test_orthogonal_is_orthogonal_to_1e_10(rows, cols):
    w = tg.Tensor(np.zeros((rows, cols)))
    init.orthogonal_(w, gain=2.0)
    m = w.numpy() / 2.0
    gram = m @ m.T if rows <= cols else m.T @ m
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-10)


def test_orthogonal_of_a_3d_tensor_flattens_the_trailing_dims():
    w = tg.Tensor(np.zeros((4, 3, 2)))
    init.orthogonal_(w)
    m = w.numpy().reshape(4, 6)
    np.testing.assert_allclose(m @ m.T, np.eye(4), atol=1e-10)


N = 400_000  # relative standard error of a sample std: 1 / sqrt(2N) ~ 0.11%


@pytest.mark.parametrize(
    ("name", "kwargs", "std"),
    [
        ("xavier_uniform_", {}, math.sqrt(2 / (N // 200 + 200))),
        ("xavier_normal_", {"gain": 2.0}, 2 * math.sqrt(2 / (N // 200 + 200))),
        ("kaiming_uniform_", {"nonlinearity": "relu"}, math.sqrt(2) / math.sqrt(N // 200)),
        ("kaiming_normal_", {"mode": "fan_out", "a": 0.1}, math.sqrt(2 / 1.01) / math.sqrt(200)),
        ("normal_", {"mean": 1.0, "std": 0.5}, 0.5),
        ("uniform_", {"a": -2.0, "b": 1.0}, 3 / math.sqrt(12)),
    ],
)
def test_draws_have_the_documented_distribution(name, kwargs, std):
    tg.manual_seed(0)
    w = getattr(init, name)(tg.Tensor(np.zeros((200, N // 200))), **kwargs).numpy()
    assert abs(w.std() / std - 1) < 0.005, f"std {w.std()} vs {std}"
    mean = kwargs.get("mean", (kwargs["a"] + kwargs["b"]) / 2 if name == "uniform_" else 0.0)
    assert abs(w.mean() - mean) < 5 * std / math.sqrt(N)
    if "uniform" in name:  # bounded exactly, and the samples reach close to the bounds
        low, high = (kwargs["a"], kwargs["b"]) if name == "uniform_" else (-math.sqrt(3) * std,) * 2
        high = abs(high) if name != "uniform_" else high
        assert low <= w.min() < low + 1e-4 * (high - low)
        assert high - 1e-4 * (high - low) < w.max() <= high


def test_writes_in_place_so_views_and_data_see_it():
    w = nn.Parameter(np.zeros((3, 4)))
    shared = w.data
    array = w._data
    init.ones_(w)
    assert w._data is array
    np.testing.assert_array_equal(shared.numpy(), np.ones((3, 4)))
    transposed = w.data.T
    init.constant_(transposed, 7.0)  # through a view: the parameter changes
    np.testing.assert_array_equal(w.detach().numpy(), np.full((3, 4), 7.0))


def test_keeps_dtype_is_seeded_and_takes_a_generator():
    w = tg.zeros(50, 40)
    init.kaiming_uniform_(w)
    assert w.dtype == np.float32
    tg.manual_seed(3)
    first = init.xavier_normal_(tg.zeros(5, 5)).numpy().copy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(init.xavier_normal_(tg.zeros(5, 5)).numpy(), first)
    a = init.normal_(tg.zeros(4), generator=np.random.default_rng(9)).numpy()
    b = init.normal_(tg.zeros(4), generator=np.random.default_rng(9)).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="np.random.Generator"):
        init.normal_(tg.zeros(4), generator=torch.Generator())


def test_initialisers_record_no_graph():
    w = nn.Parameter(np.zeros((3, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.orthogonal_(w)
    assert w.is_leaf and w.requires_grad and w.grad is None


def test_an_initialiser_invalidates_a_graph_that_saved_the_old_values():
    """As torch: the write is an in-place op, so a pending backward through the old values
    refuses to run instead of using the new ones."""
    ours = nn.Parameter(np.ones((2, 2)))
    loss = (ours * ours).sum()
    init.zeros_(ours)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    theirs = torch.nn.Parameter(torch.ones(2, 2, dtype=torch.float64))
    torch_loss = (theirs * theirs).sum()
    torch.nn.init.zeros_(theirs)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch_loss.backward()
