"""Optimizers, learning-rate schedules and gradient clipping against torch, in float64:
the same model, data and options must give the same parameters after every step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_

from ..helpers import assert_close

rng = np.random.default_rng(5)
X = rng.standard_normal((8, 3))
Y = rng.integers(0, 2, 8)
STEPS = 6


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return self.out(self.hidden(x).tanh())


class TorchSmall(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(3, 4)
        self.out = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(x).tanh())


def make_pair() -> tuple[Small, TorchSmall]:
    ours = Small().double()
    theirs = TorchSmall().double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def backward_both(ours: Small, theirs: TorchSmall) -> None:
    F.cross_entropy(ours(tg.Tensor(X)), Y).backward()
    torch.nn.functional.cross_entropy(theirs(torch.tensor(X)), torch.tensor(Y)).backward()


def assert_same_parameters(ours: Small, theirs: TorchSmall, when: str) -> None:
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p, theirs_params[name], f"{name} {when}", rtol=1e-10, atol=1e-12)


def run_both(our_cls, torch_cls, options: dict, steps: int = STEPS) -> None:
    ours, theirs = make_pair()
    our_opt = our_cls(ours.parameters(), **options)
    torch_opt = torch_cls(theirs.parameters(), **options)
    for step in range(steps):
        our_opt.zero_grad()
        torch_opt.zero_grad()
        backward_both(ours, theirs)
        our_opt.step()
        torch_opt.step()
        assert_same_parameters(ours, theirs, f"after step {step + 1}")
    start = make_pair()[0]
    assert not np.allclose(start.out.weight.detach().numpy(), ours.out.weight.detach().numpy()), (
        "the parameters never moved"
    )


SGD_OPTIONS = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.05},
    {"lr": 0.1, "momentum": 0.8, "weight_decay": 0.05, "nesterov": True},
    {"lr": 0.1, "momentum": 0.5, "dampening": 0.5, "weight_decay": 0.05},
    {"lr": 0.1, "momentum": 0.9, "maximize": True},
]
ADAM_OPTIONS = [
    {"lr": 0.05},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "amsgrad": True},
    {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1},
    {"lr": 0.05, "betas": (0.3, 0.6), "eps": 1e-3},
    {"lr": 0.05, "maximize": True},
    {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True},
]
ADAMW_OPTIONS = [
    {"lr": 0.05},
    {"lr": 0.05, "weight_decay": 0.3},
    {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True},
]
RMSPROP_OPTIONS = [
    {"lr": 0.01},
    {"lr": 0.01, "momentum": 0.9},
    {"lr": 0.01, "centered": True},
    {"lr": 0.01, "centered": True, "momentum": 0.9},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "alpha": 0.3, "eps": 1e-4, "centered": True},
    {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1},
    {"lr": 0.01, "maximize": True},
]


@pytest.mark.parametrize("options", SGD_OPTIONS, ids=str)
def test_sgd_matches_torch(options):
    run_both(optim.SGD, torch.optim.SGD, options)


@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=str)
def test_adam_matches_torch(options):
    run_both(optim.Adam, torch.optim.Adam, options)


@pytest.mark.parametrize("options", ADAMW_OPTIONS, ids=str)
def test_adamw_matches_torch(options):
    run_both(optim.AdamW, torch.optim.AdamW, options)


@pytest.mark.parametrize("options", RMSPROP_OPTIONS, ids=str)
def test_rmsprop_matches_torch(options):
    run_both(optim.RMSprop, torch.optim.RMSprop, options)


@pytest.mark.parametrize(
    ("cls", "torch_cls"),
    [(optim.SGD, torch.optim.SGD), (optim.Adam, torch.optim.Adam), (optim.RMSprop, torch.optim.RMSprop)],
)
def test_defaults_match_torch(cls, torch_cls):
    run_both(cls, torch_cls, {})
    ours, theirs = make_pair()
    defaults = cls(ours.parameters()).defaults
    torch_defaults = torch_cls(theirs.parameters()).defaults
    assert defaults == {k: v for k, v in torch_defaults.items() if k in defaults}


def test_adamw_default_weight_decay_is_torchs():
    assert optim.AdamW(Small().parameters()).defaults["weight_decay"] == 1e-2


def test_param_groups_with_their_own_options_match_torch():
    ours, theirs = make_pair()
    our_opt = optim.SGD(
        [{"params": ours.hidden.parameters()}, {"params": ours.out.parameters(), "lr": 0.5}], lr=0.1
    )
    torch_opt = torch.optim.SGD(
        [{"params": theirs.hidden.parameters()}, {"params": theirs.out.parameters(), "lr": 0.5}], lr=0.1
    )
    assert [g["lr"] for g in our_opt.param_groups] == [0.1, 0.5]
    for step in range(3):
        our_opt.zero_grad()
        torch_opt.zero_grad()
        backward_both(ours, theirs)
        our_opt.step()
        torch_opt.step()
        assert_same_parameters(ours, theirs, f"after step {step + 1}")


def test_named_parameters_are_accepted():
    ours = Small()
    opt = optim.SGD(ours.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == [n for n, _ in ours.named_parameters()]
    assert opt.param_groups[0]["params"] == list(ours.parameters())


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
def test_parameters_without_grad_are_skipped(cls):
    ours = Small().double()
    unused = nn.Parameter(np.ones(3))
    opt = cls([*ours.parameters(), unused], lr=0.1, weight_decay=0.1)
    backward_both(ours, make_pair()[1])
    opt.step()
    np.testing.assert_array_equal(unused.detach().numpy(), np.ones(3))
    assert unused not in opt.state


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.RMSprop, optim.Adagrad])
def test_updates_are_in_place_and_a_saved_graph_then_refuses_backward(cls):
    p = nn.Parameter(np.array([1.0, 2.0, 3.0]))
    alias = p.detach()
    loss = (p * p).sum()  # mul saved p
    loss.backward(retain_graph=True)
    cls([p], lr=0.1).step()
    assert np.shares_memory(p.detach().numpy(), alias.numpy()) and alias[0].item() != 1.0
    tp = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    tloss = (tp * tp).sum()
    tloss.backward(retain_graph=True)
    getattr(torch.optim, cls.__name__)([tp], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tloss.backward()
    with pytest.raises(RuntimeError, match="mul: one of the variables needed .* modified by an inplace"):
        loss.backward()


def test_float32_parameters_stay_float32():
    p = nn.Parameter(np.ones(3, np.float32))
    for cls in (optim.SGD, optim.Adam, optim.RMSprop):
        opt = cls([p], lr=0.1, weight_decay=0.1)
        p.grad = np.ones(3, np.float32)
        opt.step()
        assert p.dtype == np.float32


def test_zero_grad():
    ours = Small()
    opt = optim.Adam(ours.parameters())
    ours(tg.Tensor(X.astype(np.float32))).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(np.array_equal(p.grad.detach().numpy(), np.zeros(p.shape)) for p in ours.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in ours.parameters())


def test_step_with_closure_returns_the_loss():
    ours, theirs = make_pair()
    opt = optim.SGD(ours.parameters(), lr=0.1)

    def closure() -> tg.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(ours(tg.Tensor(X)), Y)
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    expected = torch.nn.functional.cross_entropy(theirs(torch.tensor(X)), torch.tensor(Y))
    assert_close(loss, expected, "closure loss")


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda p: optim.SGD(p, lr=0.1), TypeError, "single Tensor"),
        (lambda p: optim.SGD([p * 2], lr=0.1), ValueError, "non-leaf"),
        (lambda p: optim.SGD([p, p], lr=0.1), ValueError, "duplicate"),
        (
            lambda p: optim.SGD([{"params": [p]}, {"params": [p]}]),
            ValueError,
            "more than one parameter group",
        ),
        (lambda p: optim.SGD({p}), TypeError, "not a set"),
        (lambda p: optim.SGD([p], lr=-1.0), ValueError, "Invalid learning rate"),
        (lambda p: optim.SGD([p], nesterov=True), ValueError, "Nesterov momentum requires"),
        (lambda p: optim.Adam([p], betas=(1.0, 0.9)), ValueError, "beta parameter at index 0"),
        (lambda p: optim.RMSprop([p], alpha=-0.1), ValueError, "Invalid alpha"),
    ],
)
def test_construction_errors(make, error, message):
    with pytest.raises(error, match=message):
        make(nn.Parameter(np.ones(2)))


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.RMSprop])
def test_state_dict_round_trip_continues_identically(cls):
    options = {"lr": 0.05, "momentum": 0.9} if cls is not optim.Adam else {"lr": 0.05, "amsgrad": True}
    ours, theirs = make_pair()
    opt = cls(ours.parameters(), **options)
    for _ in range(3):
        opt.zero_grad()
        backward_both(ours, theirs)
        opt.step()
    saved = opt.state_dict()
    twin = Small().double()
    twin.load_state_dict(ours.state_dict())
    twin_opt = cls(twin.parameters(), lr=1.0)
    twin_opt.load_state_dict(saved)
    assert twin_opt.param_groups[0]["lr"] == 0.05
    for _ in range(3):
        for model, o in ((ours, opt), (twin, twin_opt)):
            o.zero_grad()
            F.cross_entropy(model(tg.Tensor(X)), Y).backward()
            o.step()
    for (name, a), (_, b) in zip(ours.named_parameters(), twin.named_parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=name)


def test_loads_a_torch_adam_state_dict_and_continues_like_torch():
    ours, theirs = make_pair()
    torch_opt = torch.optim.Adam(theirs.parameters(), lr=0.05)
    for _ in range(3):
        torch_opt.zero_grad()
        torch.nn.functional.cross_entropy(theirs(torch.tensor(X)), torch.tensor(Y)).backward()
        torch_opt.step()
    ours.load_state_dict(theirs.state_dict())
    our_opt = optim.Adam(ours.parameters(), lr=0.05)
    our_opt.load_state_dict(torch_opt.state_dict())
    for step in range(3):
        our_opt.zero_grad()
        torch_opt.zero_grad()
        backward_both(ours, theirs)
        our_opt.step()
        torch_opt.step()
        assert_same_parameters(ours, theirs, f"after resumed step {step + 1}")


def test_load_state_dict_rejects_a_different_layout():
    saved = optim.SGD(Small().parameters(), lr=0.1).state_dict()
    with pytest.raises(ValueError, match="has 4 parameters in the state dict but 2"):
        optim.SGD(Small().out.parameters(), lr=0.1).load_state_dict(saved)


# --------------------------------------------------------------------------- schedules


def lr_sequences(make_ours, make_theirs, metrics):
    our_opt = optim.SGD(
        [{"params": [nn.Parameter(np.ones(1))]}, {"params": [nn.Parameter(np.ones(1))], "lr": 0.3}], lr=1.0
    )
    torch_opt = torch.optim.SGD(
        [
            {"params": [torch.ones(1, requires_grad=True)]},
            {"params": [torch.ones(1, requires_grad=True)], "lr": 0.3},
        ],
        lr=1.0,
    )
    ours, theirs = make_ours(our_opt), make_theirs(torch_opt)
    our_lrs, torch_lrs = [ours.get_last_lr()], [theirs.get_last_lr()]
    for metric in metrics:
        our_opt.step()
        torch_opt.step()
        if metric is None:
            ours.step()
            theirs.step()
        else:
            ours.step(metric)
            theirs.step(metric)
        our_lrs.append([g["lr"] for g in our_opt.param_groups])
        torch_lrs.append([g["lr"] for g in torch_opt.param_groups])
        assert ours.get_last_lr() == theirs.get_last_lr()
    return our_lrs, torch_lrs


@pytest.mark.parametrize(("step_size", "gamma"), [(3, 0.5), (1, 0.9), (4, 0.1)])
def test_step_lr_matches_torch(step_size, gamma):
    ours, theirs = lr_sequences(
        lambda o: optim.lr_scheduler.StepLR(o, step_size, gamma),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size, gamma),
        [None] * 12,
    )
    assert ours == theirs
    assert ours[-1] != ours[0]


def test_step_lr_default_gamma():
    assert optim.lr_scheduler.StepLR(optim.SGD(Small().parameters()), 5).gamma == 0.1


LOSSES = [
    1.0,
    0.9,
    0.95,
    0.97,
    0.85,
    0.86,
    0.87,
    0.88,
    0.7,
    0.69999,
    0.71,
    0.72,
    0.73,
    0.5,
    0.6,
    0.61,
    0.62,
    0.63,
]
PLATEAU_OPTIONS = [
    {},
    {"patience": 2},
    {"factor": 0.5, "patience": 0, "threshold": 0.0},  # halve whenever the loss does not fall
    {"patience": 1, "cooldown": 2},
    {"patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    {"patience": 1, "min_lr": [0.05, 0.2]},
    {"patience": 0, "factor": 0.1, "min_lr": 1e-3, "eps": 1e-3},
    {"mode": "max", "patience": 1},
    {"mode": "max", "patience": 1, "threshold_mode": "abs", "threshold": 0.01},
]


@pytest.mark.parametrize("options", PLATEAU_OPTIONS, ids=str)
def test_reduce_lr_on_plateau_matches_torch(options):
    ours, theirs = lr_sequences(
        lambda o: optim.lr_scheduler.ReduceLROnPlateau(o, **options),
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **options),
        LOSSES,
    )
    assert ours == theirs


def test_reduce_lr_on_plateau_halves_when_the_loss_rises():
    opt = optim.Adam(Small().parameters(), lr=0.1)
    schedule = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0, threshold=0.0)
    lrs = []
    for loss in [1.0, 0.8, 0.9, 0.7, 0.75, 0.76]:
        schedule.step(tg.Tensor(loss))  # a one-element Tensor works as the metric
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]


def test_reduce_lr_on_plateau_validates_options():
    opt = optim.SGD(Small().parameters())
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode 'up' is unknown"):
        optim.lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="expected 1 min_lrs, got 2"):
        optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        optim.lr_scheduler.StepLR(object(), 2)


def test_scheduler_state_dict_round_trip():
    opt = optim.SGD(Small().parameters(), lr=1.0)
    schedule = optim.lr_scheduler.StepLR(opt, 2, 0.5)
    for _ in range(3):
        schedule.step()
    state = schedule.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 3
    other = optim.lr_scheduler.StepLR(optim.SGD(Small().parameters(), lr=1.0), 7)
    other.load_state_dict(state)
    assert other.step_size == 2 and other.get_last_lr() == [0.5]


# --------------------------------------------------------------------------- clipping


def grads_pair(dtype=np.float64):
    """Parameters with gradients (one without) in ours and torch, holding equal values."""
    arrays = [rng.standard_normal((3, 4)) * 3, rng.standard_normal(5), rng.standard_normal((2, 2)) * 0.1]
    ours = [nn.Parameter(a.astype(dtype)) for a in arrays] + [nn.Parameter(np.ones(2, dtype))]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays] + [
        torch.ones(2, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
    ]
    for p, t in zip(ours[:3], theirs[:3]):
        g = rng.standard_normal(p.shape).astype(dtype)
        p.grad = g
        t.grad = torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = grads_pair()
    grad_objects = [p.grad for p in ours[:3]]
    total = clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, tg.Tensor) and total.shape == ()
    assert_close(total, expected, "total norm")
    for i, (p, t) in enumerate(zip(ours[:3], theirs[:3])):
        assert p.grad is grad_objects[i]  # the same gradient tensor, scaled
        assert_close(p.grad, t.grad, f"clipped grad {i}")
    assert ours[3].grad is None


def test_clip_grad_norm_float32_and_single_tensor():
    ours, theirs = grads_pair(np.float32)
    total = clip_grad_norm_(ours[0], 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs[0], 1.0)
    assert total.dtype == np.float32 and ours[0].grad.dtype == np.float32
    assert_close(total, expected, "norm", rtol=1e-6)
    assert_close(ours[0].grad, theirs[0].grad, "grad", rtol=1e-6)


def test_clip_grad_norm_without_grads_and_nonfinite():
    assert clip_grad_norm_([nn.Parameter(np.ones(2))], 1.0).item() == 0.0
    p = nn.Parameter(np.ones(2))
    p.grad = np.array([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_on_a_trained_model_matches_torch():
    ours, theirs = make_pair()
    backward_both(ours, theirs)
    total = clip_grad_norm_(ours.parameters(), 0.1)
    expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.1)
    assert_close(total, expected, "total norm")
    torch_grads = {n: p.grad for n, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        assert_close(p.grad, torch_grads[name], name)


@pytest.mark.parametrize("clip_value", [0.1, 1.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = grads_pair()
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for i, (p, t) in enumerate(zip(ours[:3], theirs[:3])):
        assert_close(p.grad, t.grad, f"clipped grad {i}")
    assert ours[3].grad is None


def test_utils_is_reachable_as_nn_utils():
    assert nn.utils.clip_grad_norm_ is clip_grad_norm_
