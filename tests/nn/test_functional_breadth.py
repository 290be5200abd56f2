"""The activations, losses, normalisation and attention added to ``nn.functional``,
against torch in float64 (values, gradients, second derivatives)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - torch's usual alias

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F  # noqa: N812

from ..helpers import assert_close, check_op

rng = np.random.default_rng(77)


def randn(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape) * 2


ACTIVATIONS = {
    "leaky_relu": (lambda t: F.leaky_relu(t), lambda t: TF.leaky_relu(t)),
    "leaky_relu_0.2": (lambda t: F.leaky_relu(t, 0.2), lambda t: TF.leaky_relu(t, 0.2)),
    "elu": (lambda t: F.elu(t), lambda t: TF.elu(t)),
    "elu_0.5": (lambda t: F.elu(t, alpha=0.5), lambda t: TF.elu(t, alpha=0.5)),
    "softplus": (lambda t: F.softplus(t), lambda t: TF.softplus(t)),
    "softplus_beta": (lambda t: F.softplus(t, beta=2.0, threshold=3.0), lambda t: TF.softplus(t, 2.0, 3.0)),
    "gelu": (lambda t: F.gelu(t), lambda t: TF.gelu(t)),
    "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"), lambda t: TF.gelu(t, approximate="tanh")),
    "silu": (lambda t: F.silu(t), lambda t: TF.silu(t)),
    "hardtanh": (lambda t: F.hardtanh(t), lambda t: TF.hardtanh(t)),
    "hardtanh_range": (lambda t: F.hardtanh(t, -2.0, 0.5), lambda t: TF.hardtanh(t, -2.0, 0.5)),
    "relu6": (lambda t: F.relu6(t * 4), lambda t: TF.relu6(t * 4)),
    "logsigmoid": (lambda t: F.logsigmoid(t), lambda t: TF.logsigmoid(t)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation(name):
    ours, theirs = ACTIVATIONS[name]
    check_op(ours, theirs, [randn(3, 5)])


def test_activations_at_their_corners_and_far_out():
    x = np.array([-30.0, -1.0, 0.0, 1.0, 30.0, 800.0, -800.0])
    for name in ("leaky_relu", "elu", "softplus", "gelu", "silu", "hardtanh", "logsigmoid"):
        ours, theirs = ACTIVATIONS[name]
        check_op(ours, theirs, [x], second_order=False)


def test_inplace_activation_writes_into_the_input():
    x = tg.tensor([-1.0, 2.0])
    out = F.leaky_relu(x, 0.5, inplace=True)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), [-0.5, 2.0])


def test_activations_refuse_integer_input_as_torch():
    for fn in (F.gelu, F.silu, F.elu, F.softplus, F.leaky_relu, lambda t: F.layer_norm(t, (2,))):
        with pytest.raises(NotImplementedError, match="int64"):
            fn(tg.tensor([[1, 2]]))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(RuntimeError, match="approximate"):
        F.gelu(tg.tensor([1.0]), approximate="fast")


# --------------------------------------------------------------------------- losses


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    target = np.array([0, 3, 1, 3])
    weight = rng.uniform(0.5, 2, 4)
    for kwargs_ours, kwargs_torch in (
        ({}, {}),
        ({"weight": weight}, {"weight": torch.tensor(weight)}),
        ({"ignore_index": 3}, {"ignore_index": 3}),
    ):
        check_op(
            lambda x, kw=kwargs_ours: F.nll_loss(x.log_softmax(1), target, reduction=reduction, **kw),
            lambda x, kw=kwargs_torch: TF.nll_loss(
                x.log_softmax(1), torch.tensor(target), reduction=reduction, **kw
            ),
            [randn(4, 4)],
        )
    target_2d = rng.integers(0, 3, (2, 5))
    check_op(
        lambda x: F.nll_loss(x, target_2d, reduction=reduction),
        lambda x: TF.nll_loss(x, torch.tensor(target_2d), reduction=reduction),
        [randn(2, 3, 5)],
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_cross_entropy_label_smoothing(reduction, weighted, ignore_index):
    target = np.array([0, 2, 1, 2, 3])
    weight = rng.uniform(0.5, 2, 4) if weighted else None
    check_op(
        lambda x: F.cross_entropy(
            x, target, weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=0.2
        ),
        lambda x: TF.cross_entropy(
            x,
            torch.tensor(target),
            None if weight is None else torch.tensor(weight),
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=0.2,
        ),
        [randn(5, 4)],
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_probability_targets(reduction, smoothing):
    probs = rng.dirichlet(np.ones(4), 3)
    weight = rng.uniform(0.5, 2, 4)
    check_op(
        lambda x, p: F.cross_entropy(x, p, reduction=reduction, label_smoothing=smoothing),
        lambda x, p: TF.cross_entropy(x, p, reduction=reduction, label_smoothing=smoothing),
        [randn(3, 4), probs],
    )
    probs_3d = rng.dirichlet(np.ones(3), (2, 4)).transpose(0, 2, 1).copy()
    check_op(
        lambda x: F.cross_entropy(x, probs_3d, weight[:3], reduction=reduction, label_smoothing=smoothing),
        lambda x: TF.cross_entropy(
            x,
            torch.tensor(probs_3d),
            torch.tensor(weight[:3]),
            reduction=reduction,
            label_smoothing=smoothing,
        ),
        [randn(2, 3, 4)],
    )


def test_cross_entropy_rejects_bad_label_smoothing():
    with pytest.raises(RuntimeError, match="label_smoothing"):
        F.cross_entropy(tg.tensor(randn(2, 3)), np.array([0, 1]), label_smoothing=1.5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction):
    p = rng.uniform(0.05, 0.95, (3, 4))
    target = rng.uniform(0, 1, (3, 4))
    weight = rng.uniform(0.5, 2, (4,))
    check_op(
        lambda x, t: F.binary_cross_entropy(x, t, reduction=reduction),
        lambda x, t: TF.binary_cross_entropy(x, t, reduction=reduction),
        [p, target],
    )
    check_op(
        lambda x: F.binary_cross_entropy(x, target, weight, reduction=reduction),
        lambda x: TF.binary_cross_entropy(x, torch.tensor(target), torch.tensor(weight), reduction=reduction),
        [p],
    )


def test_binary_cross_entropy_clamps_the_log_at_minus_100():
    p, t = np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 1.0])
    ours = F.binary_cross_entropy(tg.tensor(p), t, reduction="none")
    assert_close(ours, TF.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none"), "bce")
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(tg.tensor([1.5]), np.array([1.0]))
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(tg.tensor([0.5, 0.5]), np.array([1.0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits(reduction):
    x = np.concatenate([randn(3, 4), [[-40.0, 40.0, 0.0, 5.0]]])
    target = rng.uniform(0, 1, (4, 4))
    pos_weight = rng.uniform(0.5, 3, 4)
    weight = rng.uniform(0.5, 2, (4, 1))
    check_op(
        lambda a, t: F.binary_cross_entropy_with_logits(a, t, reduction=reduction),
        lambda a, t: TF.binary_cross_entropy_with_logits(a, t, reduction=reduction),
        [x, target],
    )
    check_op(  # torch has no gradient for pos_weight, nor a second derivative with it
        lambda a: F.binary_cross_entropy_with_logits(
            a, target, weight, reduction=reduction, pos_weight=pos_weight
        ),
        lambda a: TF.binary_cross_entropy_with_logits(
            a,
            torch.tensor(target),
            torch.tensor(weight),
            reduction=reduction,
            pos_weight=torch.tensor(pos_weight),
        ),
        [x],
        second_order=False,
    )


REGRESSION = {
    "l1": (lambda a, b, r: F.l1_loss(a, b, reduction=r), lambda a, b, r: TF.l1_loss(a, b, reduction=r)),
    "smooth_l1": (
        lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r),
        lambda a, b, r: TF.smooth_l1_loss(a, b, reduction=r),
    ),
    "smooth_l1_beta": (
        lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.5),
        lambda a, b, r: TF.smooth_l1_loss(a, b, reduction=r, beta=0.5),
    ),
    "smooth_l1_beta0": (
        lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.0),
        lambda a, b, r: TF.smooth_l1_loss(a, b, reduction=r, beta=0.0),
    ),
    "huber": (
        lambda a, b, r: F.huber_loss(a, b, reduction=r),
        lambda a, b, r: TF.huber_loss(a, b, reduction=r),
    ),
    "huber_delta": (
        lambda a, b, r: F.huber_loss(a, b, reduction=r, delta=2.0),
        lambda a, b, r: TF.huber_loss(a, b, reduction=r, delta=2.0),
    ),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regression_losses(name, reduction):
    ours, theirs = REGRESSION[name]
    check_op(
        lambda a, b: ours(a, b, reduction), lambda a, b: theirs(a, b, reduction), [randn(3, 4), randn(3, 4)]
    )


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    probs = rng.dirichlet(np.ones(4), 3)
    target = np.log(probs) if log_target else probs
    check_op(
        lambda x, t: F.kl_div(x.log_softmax(1), t, reduction=reduction, log_target=log_target),
        lambda x, t: TF.kl_div(x.log_softmax(1), t, reduction=reduction, log_target=log_target),
        [randn(3, 4), target],
    )
    if not log_target:  # a zero target contributes 0 (its own gradient is nan in torch: not compared)
        probs[0, 1] = 0.0
        check_op(
            lambda x: F.kl_div(x.log_softmax(1), probs, reduction=reduction),
            lambda x: TF.kl_div(x.log_softmax(1), torch.tensor(probs), reduction=reduction),
            [randn(3, 4)],
        )


# --------------------------------------------------------------------------- layer_norm, attention, pad


def test_layer_norm():
    check_op(lambda x: F.layer_norm(x, (4,)), lambda x: TF.layer_norm(x, (4,)), [randn(3, 4)])
    check_op(
        lambda x, w, b: F.layer_norm(x, (3, 4), w, b, eps=1e-3),
        lambda x, w, b: TF.layer_norm(x, (3, 4), w, b, eps=1e-3),
        [randn(2, 3, 4), randn(3, 4), randn(3, 4)],
    )
    with pytest.raises(RuntimeError, match="layer_norm"):
        F.layer_norm(tg.tensor(randn(3, 4)), (3,))


@pytest.mark.parametrize("variant", ["plain", "causal", "bool_mask", "float_mask", "scale"])
def test_scaled_dot_product_attention(variant):
    q, k, v = randn(2, 2, 3, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 6)
    mask = rng.random((3, 5)) > 0.3
    mask[:, 0] = True
    kwargs: dict = {
        "plain": {},
        "causal": {"is_causal": True},
        "scale": {"scale": 0.3},
        "bool_mask": {"attn_mask": mask},
        "float_mask": {"attn_mask": randn(3, 5)},
    }[variant]
    if variant == "causal":
        q = randn(2, 2, 5, 4)
    torch_kwargs = {
        key: torch.tensor(val) if isinstance(val, np.ndarray) else val for key, val in kwargs.items()
    }
    check_op(
        lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **kwargs),
        lambda a, b, c: TF.scaled_dot_product_attention(a, b, c, **torch_kwargs),
        [q, k, v],
    )


def test_pad_errors():
    with pytest.raises(RuntimeError, match="even"):
        F.pad(tg.tensor(randn(2, 3)), (1,))
    with pytest.raises(NotImplementedError, match="constant"):
        F.pad(tg.tensor(randn(2, 3)), (1, 1), mode="reflect")


def test_new_functions_require_a_tensor_input_as_torch():
    for fn in (
        lambda: F.gelu([1.0]),
        lambda: F.pad(np.ones(3), (1, 1)),
        lambda: F.layer_norm([1.0, 2.0], (2,)),
        lambda: F.nll_loss(np.ones((2, 3)), np.array([0, 1])),
        lambda: F.l1_loss(np.ones(2), np.ones(2)),
        lambda: F.scaled_dot_product_attention(tg.tensor(randn(2, 3)), randn(2, 3), tg.tensor(randn(2, 3))),
    ):
        with pytest.raises(TypeError, match="must be Tensor"):
            fn()
    with pytest.raises(TypeError, match="real numbers"):
        F.l1_loss(tg.tensor([1.0]), np.array(["a"]))
