"""Weights and gradients are changed in place, as in torch: references and tied weights see it."""

from __future__ import annotations

import numpy as np
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_


def test_load_state_dict_keeps_tied_weights_tied_as_torch():
    def tied(lib):
        embed = lib.nn.Embedding(4, 3)
        head = lib.nn.Linear(3, 4, bias=False)
        head.weight = embed.weight
        return embed, head

    embed, head = tied(tg)
    t_embed, t_head = tied(torch)
    values = np.arange(12.0).reshape(4, 3)
    embed.load_state_dict({"weight": values})
    t_embed.load_state_dict({"weight": torch.tensor(values, dtype=torch.float32)})
    assert np.shares_memory(embed.weight.detach().numpy(), head.weight.detach().numpy())
    np.testing.assert_array_equal(head.weight.detach().numpy(), t_head.weight.detach().numpy())


def test_a_weight_reference_sees_the_loaded_values():
    layer = nn.Linear(2, 2)
    alias = layer.weight.detach()
    layer.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    np.testing.assert_array_equal(alias.numpy(), np.eye(2, dtype=np.float32))


def test_clipping_changes_the_gradient_in_place_with_torchs_values():
    values = np.array([3.0, 4.0, 12.0])
    ours = tg.tensor(values, dtype=tg.float64, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    (ours * ours).sum().backward()
    (theirs * theirs).sum().backward()
    grad_ref, t_ref = ours.grad, theirs.grad
    norm = clip_grad_norm_([ours], max_norm=1.0)
    t_norm = torch.nn.utils.clip_grad_norm_([theirs], max_norm=1.0)
    assert norm.item() == t_norm.item()
    np.testing.assert_allclose(grad_ref.numpy(), t_ref.numpy(), rtol=1e-15)
    clip_grad_value_([ours], 0.1)
    torch.nn.utils.clip_grad_value_([theirs], 0.1)
    np.testing.assert_array_equal(grad_ref.numpy(), t_ref.numpy())
