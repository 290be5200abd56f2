"""load_state_dict is all or nothing: every value is checked and converted before any
parameter changes, and the errors are torch's classes (RuntimeError, TypeError)."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(3, 4)
        self.second = nn.Linear(4, 2)


def snapshot(module: nn.Module) -> dict[str, bytes]:
    return {name: p._data.tobytes() for name, p in module.named_parameters()}


def new_values(module: nn.Module) -> dict[str, np.ndarray]:
    """A valid state dict whose values all differ from the module's."""
    return {name: p._data + 1.0 for name, p in module.named_parameters()}


BAD_VALUES = {
    "complex array": np.ones((2, 4), dtype=np.complex128),
    "numeric strings": np.full((2, 4), "1.5"),
    "object array": np.full((2, 4), 1.0, dtype=object),
    "datetimes": np.full((2, 4), np.datetime64("2020-01-01")),
    "nested list": [[1.0] * 4] * 2,
    "python float": 1.0,
    "string": "1.0",
    "None": None,
    "date": datetime.date(2020, 1, 1),
    "torch complex": torch.ones(2, 4, dtype=torch.complex64),
    "torch bfloat16": torch.ones(2, 4, dtype=torch.bfloat16),
    "wrong shape": np.ones((4, 2)),
}


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
def test_a_bad_later_value_changes_no_parameter(kind):
    """The bad value comes after two good ones that a load checking while copying would have copied."""
    net = Net()
    before = snapshot(net)
    state = new_values(net)
    assert list(state) == ["first.weight", "first.bias", "second.weight", "second.bias"]
    state["second.weight"] = BAD_VALUES[kind]
    with pytest.raises(RuntimeError, match="Error\\(s\\) in loading state_dict for Net") as info:
        net.load_state_dict(state)
    assert "second.weight" in str(info.value)
    assert snapshot(net) == before, f"{kind}: the failed load changed parameters"


@pytest.mark.parametrize("kind", ["nested list", "python float", "string", "None", "wrong shape"])
def test_torch_raises_the_same_class_for_the_same_value(kind):
    theirs = torch.nn.Linear(4, 2)
    value = BAD_VALUES[kind]
    state = {
        "weight": torch.tensor(value) if isinstance(value, np.ndarray) else value,
        "bias": torch.zeros(2),
    }
    with pytest.raises(RuntimeError):
        theirs.load_state_dict(state)


def test_every_problem_is_reported_in_one_error():
    net = Net()
    state = new_values(net)
    state["first.weight"] = np.ones((9, 9))
    state["second.bias"] = np.ones(2, dtype=np.complex64)
    del state["first.bias"]
    state["extra"] = np.ones(1)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(state)
    message = str(info.value)
    for words in (
        'Unexpected key(s) in state_dict: "extra"',
        'Missing key(s) in state_dict: "first.bias"',
        "size mismatch for first.weight",
        '"second.bias"',
        "complex",
    ):
        assert words in message, words


def test_shape_errors_raise_even_when_not_strict():
    net = Net()
    before = snapshot(net)
    with pytest.raises(RuntimeError, match="size mismatch for first.bias"):
        net.load_state_dict({"first.bias": np.ones(5)}, strict=False)
    assert snapshot(net) == before
    theirs = torch.nn.Linear(3, 4)
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        theirs.load_state_dict({"bias": torch.ones(5)}, strict=False)


@pytest.mark.parametrize("state", [[("first.weight", np.ones((4, 3)))], "first.weight", None])
def test_a_state_dict_that_is_not_a_mapping_is_a_type_error_like_torch(state):
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        Net().load_state_dict(state)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        torch.nn.Linear(3, 4).load_state_dict(state)


def test_integer_and_bool_values_convert_as_in_torch():
    ours, theirs = nn.Linear(2, 3).double(), torch.nn.Linear(2, 3).double()
    state = {"weight": np.arange(6, dtype=np.int64).reshape(3, 2) - 2, "bias": np.array([True, False, True])}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    for name, p in ours.named_parameters():
        np.testing.assert_array_equal(p._data, theirs.state_dict()[name].numpy(), err_msg=name)
        assert p.dtype == np.float64


def test_loaded_arrays_are_private_writable_c_arrays():
    net = Net()
    source = new_values(net)
    source["first.weight"] = np.asfortranarray(source["first.weight"])
    source["first.bias"].flags.writeable = False
    net.load_state_dict(source)
    expected = {k: v.copy() for k, v in source.items()}
    source["second.weight"][...] = -7.0  # the caller's array changes afterwards
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p._data, expected[name].astype(np.float32), err_msg=name)
        assert p._data.flags.c_contiguous and p._data.flags.writeable, name


def test_torch_tensors_that_require_grad_load():
    theirs = torch.nn.Linear(3, 4)
    ours = nn.Linear(3, 4)
    ours.load_state_dict(dict(theirs.named_parameters()))
    np.testing.assert_array_equal(ours.weight._data, theirs.weight.detach().numpy())


def test_our_tensors_load():
    net = Net()
    state = {k: tg.Tensor(v) for k, v in new_values(net).items()}
    net.load_state_dict(state)
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p._data, state[name]._data.astype(np.float32), err_msg=name)
