"""Bad inputs to the ops, functions, layers and losses added for torch breadth: each row
raises torch's exception class for the same call, with a message naming the function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - torch's usual alias

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias

X, TX = tg.ones(2, 3), torch.ones(2, 3)
LONG, TLONG = tg.ones(2, dtype=tg.int64), torch.ones(2, dtype=torch.long)

# name -> (our call, torch's call, a word the message must contain)
ROWS: dict[str, tuple[Callable[[], Any], Callable[[], Any], str]] = {
    "expand to another size": (lambda: X.expand(2, 4), lambda: TX.expand(2, 4), "expand"),
    "repeat with too few sizes": (lambda: X.repeat(2), lambda: TX.repeat(2), "repeat"),
    "split sizes not adding up": (lambda: X.split([1, 1], 1), lambda: TX.split([1, 1], 1), "split"),
    "narrow past the end": (lambda: X.narrow(1, 2, 2), lambda: TX.narrow(1, 2, 2), "narrow"),
    "unflatten wrong sizes": (lambda: X.unflatten(1, (2, 2)), lambda: TX.unflatten(1, (2, 2)), "unflatten"),
    "flatten start after end": (lambda: X.flatten(1, 0), lambda: TX.flatten(1, 0), "flatten"),
    "gather float index": (
        lambda: X.gather(1, np.zeros((2, 3))),
        lambda: TX.gather(1, torch.zeros(2, 3)),
        "gather",
    ),
    "gather index dims": (
        lambda: X.gather(1, np.zeros(2, np.int64)),
        lambda: TX.gather(1, torch.zeros(2, dtype=torch.long)),
        "dimensions",
    ),
    "topk k too large": (lambda: X.topk(4), lambda: TX.topk(4), "topk"),
    "tril of a vector": (lambda: tg.ones(3).tril(), lambda: torch.ones(3).tril(), "tril"),
    "bmm of matrices": (lambda: X.bmm(X), lambda: TX.bmm(TX), "bmm"),
    "masked_fill int mask": (
        lambda: X.masked_fill(np.ones((2, 3), np.int64), 0.0),
        lambda: TX.masked_fill(torch.ones(2, 3, dtype=torch.long), 0.0),
        "masked_fill",
    ),
    "argmin of an empty dim": (
        lambda: tg.zeros(2, 0).argmin(1),
        lambda: torch.zeros(2, 0).argmin(1),
        "argmin",
    ),
    "amax of an empty dim": (lambda: tg.zeros(2, 0).amax(1), lambda: torch.zeros(2, 0).amax(1), "amax"),
    "einsum repeated letter": (
        lambda: tg.einsum("ii->i", X),
        lambda: torch.einsum("ii->i", TX),
        "einsum",
    ),
    "einsum missing operand": (
        lambda: tg.einsum("ij,jk->ik", X),
        lambda: torch.einsum("ij,jk->ik", TX),
        "einsum",
    ),
    "randint empty range": (lambda: tg.randint(3, 3, (2,)), lambda: torch.randint(3, 3, (2,)), "randint"),
    "linspace negative steps": (lambda: tg.linspace(0, 1, -1), lambda: torch.linspace(0, 1, -1), "steps"),
    "gelu unknown approximation": (
        lambda: F.gelu(X, approximate="fast"),
        lambda: TF.gelu(TX, approximate="fast"),
        "approximate",
    ),
    "gelu of integers": (lambda: F.gelu(LONG), lambda: TF.gelu(TLONG), "gelu"),
    "hardtanh min above max": (lambda: F.hardtanh(X, 1.0, 0.0), lambda: TF.hardtanh(TX, 1.0, 0.0), "min_val"),
    "pad odd length": (lambda: F.pad(X, (1,)), lambda: TF.pad(TX, (1,)), "pad"),
    "layer_norm wrong shape": (lambda: F.layer_norm(X, (2,)), lambda: TF.layer_norm(TX, (2,)), "layer_norm"),
    "sdpa mask and causal": (
        lambda: F.scaled_dot_product_attention(X, X, X, attn_mask=np.ones((2, 2), bool), is_causal=True),
        lambda: TF.scaled_dot_product_attention(
            TX, TX, TX, attn_mask=torch.ones(2, 2, dtype=torch.bool), is_causal=True
        ),
        "attn_mask",
    ),
    "label_smoothing above 1": (
        lambda: F.cross_entropy(X, np.array([0, 1]), label_smoothing=1.5),
        lambda: TF.cross_entropy(TX, torch.tensor([0, 1]), label_smoothing=1.5),
        "label_smoothing",
    ),
    "bce input above 1": (
        lambda: F.binary_cross_entropy(X * 2, np.ones((2, 3))),
        lambda: TF.binary_cross_entropy(TX * 2, torch.ones(2, 3)),
        "between 0 and 1",
    ),
    "bce target shape": (
        lambda: F.binary_cross_entropy(X * 0.5, np.ones(3)),
        lambda: TF.binary_cross_entropy(TX * 0.5, torch.ones(3)),
        "size",
    ),
    "smooth_l1 negative beta": (
        lambda: F.smooth_l1_loss(X, X, beta=-1.0),
        lambda: TF.smooth_l1_loss(TX, TX, beta=-1.0),
        "beta",
    ),
    "huber zero delta": (
        lambda: F.huber_loss(X, X, delta=0.0),
        lambda: TF.huber_loss(TX, TX, delta=0.0),
        "delta",
    ),
    "kl_div bad reduction": (
        lambda: F.kl_div(X, X, reduction="avg"),
        lambda: TF.kl_div(TX, TX, reduction="avg"),
        "reduction",
    ),
    "nll_loss input list": (
        lambda: F.nll_loss([[0.0, 1.0]], np.array([0])),
        lambda: TF.nll_loss([[0.0, 1.0]], torch.tensor([0])),
        "input",
    ),
    "MultiheadAttention heads not dividing": (
        lambda: nn.MultiheadAttention(6, 4),
        lambda: torch.nn.MultiheadAttention(6, 4),
        "divisible",
    ),
    "Hardtanh min above max": (lambda: nn.Hardtanh(1.0, 0.0), lambda: torch.nn.Hardtanh(1.0, 0.0), "max_val"),
}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_bad_input_raises_torchs_class(name):
    ours, theirs, word = ROWS[name]
    with pytest.raises(Exception) as torch_error:
        theirs()
    with pytest.raises(type(torch_error.value)) as our_error:
        ours()
    assert word in str(our_error.value), f"{name}: message does not say {word!r}: {our_error.value}"
