"""Activation modules, LayerNorm, MultiheadAttention and the new loss modules against torch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn

from ..helpers import assert_close, check_op

rng = np.random.default_rng(5)


def randn(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


MODULES = [
    ("ReLU", (), {}),
    ("Tanh", (), {}),
    ("Sigmoid", (), {}),
    ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}),
    ("LeakyReLU", (0.1,), {}),
    ("ELU", (), {"alpha": 0.7}),
    ("SiLU", (), {}),
    ("Softplus", (), {"beta": 2.0}),
    ("Hardtanh", (-0.5, 0.5), {}),
    ("Softmax", (), {"dim": 1}),
    ("LogSoftmax", (), {"dim": -1}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), MODULES)
def test_activation_modules(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    check_op(ours, theirs, [randn(3, 4)])


def test_softmax_without_dim_uses_torchs_legacy_choice_and_warns():
    x = randn(2, 3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = nn.Softmax()(tg.tensor(x))
    with pytest.warns(UserWarning):
        theirs = torch.nn.Softmax()(torch.tensor(x))
    assert_close(ours, theirs, "Softmax()")


def test_sequential_of_activation_modules_trains_like_torch():
    tg.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 3), nn.LogSoftmax(dim=1)).double()
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 3), torch.nn.LogSoftmax(dim=1)
    ).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x, target = randn(5, 4), np.array([0, 2, 1, 1, 0])
    loss = nn.NLLLoss()(ours(tg.tensor(x)), target)
    loss_t = torch.nn.NLLLoss()(theirs(torch.tensor(x)), torch.tensor(target))
    loss.backward()
    loss_t.backward()
    assert_close(loss, loss_t, "loss")
    for (name, p), p_t in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, p_t.grad, f"gradient of {name}")


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_module(affine):
    ours, theirs = (
        nn.LayerNorm((3, 4), elementwise_affine=affine).double(),
        torch.nn.LayerNorm((3, 4), elementwise_affine=affine).double(),
    )
    if affine:
        weight, bias = randn(3, 4), randn(3, 4)
        ours.load_state_dict({"weight": weight, "bias": bias})
        theirs.load_state_dict({"weight": torch.tensor(weight), "bias": torch.tensor(bias)})
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    check_op(ours, theirs, [randn(2, 3, 4)])
    assert [n for n, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]


def _attention_pair(embed_dim, num_heads, batch_first, **kwargs):
    tg.manual_seed(1)
    ours = nn.MultiheadAttention(embed_dim, num_heads, batch_first=batch_first, **kwargs).double()
    theirs = torch.nn.MultiheadAttention(embed_dim, num_heads, batch_first=batch_first, **kwargs).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_matches_torch(batch_first, average):
    ours, theirs = _attention_pair(8, 2, batch_first)
    shape_q, shape_kv = ((3, 5, 8), (3, 6, 8)) if batch_first else ((5, 3, 8), (6, 3, 8))
    padding = np.zeros((3, 6), dtype=bool)
    padding[0, 4:] = True
    padding[2, 1] = True
    q, k, v = randn(*shape_q), randn(*shape_kv), randn(*shape_kv)

    def run(module, lib, a, b, c):
        mask = lib.tensor(padding) if lib is torch else padding
        out, weights = module(a, b, c, key_padding_mask=mask, average_attn_weights=average)
        return out * 1.0 + (weights * 0.5).sum()

    check_op(lambda a, b, c: run(ours, tg, a, b, c), lambda a, b, c: run(theirs, torch, a, b, c), [q, k, v])
    check_op(lambda a: ours(a, a, a)[0], lambda a: theirs(a, a, a)[0], [q])
    out, weights = ours(
        tg.tensor(q), tg.tensor(k), tg.tensor(v), key_padding_mask=padding, average_attn_weights=average
    )
    out_t, weights_t = theirs(
        torch.tensor(q),
        torch.tensor(k),
        torch.tensor(v),
        key_padding_mask=torch.tensor(padding),
        average_attn_weights=average,
    )
    assert_close(weights, weights_t, "attention weights")
    ours.zero_grad()
    out.sum().backward()
    out_t.sum().backward()
    for (name, p), p_t in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, p_t.grad, f"gradient of {name}")


def test_multihead_attention_masks_kdim_and_unbatched():
    ours, theirs = _attention_pair(4, 2, False, kdim=3, vdim=5)
    q, k, v = randn(2, 1, 4), randn(3, 1, 3), randn(3, 1, 5)
    causal = np.triu(np.ones((2, 3), dtype=bool), 1)
    float_mask = randn(2, 3)
    for mask in (causal, float_mask):
        out, w = ours(tg.tensor(q), tg.tensor(k), tg.tensor(v), attn_mask=mask)
        out_t, w_t = theirs(torch.tensor(q), torch.tensor(k), torch.tensor(v), attn_mask=torch.tensor(mask))
        assert_close(out, out_t, "output")
        assert_close(w, w_t, "weights")
    out, w = ours(tg.tensor(q[:, 0]), tg.tensor(k[:, 0]), tg.tensor(v[:, 0]), need_weights=False)
    out_t, _ = theirs(torch.tensor(q[:, 0]), torch.tensor(k[:, 0]), torch.tensor(v[:, 0]), need_weights=False)
    assert w is None
    assert_close(out, out_t, "unbatched output")
    with pytest.raises(AssertionError, match="divisible"):
        nn.MultiheadAttention(6, 4)


LOSSES = [
    ("L1Loss", {}, "regression"),
    ("SmoothL1Loss", {"beta": 0.5}, "regression"),
    ("HuberLoss", {"delta": 0.7, "reduction": "sum"}, "regression"),
    ("BCEWithLogitsLoss", {"pos_weight": np.array([1.0, 2.0, 0.5, 3.0])}, "binary"),
    ("BCELoss", {"reduction": "none"}, "probability"),
    ("KLDivLoss", {"reduction": "batchmean"}, "distribution"),
    ("NLLLoss", {"ignore_index": 1}, "classes"),
    ("CrossEntropyLoss", {"label_smoothing": 0.1}, "classes"),
]


@pytest.mark.parametrize(("name", "kwargs", "kind"), LOSSES)
def test_loss_modules(name, kwargs, kind):
    x = randn(3, 4)
    target = {
        "regression": randn(3, 4),
        "binary": rng.uniform(0, 1, (3, 4)),
        "probability": rng.uniform(0, 1, (3, 4)),
        "distribution": rng.dirichlet(np.ones(4), 3),
        "classes": np.array([0, 1, 3]),
    }[kind]
    if kind == "probability":
        x = rng.uniform(0.1, 0.9, (3, 4))
    if kind == "distribution":
        x = np.log(rng.dirichlet(np.ones(4), 3))
    torch_kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**torch_kwargs)
    check_op(lambda a: ours(a, target), lambda a: theirs(a, torch.tensor(target)), [x])
