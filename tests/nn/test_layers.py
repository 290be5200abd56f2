"""Linear, Embedding, Dropout and the Module machinery, checked against torch.nn in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn

from ..helpers import assert_close

rng = np.random.default_rng(7)


def to_torch(module: nn.Module, reference: torch.nn.Module) -> torch.nn.Module:
    """``reference`` in float64 holding ``module``'s weights."""
    reference = reference.double()
    reference.load_state_dict({k: torch.tensor(v) for k, v in module.state_dict().items()})
    return reference


# --------------------------------------------------------------------------- Linear


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch_forward_and_backward(shape, bias):
    layer = nn.Linear(3, 4, bias=bias).double()
    reference = to_torch(layer, torch.nn.Linear(3, 4, bias=bias))
    x_np = rng.standard_normal(shape)
    x = tg.Tensor(x_np, requires_grad=True)
    x_t = torch.tensor(x_np, requires_grad=True)
    out, out_t = layer(x), reference(x_t)
    assert_close(out, out_t, "forward")
    seed = rng.standard_normal(out.shape)
    out.backward(seed)
    out_t.backward(torch.tensor(seed))
    assert_close(x.grad, x_t.grad, "input grad")
    assert_close(layer.weight.grad, reference.weight.grad, "weight grad")
    if bias:
        assert_close(layer.bias.grad, reference.bias.grad, "bias grad")
    else:
        assert layer.bias is None
        assert [n for n, _ in layer.named_parameters()] == ["weight"]


def test_linear_is_one_node_in_the_graph():
    out = nn.Linear(3, 4)(tg.Tensor(np.ones((2, 3), np.float32), requires_grad=True))
    assert out.op.name == "linear"


def test_linear_init_follows_torch_bounds_and_seed():
    tg.manual_seed(3)
    layer = nn.Linear(16, 500)
    assert layer.weight.shape == (500, 16) and layer.bias.shape == (500,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    bound = 1 / np.sqrt(16)
    w = layer.weight.detach().numpy()
    assert np.all(np.abs(w) <= bound) and np.all(np.abs(layer.bias.detach().numpy()) <= bound)
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound  # uniform over the whole range
    assert abs(w.mean()) < 0.01 and abs(w.std() - bound / np.sqrt(3)) < 0.005
    tg.manual_seed(3)
    again = nn.Linear(16, 500)
    np.testing.assert_array_equal(again.weight.detach().numpy(), w)
    assert layer.weight.requires_grad and layer.weight.is_leaf


def test_linear_dtype_argument():
    layer = nn.Linear(2, 3, dtype=np.float64)
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64


def test_linear_feature_mismatch_names_expected_and_got():
    layer = nn.Linear(3, 4)
    with pytest.raises(ValueError, match=r"3 features.*\(2, 5\)"):
        layer(tg.Tensor(np.ones((2, 5), np.float32)))


def test_linear_dtype_mismatch_is_an_error_not_an_upcast():
    layer = nn.Linear(3, 4)
    with pytest.raises(RuntimeError, match="float64.*float32"):
        layer(tg.Tensor(np.ones((2, 3))))
    with pytest.raises(RuntimeError, match="int64"):
        layer(tg.Tensor(np.ones((2, 3), np.int64)))


@pytest.mark.parametrize("bias", [True, False])
def test_linear_repr_matches_torch(bias):
    assert repr(nn.Linear(3, 4, bias=bias)) == repr(torch.nn.Linear(3, 4, bias=bias))


# --------------------------------------------------------------------------- Embedding


def test_embedding_matches_torch_with_repeated_indices():
    layer = nn.Embedding(6, 3).double()
    reference = to_torch(layer, torch.nn.Embedding(6, 3))
    indices = np.array([[1, 4, 1], [0, 1, 5]])
    out = layer(tg.Tensor(indices))
    out_t = reference(torch.tensor(indices))
    assert out.shape == (2, 3, 3)
    assert_close(out, out_t, "forward")
    seed = rng.standard_normal(out.shape)
    out.backward(seed)
    out_t.backward(torch.tensor(seed))
    assert_close(layer.weight.grad, reference.weight.grad, "weight grad (repeats add up)")


@pytest.mark.parametrize("indices", [np.array(2), [3, 3, 0], np.array([[[1]]], dtype=np.int32)])
def test_embedding_accepts_any_index_shape(indices):
    layer = nn.Embedding(4, 2)
    out = layer(indices)
    assert out.shape == np.shape(indices) + (2,)
    np.testing.assert_array_equal(out.detach().numpy(), layer.weight.detach().numpy()[np.asarray(indices)])


@pytest.mark.parametrize("bad", [6, -1])
def test_embedding_out_of_range_names_value_and_range(bad):
    with pytest.raises(IndexError, match=rf"index {bad} .*6 embeddings.*0 to 5"):
        nn.Embedding(6, 3)(np.array([0, bad]))


def test_embedding_rejects_float_indices():
    with pytest.raises(TypeError, match="integers"):
        nn.Embedding(6, 3)(np.array([0.0, 1.0]))


def test_embedding_init_is_standard_normal():
    w = nn.Embedding(1000, 50).weight.detach().numpy()
    assert w.dtype == np.float32
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01


def test_embedding_repr_matches_torch():
    assert repr(nn.Embedding(5, 2)) == repr(torch.nn.Embedding(5, 2))


# --------------------------------------------------------------------------- Dropout


def test_dropout_eval_is_identity():
    layer = nn.Dropout(0.5).eval()
    x = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert layer(x) is x


def test_dropout_p_zero_is_identity_in_training():
    x = tg.Tensor(rng.standard_normal((3, 4)))
    assert nn.Dropout(0.0)(x) is x


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_training_mask_statistics_and_scale(p):
    x = tg.Tensor(rng.uniform(1.0, 2.0, (400, 500)))  # no zeros of its own
    out = nn.Dropout(p)(x).detach().numpy()
    kept = out != 0
    assert abs(1 - kept.mean() - p) < 0.005  # 200,000 draws: std of the fraction ~ 0.001
    np.testing.assert_allclose(out[kept], x.detach().numpy()[kept] / (1 - p), rtol=1e-15)


def test_dropout_gradient_flows_only_through_kept_units_with_scale():
    p = 0.3
    x = tg.Tensor(rng.standard_normal((50, 40)), requires_grad=True)
    out = nn.Dropout(p)(x)
    seed = rng.standard_normal(out.shape)
    out.backward(seed)
    kept = out.detach().numpy() != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(x.grad.detach().numpy()[kept], seed[kept] / (1 - p), rtol=1e-15)
    assert np.all(x.grad.detach().numpy()[~kept] == 0)


def test_dropout_p_one_zeroes_everything():
    x = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    out = nn.Dropout(1.0)(x)
    assert np.all(out.detach().numpy() == 0)
    out.sum().backward()
    assert np.all(x.grad.detach().numpy() == 0)


def test_dropout_mask_follows_the_library_seed():
    x = tg.Tensor(np.ones((10, 10)))
    tg.manual_seed(11)
    first = nn.Dropout(0.5)(x).detach().numpy()
    tg.manual_seed(11)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).detach().numpy(), first)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_validates_p(p):
    with pytest.raises(ValueError, match=f"between 0 and 1, but got {p}"):
        nn.Dropout(p)


