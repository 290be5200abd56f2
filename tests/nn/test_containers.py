"""Identity, Flatten, ModuleDict, ParameterList and Embedding's padding_idx / max_norm /
scale_grad_by_freq against torch: values, gradients, registered names and state dicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias

from ..helpers import assert_close, check_op

# --------------------------------------------------------------------------- Identity, Flatten


def test_identity_returns_its_input_and_ignores_arguments():
    x = tg.randn(2, 3)
    assert nn.Identity(54, unused="argument")(x) is x
    assert repr(nn.Identity()) == repr(torch.nn.Identity()) == "Identity()"


@pytest.mark.parametrize(
    ("start_dim", "end_dim", "shape"),
    [
        (1, -1, (2, 3, 4)),
        (0, 1, (2, 3, 4)),
        (0, -1, (2, 3, 4)),
        (-2, -1, (2, 3, 4)),
        (1, 2, (2, 3, 4, 5)),
        (0, -1, ()),
        (1, 1, (2, 3)),
    ],
)
def test_flatten_matches_torch(start_dim, end_dim, shape):
    check_op(
        lambda x: nn.Flatten(start_dim, end_dim)(x),
        lambda x: torch.nn.Flatten(start_dim, end_dim)(x),
        [np.random.default_rng(0).standard_normal(shape)],
    )


def test_flatten_repr_and_errors_match_torch():
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())
    assert repr(nn.Flatten(0, 2)) == repr(torch.nn.Flatten(0, 2))
    with pytest.raises(IndexError, match=r"range of \[-1, 0\], but got 1"):
        nn.Flatten()(tg.zeros(5))
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        nn.Flatten(2, 1)(tg.zeros(2, 3, 4))


def test_sequential_with_flatten_matches_torch():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 2), torch.nn.Identity()).double()
    ours = nn.Sequential(nn.Flatten(), nn.Linear(6, 2), nn.Identity()).double()
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(1).standard_normal((4, 2, 3))
    assert_close(ours(tg.Tensor(x)), theirs(torch.tensor(x)), "output")


# --------------------------------------------------------------------------- ModuleDict


class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleDict({"tag": nn.Linear(3, 2), "score": nn.Linear(3, 1)})
        self.heads["extra"] = nn.Linear(3, 4)


class TorchHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = torch.nn.ModuleDict({"tag": torch.nn.Linear(3, 2), "score": torch.nn.Linear(3, 1)})
        self.heads["extra"] = torch.nn.Linear(3, 4)


def test_module_dict_registers_like_torch():
    ours, theirs = Heads(), TorchHeads()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    ours.load_state_dict(theirs.state_dict())
    assert ours.heads["tag"].weight.name == "heads.tag.weight"
    assert list(ours.heads) == list(ours.heads.keys()) == ["tag", "score", "extra"]
    assert len(ours.heads) == 3 and "score" in ours.heads and "other" not in ours.heads
    assert [type(m).__name__ for m in ours.heads.values()] == ["Linear"] * 3
    assert repr(ours.heads) == repr(theirs.heads)


def test_module_dict_mutation_follows_torch():
    ours = nn.ModuleDict([("a", nn.Linear(2, 2)), ("b", nn.Identity())])
    theirs = torch.nn.ModuleDict([("a", torch.nn.Linear(2, 2)), ("b", torch.nn.Identity())])
    for d in (ours, theirs):
        d.update({"c": type(d["b"])()})
        d["a"] = type(d["b"])()  # replacing keeps the position
        popped = d.pop("b")
        assert type(popped).__name__ == "Identity"
        del d["c"]
    assert list(ours.keys()) == list(theirs.keys()) == ["a"]
    assert list(ours.parameters()) == []
    ours.clear()
    assert len(ours) == 0


def test_module_dict_errors_match_torch():
    d = nn.ModuleDict()
    with pytest.raises(KeyError, match="must not contain a dot, got a.b"):
        d["a.b"] = nn.Identity()
    with pytest.raises(KeyError, match="must not be the empty string"):
        d[""] = nn.Identity()
    with pytest.raises(KeyError, match="attribute training already exists"):
        d["training"] = nn.Identity()
    with pytest.raises(TypeError, match="is not a Module subclass"):
        d["x"] = tg.zeros(2)
    with pytest.raises(KeyError):
        del d["missing"]
    with pytest.raises(ValueError, match="element #0 should be a"):
        d.update(["ab"])


# --------------------------------------------------------------------------- ParameterList


def test_parameter_list_registers_like_torch_and_trains():
    ours = nn.ParameterList([nn.Parameter(np.ones((2, 3))), tg.Tensor(np.zeros(3))])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2, 3)), torch.zeros(3)])
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours)
    ours.append(tg.Tensor(np.full(2, 2.0)))
    theirs.append(torch.full((2,), 2.0))
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert ours[-1].name == "2" and len(ours) == 3
    opt = optim.SGD(ours.parameters(), lr=0.5)
    (ours[0].sum() + ours[2].sum()).backward()
    opt.step()
    np.testing.assert_array_equal(ours[0].detach().numpy(), np.full((2, 3), 0.5))
    assert ours[1].grad is None


def test_parameter_list_wraps_a_tensor_sharing_its_memory_and_prints_like_torch():
    source = tg.Tensor(np.zeros(3))
    params = nn.ParameterList()
    params.append(source)
    assert params[0]._data is source._data
    params[0] = nn.Parameter([1.0, 2.0])
    assert params[0].tolist() == [1.0, 2.0]
    listed = nn.ParameterList([nn.Parameter(np.zeros((3, 2), dtype=np.float32))])
    assert repr(listed) == "ParameterList(\n    (0): Parameter containing: [float32 of size 3x2]\n)"
    with pytest.raises(TypeError, match="expected a Parameter or a Tensor"):
        params.append([1.0])
    with pytest.raises(IndexError, match="out of range"):
        params[5]
    with pytest.raises(TypeError, match="iterable"):
        params.extend(tg.zeros(2))


# --------------------------------------------------------------------------- Embedding

INDICES = np.array([[0, 2, 4, 2], [4, 4, 1, 3]])


def embedding_pair(**kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(5, 3, **kwargs).double()
    with torch.no_grad():
        theirs.weight.mul_(3)  # rows long enough for max_norm to act
    ours = nn.Embedding(5, 3, **kwargs).double()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"padding_idx": 4},
        {"padding_idx": -1},
        {"scale_grad_by_freq": True},
        {"padding_idx": 2, "scale_grad_by_freq": True},
        {"max_norm": 1.0},
        {"max_norm": 2.0, "norm_type": 1.0},
        {"max_norm": 0.5, "norm_type": float("inf"), "padding_idx": 0},
    ],
    ids=str,
)
def test_embedding_matches_torch(kwargs):
    ours, theirs = embedding_pair(**kwargs)
    out_o, out_t = ours(tg.Tensor(INDICES)), theirs(torch.tensor(INDICES))
    assert_close(out_o, out_t, "output")
    assert_close(ours.weight, theirs.weight, "weight after the lookup (max_norm renormalises in place)")
    g = np.random.default_rng(0).standard_normal(out_t.shape)
    (out_o * tg.Tensor(g)).sum().backward()
    (out_t * torch.tensor(g)).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad, "weight gradient")
    assert repr(ours) == repr(theirs)


def test_padding_row_starts_at_zero_and_never_gets_a_gradient_even_when_nonzero():
    emb = nn.Embedding(4, 2, padding_idx=1)
    np.testing.assert_array_equal(emb.weight.detach().numpy()[1], [0, 0])
    emb.weight.data = tg.Tensor(np.ones((4, 2), dtype=np.float32))
    out = emb([1, 1, 2])
    np.testing.assert_array_equal(out.detach().numpy()[0], [1, 1])  # read as it is
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy(), [[0, 0], [0, 0], [1, 1], [0, 0]])


def test_embedding_second_derivative_and_functional_form_match_torch():
    weight = np.random.default_rng(2).standard_normal((5, 3))
    check_op(
        lambda w: F.embedding(tg.Tensor(INDICES), w * w, padding_idx=2, scale_grad_by_freq=True),
        lambda w: torch.nn.functional.embedding(
            torch.tensor(INDICES), w * w, padding_idx=2, scale_grad_by_freq=True
        ),
        [weight],
    )


def test_max_norm_renormalises_only_the_rows_looked_up():
    ours, theirs = embedding_pair(max_norm=1.0)
    before = ours.weight.detach().numpy().copy()
    ours([0, 0])
    theirs(torch.tensor([0, 0]))
    after = ours.weight.detach().numpy()
    assert np.linalg.norm(after[0]) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(after[1:], before[1:])
    assert_close(ours.weight, theirs.weight, "weight")


def test_from_pretrained_matches_torch():
    table = np.arange(12.0).reshape(4, 3)
    ours = nn.Embedding.from_pretrained(tg.Tensor(table), padding_idx=0)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table), padding_idx=0)
    assert ours.weight.requires_grad is theirs.weight.requires_grad is False
    assert_close(ours([3, 0]), theirs(torch.tensor([3, 0])), "lookup")
    trainable = nn.Embedding.from_pretrained(tg.Tensor(table), freeze=False)
    assert trainable.weight.requires_grad
    with pytest.raises(AssertionError, match="2-dimensional"):
        nn.Embedding.from_pretrained(tg.zeros(3))


def test_embedding_errors_match_torch():
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 3, padding_idx=-6)
    with pytest.raises(ValueError, match="sparse=True is not supported"):
        nn.Embedding(5, 3, sparse=True)
    with pytest.raises(IndexError, match="index 5 is out of range for 5 embeddings"):
        nn.Embedding(5, 3)([5])
    with pytest.raises(TypeError, match="indices must be integers"):
        nn.Embedding(5, 3)(tg.zeros(2))
