"""The bad-input table: each row calls a public function with a wrong argument and asserts
the exception class (torch's, where torch has the function) and that the message names the
argument. Where torch raises the same class for the same call, the row checks that too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.autograd import gradcheck
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's spelling
from tinygrad_rnn.nn.utils import clip_grad_norm_

X = tg.Tensor(np.ones((2, 3)), requires_grad=True)
W = tg.Tensor(np.ones((4, 3)))
TX = torch.ones(2, 3, dtype=torch.float64)
TW = torch.ones(4, 3, dtype=torch.float64)
LABELS = np.array([0, 1])


class Row(NamedTuple):
    call: Callable[[], Any]
    error: type[BaseException]
    names: str  # words the message must contain
    torch_call: Callable[[], Any] | None = None  # raises the same class in torch


def _save(state: Any) -> Callable[[], Any]:
    return lambda: tg.save(state, "/nonexistent-folder/never-written.npz")


TABLE: dict[str, Row] = {
    # nn.Linear / F.linear
    "Linear input list": Row(
        lambda: nn.Linear(3, 4)([1.0, 2.0, 3.0]),
        TypeError,
        "'input'",
        lambda: torch.nn.Linear(3, 4)([1.0, 2.0, 3.0]),
    ),
    "Linear input array": Row(
        lambda: nn.Linear(3, 4)(np.ones(3, np.float32)),
        TypeError,
        "'input'",
        lambda: torch.nn.Linear(3, 4)(np.ones(3, np.float32)),
    ),
    "Linear input scalar": Row(
        lambda: nn.Linear(3, 4)(1.0), TypeError, "'input'", lambda: torch.nn.Linear(3, 4)(1.0)
    ),
    "Linear input torch": Row(lambda: nn.Linear(3, 4)(torch.ones(3)), TypeError, "'input'"),
    "linear input list": Row(
        lambda: F.linear([[1.0, 2.0, 3.0]], W),
        TypeError,
        "'input'",
        lambda: torch.nn.functional.linear([[1.0, 2.0, 3.0]], TW),
    ),
    "linear weight array": Row(
        lambda: F.linear(X, np.ones((4, 3))),
        TypeError,
        "'weight'",
        lambda: torch.nn.functional.linear(TX, np.ones((4, 3))),
    ),
    "linear bias list": Row(
        lambda: F.linear(X, W, [0.0] * 4),
        TypeError,
        "'bias'",
        lambda: torch.nn.functional.linear(TX, TW, [0.0] * 4),
    ),
    # losses
    "mse_loss input list": Row(lambda: F.mse_loss([1.0, 2.0], np.ones(2)), TypeError, "'input'"),
    "mse_loss input array": Row(lambda: F.mse_loss(np.ones(2), np.ones(2)), TypeError, "'input'"),
    "mse_loss target strings": Row(lambda: F.mse_loss(X, np.full((2, 3), "1.5")), TypeError, "target"),
    "mse_loss target complex": Row(lambda: F.mse_loss(X, np.ones((2, 3), complex)), TypeError, "target"),
    "mse_loss reduction": Row(
        lambda: F.mse_loss(X, np.ones((2, 3)), reduction="avg"),
        ValueError,
        "reduction",
        lambda: torch.nn.functional.mse_loss(TX, TX, reduction="avg"),
    ),
    "MSELoss input list": Row(lambda: nn.MSELoss()([1.0], np.ones(1)), TypeError, "'input'"),
    "cross_entropy input array": Row(
        lambda: F.cross_entropy(np.ones((2, 3)), LABELS),
        TypeError,
        "'input'",
        lambda: torch.nn.functional.cross_entropy(np.ones((2, 3)), torch.tensor([0, 1])),
    ),
    "cross_entropy input list": Row(
        lambda: F.cross_entropy([[1.0, 2.0]], [0]),
        TypeError,
        "'input'",
        lambda: torch.nn.functional.cross_entropy([[1.0, 2.0]], torch.tensor([0])),
    ),
    "cross_entropy input scalar": Row(
        lambda: F.cross_entropy(1.0, 0),
        TypeError,
        "'input'",
        lambda: torch.nn.functional.cross_entropy(1.0, torch.tensor(0)),
    ),
    "cross_entropy target floats": Row(lambda: F.cross_entropy(X, np.array([0.5, 1.0])), TypeError, "target"),
    "cross_entropy target strings": Row(
        lambda: F.cross_entropy(X, np.array(["0", "1"])), TypeError, "target"
    ),
    "cross_entropy target None": Row(lambda: F.cross_entropy(X, None), TypeError, "target"),
    "cross_entropy weight strings": Row(
        lambda: F.cross_entropy(X, LABELS, np.array(["1", "1", "1"])), TypeError, "weight"
    ),
    "CrossEntropyLoss weight complex": Row(
        lambda: nn.CrossEntropyLoss(weight=np.ones(3, complex)), TypeError, "weight"
    ),
    "CrossEntropyLoss input list": Row(
        lambda: nn.CrossEntropyLoss()([[1.0, 2.0]], [0]),
        TypeError,
        "'input'",
        lambda: torch.nn.CrossEntropyLoss()([[1.0, 2.0]], torch.tensor([0])),
    ),
    # other functional entry points
    "relu input list": Row(
        lambda: F.relu([1.0]), TypeError, "'input'", lambda: torch.nn.functional.relu([1.0])
    ),
    "tanh input list": Row(lambda: F.tanh([1.0]), TypeError, "'input'"),
    "sigmoid input list": Row(lambda: F.sigmoid([1.0]), TypeError, "'input'"),
    "softmax input list": Row(lambda: F.softmax([1.0], 0), TypeError, "'input'"),
    "log_softmax input list": Row(lambda: F.log_softmax([1.0], 0), TypeError, "'input'"),
    "dropout input list": Row(
        lambda: F.dropout([1.0], 0.5), TypeError, "'input'", lambda: torch.nn.functional.dropout([1.0], 0.5)
    ),
    "embedding weight list": Row(
        lambda: F.embedding(np.array([0]), [[1.0, 2.0]]),
        TypeError,
        "'weight'",
        lambda: torch.nn.functional.embedding(torch.tensor([0]), [[1.0, 2.0]]),
    ),
    "Embedding float indices": Row(lambda: nn.Embedding(3, 2)(np.array([0.5])), TypeError, "indices"),
    "Embedding string indices": Row(lambda: nn.Embedding(3, 2)(np.array(["1"])), TypeError, "indices"),
    # modules
    "load_state_dict list": Row(
        lambda: nn.Linear(3, 4).load_state_dict([("weight", np.ones((4, 3)))]),
        TypeError,
        "state_dict",
        lambda: torch.nn.Linear(3, 4).load_state_dict([("weight", torch.ones(4, 3))]),
    ),
    "load_state_dict complex": Row(
        lambda: nn.Linear(3, 1).load_state_dict({"weight": np.ones((1, 3), complex), "bias": np.ones(1)}),
        RuntimeError,
        "weight",
    ),
    "Module.to int64": Row(
        lambda: nn.Linear(3, 4).to(np.int64),
        TypeError,
        "dtype",
        lambda: torch.nn.Linear(3, 4).to(torch.int64),
    ),
    "Module.to cuda": Row(lambda: nn.Linear(3, 4).to("cuda"), RuntimeError, "device"),
    # saving and loading
    "save list": Row(_save([("w", np.ones(1))]), TypeError, "state_dict"),
    "save int key": Row(_save({1: np.ones(1)}), TypeError, "key"),
    "save NUL key": Row(_save({"a\x00b": np.ones(1)}), ValueError, "key"),
    "save object value": Row(_save({"w": np.array([object()])}), TypeError, "'w'"),
    "save string value": Row(_save({"w": "text"}), TypeError, "'w'"),
    "load max_bytes": Row(lambda: tg.load("unused.npz", max_bytes=-5), ValueError, "max_bytes"),
    # autograd and utils
    "gradcheck list input": Row(lambda: gradcheck(lambda t: t, [[1.0, 2.0]]), TypeError, "input 0"),
    "gradcheck float32 input": Row(
        lambda: gradcheck(lambda t: t, tg.Tensor([1.0], requires_grad=True)), TypeError, "input 0"
    ),
    "clip_grad_norm_ nonfinite": Row(
        lambda: clip_grad_norm_(_with_grad(np.inf), 1.0, error_if_nonfinite=True),
        RuntimeError,
        "non-finite",
        lambda: torch.nn.utils.clip_grad_norm_(_torch_with_grad(np.inf), 1.0, error_if_nonfinite=True),
    ),
}


def _with_grad(value: float) -> tg.Tensor:
    p = tg.Tensor(np.zeros(2), requires_grad=True)
    p.grad = np.full(2, value)
    return p


def _torch_with_grad(value: float) -> torch.Tensor:
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.full((2,), value)
    return p


@pytest.mark.parametrize("case", sorted(TABLE))
def test_bad_input_raises_the_named_error(case):
    row = TABLE[case]
    with pytest.raises(Exception) as info:  # noqa: PT011 - the exact class is checked below
        row.call()
    assert type(info.value) is row.error, f"{case}: {type(info.value).__name__}: {info.value}"
    assert row.names in str(info.value), f"{case}: the message does not name {row.names}: {info.value}"
    if row.torch_call is not None:
        with pytest.raises(Exception) as theirs:  # noqa: PT011
            row.torch_call()
        assert isinstance(theirs.value, row.error), f"{case}: torch raises {type(theirs.value).__name__}"


def test_the_type_errors_say_how_to_fix_the_call():
    with pytest.raises(
        TypeError,
        match=r"linear\(\): argument 'input' \(position 1\) must be Tensor, not list; "
        r"wrap it with tinygrad_rnn.Tensor",
    ):
        F.linear([[1.0, 2.0, 3.0]], W)
    with pytest.raises(TypeError, match=r"not torch.Tensor; convert a torch tensor with"):
        nn.Linear(3, 4)(torch.ones(3))
    with pytest.raises(TypeError, match=r"not numpy.ndarray"):
        F.cross_entropy(np.ones((2, 3)), LABELS)
