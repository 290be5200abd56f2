"""Arrays the graph keeps for backward (indices, targets) are private copies: changing the
caller's array after the forward cannot move a gradient. Each test changes the array
between forward and backward and compares with torch run on the original values."""

from __future__ import annotations

import numpy as np
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's spelling

from ..helpers import assert_close


def test_embedding_indices_changed_after_forward():
    ours = nn.Embedding(5, 3).double()
    theirs = torch.nn.Embedding(5, 3).double()
    theirs.weight.data = torch.from_numpy(ours.weight._data.copy())
    for as_tensor in (False, True):
        ours.zero_grad()
        theirs.zero_grad()
        indices = np.array([[1, 2], [1, 4]])
        given = tg.Tensor(indices) if as_tensor else indices
        out = ours(given)
        reference = theirs(torch.from_numpy(indices.copy()))
        (given._data if as_tensor else indices)[...] = 0  # the caller reuses the buffer
        scale = np.arange(12.0).reshape(2, 2, 3)
        (out * tg.Tensor(scale)).sum().backward()
        (reference * torch.from_numpy(scale)).sum().backward()
        assert_close(ours.weight.grad, theirs.weight.grad, f"embedding grad (Tensor indices: {as_tensor})")


def test_cross_entropy_targets_changed_after_forward():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 3))
    for kwargs in ({}, {"ignore_index": 2}, {"weight": np.array([0.5, 1.0, 2.0])}):
        targets = np.array([0, 2, 1, 2])
        x = tg.Tensor(logits, requires_grad=True)
        loss = F.cross_entropy(x, targets, **kwargs)
        torch_kwargs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        tx = torch.tensor(logits, requires_grad=True)
        reference = torch.nn.functional.cross_entropy(tx, torch.from_numpy(targets.copy()), **torch_kwargs)
        targets[...] = 0
        loss.backward()
        reference.backward()
        assert_close(loss, reference.detach(), f"loss {kwargs}")
        assert_close(x.grad, tx.grad, f"grad {kwargs}")


def test_cross_entropy_k_dimensional_targets_changed_after_forward():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((2, 3, 4))
    targets = rng.integers(0, 3, (2, 4))
    x = tg.Tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, tg.Tensor(targets), reduction="sum")
    tx = torch.tensor(logits, requires_grad=True)
    reference = torch.nn.functional.cross_entropy(tx, torch.from_numpy(targets.copy()), reduction="sum")
    targets[...] = 2
    loss.backward()
    reference.backward()
    assert_close(x.grad, tx.grad, "grad")


def test_mse_loss_target_changed_after_forward():
    rng = np.random.default_rng(2)
    prediction, target = rng.standard_normal(6), rng.standard_normal(6)
    x = tg.Tensor(prediction, requires_grad=True)
    loss = F.mse_loss(x, target)
    tx = torch.tensor(prediction, requires_grad=True)
    reference = torch.nn.functional.mse_loss(tx, torch.from_numpy(target.copy()))
    target[...] = 100.0
    loss.backward()
    reference.backward()
    assert_close(x.grad, tx.grad, "grad")


def test_an_index_array_changed_after_indexing_does_not_move_the_gradient():
    # (torch 2.13 shares a numpy index's memory and sends this gradient to element 3)
    x = tg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    idx = np.array([0, 1])
    y = x[idx]
    idx[:] = 3
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 0.0, 0.0])