def test_dropout_keeps_float32():
    assert nn.Dropout(0.5)(tg.Tensor(np.ones((4, 4), np.float32))).dtype == np.float32


def test_dropout_repr():
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"


# --------------------------------------------------------------------------- Module


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.layers = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
        self.drop = nn.Dropout(0.1)


class TorchNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(5, 3)
        self.layers = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
        self.drop = torch.nn.Dropout(0.1)


def test_named_parameters_order_and_names_match_torch():
    ours = [(n, p.shape) for n, p in Net().named_parameters()]
    theirs = [(n, tuple(p.shape)) for n, p in TorchNet().named_parameters()]
    assert ours == theirs
    assert [p.name for p in Net().parameters()] == [n for n, _ in ours]


def test_state_dict_round_trip_and_copies():
    net, other = Net(), Net()
    state = net.state_dict()
    assert list(state) == [n for n, _ in net.named_parameters()]
    state["emb.weight"][0, 0] = 123.0  # a copy: the model is unchanged
    assert net.emb.weight.detach().numpy()[0, 0] != 123.0
    other.load_state_dict(net.state_dict())
    for (name, a), (_, b) in zip(net.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=name)


def test_state_dict_loads_into_torch_and_back():
    net = Net().double()
    reference = to_torch(net, TorchNet())
    x = np.array([[0, 4], [2, 2]])
    reference.eval()
    net.eval()
    expected = reference.layers(reference.emb(torch.tensor(x)))
    assert_close(net.layers(net.emb(x)), expected, "forward with torch's weights")
    back = Net().double()
    back.load_state_dict(reference.state_dict())
    assert_close(back.layers[1].weight, reference.layers[1].weight, "torch -> ours")


def test_load_state_dict_names_missing_and_unexpected_keys():
    state = Net().state_dict()
    del state["layers.1.bias"]
    state["layers.2.weight"] = np.zeros((2, 2))
    with pytest.raises(
        RuntimeError,
        match=r'(?s)Unexpected key\(s\) in state_dict: "layers.2.weight".*'
        r'Missing key\(s\) in state_dict: "layers.1.bias"',
    ):
        Net().load_state_dict(state)
    result = Net().load_state_dict(state, strict=False)
    assert result.missing_keys == ["layers.1.bias"] and result.unexpected_keys == ["layers.2.weight"]


def test_load_state_dict_shape_mismatch_names_key_and_both_shapes_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    state = Net().state_dict()
    state["layers.0.weight"] = np.zeros((3, 4), np.float32)
    with pytest.raises(RuntimeError, match=r"layers\.0\.weight.*\(3, 4\).*\(4, 3\)"):
        net.load_state_dict(state)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_load_state_dict_casts_to_the_parameter_dtype():
    net = Net()
    net.load_state_dict({k: v.astype(np.float64) for k, v in Net().state_dict().items()})
    assert all(p.dtype == np.float32 for p in net.parameters())


def test_zero_grad_resets_every_gradient():
    net = Net()
    out = net.layers(net.emb(np.array([1, 2])))
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_train_and_eval_reach_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    x = tg.Tensor(np.ones((2, 3)))
    assert net.drop(x) is x
    net.train()
    assert all(m.training for m in net.modules())


def test_float_and_double_convert_parameters_and_grads():
    net = Net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    net.layers(net.emb(np.array([1]))).sum().backward()
    net.float()
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in net.parameters())
    assert all(p.requires_grad for p in net.parameters())


def test_repr_matches_torch():
    class Small(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.layers = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2, bias=False))

    class SmallTorch(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(5, 3)
            self.layers = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2, bias=False))

    assert repr(Small()).replace("Small", "") == repr(SmallTorch()).replace("SmallTorch", "")
