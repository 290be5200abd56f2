"""nn.functional and the loss modules against torch.nn.functional, in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - torch's usual alias

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.engine import topological_order
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias

from ..helpers import assert_close, check_op

rng = np.random.default_rng(99)


def randn(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


# --------------------------------------------------------------------------- layers


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_matches_torch(x_shape):
    check_op(F.linear, TF.linear, [randn(*x_shape), randn(4, 3), randn(4)])
    check_op(F.linear, TF.linear, [randn(*x_shape), randn(4, 3)])


def test_linear_rejects_mixed_dtypes_with_torchs_class():
    with pytest.raises(RuntimeError):
        TF.linear(torch.ones(2, 3), torch.ones(4, 3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="float32.*float64"):
        F.linear(tg.Tensor(np.ones((2, 3), np.float32)), tg.Tensor(np.ones((4, 3))))
    with pytest.raises(RuntimeError, match="same dtype, got float32 and float64"):
        tg.Tensor(np.ones((2, 3), np.float32)) @ tg.Tensor(np.ones((3, 4)))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family_matches_torch(dim):
    x = randn(3, 4, 5)
    check_op(lambda t: F.softmax(t, dim), lambda t: TF.softmax(t, dim), [x])
    check_op(lambda t: F.log_softmax(t, dim), lambda t: TF.log_softmax(t, dim), [x])


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
def test_activations_match_torch(name):
    check_op(getattr(F, name), getattr(torch, name), [randn(3, 4)])


def test_dropout_function():
    x = tg.Tensor(randn(20, 20))
    assert F.dropout(x, 0.5, training=False) is x
    out = F.dropout(x, 0.25)
    kept = out.detach().numpy() != 0
    np.testing.assert_allclose(out.detach().numpy()[kept], x.detach().numpy()[kept] / 0.75, rtol=1e-15)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 2.0)


# --------------------------------------------------------------------------- one_hot


@pytest.mark.parametrize("shape", [(5,), (2, 3), ()])
def test_one_hot_matches_torch(shape):
    indices = rng.integers(0, 4, shape)
    ours = F.one_hot(indices, 4)
    theirs = TF.one_hot(torch.tensor(indices), 4)
    assert ours.dtype == np.int64 and not ours.requires_grad
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.numpy())


def test_one_hot_infers_num_classes_and_takes_tensors():
    indices = np.array([0, 3, 1])
    ours = F.one_hot(tg.Tensor(indices))
    np.testing.assert_array_equal(ours.detach().numpy(), TF.one_hot(torch.tensor(indices)).numpy())
    assert ours.shape == (3, 4)


@pytest.mark.parametrize(
    ("indices", "num_classes", "error", "message"),
    [
        ([0, 5], 3, ValueError, "class value 5 is out of range for num_classes=3"),
        ([0, -1], 3, ValueError, "non-negative, got -1"),
        ([0.0, 1.0], 3, TypeError, "integer"),
        (np.zeros(0, np.int64), -1, ValueError, "num_classes"),
    ],
)
def test_one_hot_errors(indices, num_classes, error, message):
    with pytest.raises(error, match=message):
        F.one_hot(np.asarray(indices), num_classes)


# --------------------------------------------------------------------------- cross_entropy

SHAPES = [((6, 5), (6,)), ((5,), ()), ((3, 4, 2), (3, 2)), ((2, 3, 2, 3), (2, 2, 3))]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("input_shape", "target_shape"), SHAPES)
def test_cross_entropy_matches_torch(reduction, input_shape, target_shape):
    classes = input_shape[0] if len(input_shape) == 1 else input_shape[1]
    target = rng.integers(0, classes, target_shape)
    check_op(
        lambda x, t: F.cross_entropy(x, t, reduction=reduction),
        lambda x, t: TF.cross_entropy(x, t, reduction=reduction),
        [randn(*input_shape), target],
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_ignore_index_and_class_weights_match_torch(reduction, ignore_index, weighted):
    target = np.array([[0, ignore_index, 3], [ignore_index, 1, 2], [4, 4, ignore_index], [2, 0, 1]])
    weight = rng.uniform(0.5, 2.0, 5) if weighted else None
    weight_t = None if weight is None else torch.tensor(weight)
    check_op(
        lambda x, t: F.cross_entropy(x, t, weight, ignore_index=ignore_index, reduction=reduction),
        lambda x, t: TF.cross_entropy(x, t, weight_t, ignore_index=ignore_index, reduction=reduction),
        [randn(4, 5, 3), target],
    )


def test_cross_entropy_mean_divides_by_the_number_of_kept_targets():
    x = tg.Tensor(randn(4, 3))
    target = np.array([0, -100, 2, -100])
    per_target = F.cross_entropy(x, target, reduction="none").detach().numpy()
    assert per_target[1] == 0 and per_target[3] == 0
    np.testing.assert_allclose(F.cross_entropy(x, target).item(), per_target.sum() / 2, rtol=1e-15)


def test_cross_entropy_all_ignored_is_nan_like_torch():
    target = np.full(3, -100)
    ours = F.cross_entropy(tg.Tensor(randn(3, 4)), target)
    assert np.isnan(ours.item())
    assert torch.isnan(TF.cross_entropy(torch.randn(3, 4), torch.tensor(target)))


def test_cross_entropy_targets_as_python_int_list_and_int32():
    x = randn(3, 4)
    expected = TF.cross_entropy(torch.tensor(x), torch.tensor([1, 0, 3]))
    assert_close(F.cross_entropy(tg.Tensor(x), [1, 0, 3]), expected, "list target")
    assert_close(F.cross_entropy(tg.Tensor(x), np.array([1, 0, 3], np.int32)), expected, "int32 target")
    expected_single = TF.cross_entropy(torch.tensor(x[0]), torch.tensor(2))
    assert_close(F.cross_entropy(tg.Tensor(x[0]), 2), expected_single, "Python int target")


def test_cross_entropy_keeps_float32():
    x = tg.Tensor(randn(3, 4).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 1, 2]))
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32


def test_cross_entropy_is_built_from_visible_ops():
    x = tg.Tensor(randn(3, 4), requires_grad=True)
    names = [op.name for op in topological_order([F.cross_entropy(x, np.array([0, 1, 2])).op])]
    assert names[:2] == ["log_softmax", "getitem"]


@pytest.mark.parametrize(("bad", "shown"), [(5, "5"), (-3, "-3")])
def test_cross_entropy_out_of_range_target_names_value_and_class_count(bad, shown):
    with pytest.raises(IndexError, match=rf"target {shown} is out of range for 5 classes"):
        F.cross_entropy(tg.Tensor(randn(2, 5)), np.array([0, bad]))


def test_cross_entropy_float_target_is_a_clear_error():
    with pytest.raises(TypeError, match="integer class indices.*float64.*probabilities"):
        F.cross_entropy(tg.Tensor(randn(2, 5)), np.array([0.0, 1.0]))


def test_cross_entropy_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"target of shape \(3,\).*input of shape \(2, 5\).*\(2,\)"):
        F.cross_entropy(tg.Tensor(randn(2, 5)), np.array([0, 1, 2]))


def test_cross_entropy_rejects_bad_reduction_and_weight():
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        F.cross_entropy(tg.Tensor(randn(2, 5)), np.array([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        F.cross_entropy(tg.Tensor(randn(2, 5)), np.array([0, 1]), np.ones(4))


# --------------------------------------------------------------------------- mse_loss


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch_for_input_and_target(reduction):
    check_op(
        lambda a, b: F.mse_loss(a, b, reduction=reduction),
        lambda a, b: TF.mse_loss(a, b, reduction=reduction),
        [randn(3, 4), randn(3, 4)],
    )


def test_mse_loss_with_numpy_target_keeps_dtype():
    x = tg.Tensor(randn(3).astype(np.float32), requires_grad=True)
    loss = F.mse_loss(x, np.array([1.0, 2.0, 3.0]))
    assert loss.dtype == np.float32
    expected = TF.mse_loss(torch.tensor(x.detach().numpy()), torch.tensor([1.0, 2.0, 3.0]))
    assert_close(loss, expected, "mse", rtol=1e-6)


def test_mse_loss_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"target of shape \(3, 1\).*input of shape \(3,\)"):
        F.mse_loss(tg.Tensor(randn(3)), np.zeros((3, 1)))


# --------------------------------------------------------------------------- loss modules


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_loss_module_matches_torch(reduction):
    weight = rng.uniform(0.5, 2.0, 4)
    x_np, target = randn(5, 4), np.array([0, 3, 1, 1, -1])
    ours = nn.CrossEntropyLoss(weight=tg.Tensor(weight), ignore_index=-1, reduction=reduction)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(weight), ignore_index=-1, reduction=reduction)
    x, x_t = tg.Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, out_t = ours(x, target), theirs(x_t, torch.tensor(target))
    assert_close(out, out_t, "loss")
    out.sum().backward()
    out_t.sum().backward()
    assert_close(x.grad, x_t.grad, "gradient")
    assert repr(ours) == "CrossEntropyLoss()"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_module_matches_torch(reduction):
    a, b = randn(2, 3), randn(2, 3)
    expected = torch.nn.MSELoss(reduction=reduction)(torch.tensor(a), torch.tensor(b))
    assert_close(nn.MSELoss(reduction=reduction)(tg.Tensor(a), tg.Tensor(b)), expected, "mse")


@pytest.mark.parametrize("cls", [nn.CrossEntropyLoss, nn.MSELoss])
def test_loss_modules_check_reduction_early(cls):
    with pytest.raises(ValueError, match="'elementwise' is not a valid value"):
        cls(reduction="elementwise")
