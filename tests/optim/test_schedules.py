"""Adagrad and the epoch/batch schedules (ExponentialLR, MultiStepLR, CosineAnnealingLR,
LambdaLR, OneCycleLR) against torch: identical parameter and learning-rate trajectories
over many steps, in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tinygrad_rnn import nn, optim
from tinygrad_rnn.optim import lr_scheduler

from .test_optim import Small, assert_same_parameters, backward_both, make_pair, run_both

# --------------------------------------------------------------------------- Adagrad

ADAGRAD_OPTIONS = [
    {},
    {"lr": 0.1},
    {"lr": 0.1, "lr_decay": 0.05},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6},
    {"lr": 0.1, "maximize": True},
]


@pytest.mark.parametrize("options", ADAGRAD_OPTIONS, ids=str)
def test_adagrad_matches_torch(options):
    run_both(optim.Adagrad, torch.optim.Adagrad, options, steps=25)


def test_adagrad_defaults_and_initial_state_match_torch():
    ours, theirs = make_pair()
    our_opt = optim.Adagrad(ours.parameters(), initial_accumulator_value=0.25)
    torch_opt = torch.optim.Adagrad(theirs.parameters(), initial_accumulator_value=0.25)
    torch_defaults = torch_opt.defaults
    assert our_opt.defaults == {k: v for k, v in torch_defaults.items() if k in our_opt.defaults}
    ours_state, theirs_state = our_opt.state_dict()["state"], torch_opt.state_dict()["state"]
    assert sorted(ours_state) == sorted(theirs_state)  # state exists before the first step
    for key in theirs_state:
        assert ours_state[key]["step"] == theirs_state[key]["step"].item() == 0
        np.testing.assert_array_equal(ours_state[key]["sum"], theirs_state[key]["sum"].numpy())


def test_adagrad_loads_torchs_state_and_continues_like_torch():
    ours, theirs = make_pair()
    torch_opt = torch.optim.Adagrad(theirs.parameters(), lr=0.1, lr_decay=0.01)
    for _ in range(3):
        torch_opt.zero_grad()
        backward_both(ours, theirs)
        torch_opt.step()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    our_opt = optim.Adagrad(ours.parameters(), lr=0.1, lr_decay=0.01)
    our_opt.load_state_dict(torch_opt.state_dict())
    for step in range(5):
        our_opt.zero_grad()
        torch_opt.zero_grad()
        backward_both(ours, theirs)
        our_opt.step()
        torch_opt.step()
        assert_same_parameters(ours, theirs, f"after resumed step {step + 1}")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": -1.0}, "Invalid learning rate: -1.0"),
        ({"lr_decay": -0.1}, "Invalid lr_decay value: -0.1"),
        ({"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
        ({"initial_accumulator_value": -1.0}, "Invalid initial_accumulator_value value: -1.0"),
        ({"eps": -1.0}, "Invalid epsilon value: -1.0"),
    ],
)
def test_adagrad_validates_options_like_torch(options, message):
    with pytest.raises(ValueError, match=message):
        torch.optim.Adagrad([torch.zeros(1, requires_grad=True)], **options)
    with pytest.raises(ValueError, match=message):
        optim.Adagrad(Small().parameters(), **options)


# --------------------------------------------------------------------------- schedules


def optimizers(kind="sgd", **options):
    """The same two-group optimizer on both sides (the second group with its own lr)."""
    ours_groups = [{"params": [nn.Parameter(np.ones(1))]}, {"params": [nn.Parameter(np.ones(1))], "lr": 0.3}]
    theirs_groups = [
        {"params": [torch.ones(1, requires_grad=True)]},
        {"params": [torch.ones(1, requires_grad=True)], "lr": 0.3},
    ]
    our_cls, torch_cls = {
        "sgd": (optim.SGD, torch.optim.SGD),
        "adam": (optim.Adam, torch.optim.Adam),
        "adagrad": (optim.Adagrad, torch.optim.Adagrad),
    }[kind]
    return our_cls(ours_groups, lr=1.0, **options), torch_cls(theirs_groups, lr=1.0, **options)


def trajectories(make_ours, make_theirs, steps, kind="sgd", **options):
    """Learning rates (and momenta) after construction and after every step, on both sides."""
    our_opt, torch_opt = optimizers(kind, **options)
    ours, theirs = make_ours(our_opt), make_theirs(torch_opt)

    def record(opt, scheduler):
        keys = ("lr", "momentum", "betas")
        return [scheduler.get_last_lr(), [[g.get(k) for k in keys] for g in opt.param_groups]]

    ours_seen, theirs_seen = [record(our_opt, ours)], [record(torch_opt, theirs)]
    for _ in range(steps):
        our_opt.step()
        torch_opt.step()
        ours.step()
        theirs.step()
        ours_seen.append(record(our_opt, ours))
        theirs_seen.append(record(torch_opt, theirs))
    return ours_seen, theirs_seen


def assert_same_trajectory(ours, theirs):
    """Equal to 1e-12 relative at every step (the formulas are the same; only rounding may differ)."""
    for step, (a, b) in enumerate(zip(ours, theirs)):
        flat_a = np.array([x for x in _flatten(a)], dtype=float)
        flat_b = np.array([x for x in _flatten(b)], dtype=float)
        np.testing.assert_allclose(flat_a, flat_b, rtol=1e-12, atol=0, err_msg=f"step {step}")
    lrs = [entry[0][0] for entry in ours]
    assert len(set(lrs)) > 1, "the schedule never changed the learning rate"


def _flatten(value):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _flatten(v)
    elif value is not None:
        yield value


@pytest.mark.parametrize("gamma", [0.9, 0.5, 1.1])
def test_exponential_lr_matches_torch(gamma):
    assert_same_trajectory(
        *trajectories(
            lambda o: lr_scheduler.ExponentialLR(o, gamma),
            lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma),
            40,
        )
    )


@pytest.mark.parametrize(
    ("milestones", "gamma"), [([3, 7, 20], 0.1), ([5, 5, 12], 0.5), ([1], 0.3), ((10, 2), 0.7)]
)
def test_multistep_lr_matches_torch(milestones, gamma):
    assert_same_trajectory(
        *trajectories(
            lambda o: lr_scheduler.MultiStepLR(o, milestones, gamma),
            lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones, gamma),
            30,
        )
    )


def test_multistep_lr_default_gamma_is_torchs():
    ours, theirs = optimizers()
    assert (
        lr_scheduler.MultiStepLR(ours, [2]).gamma == torch.optim.lr_scheduler.MultiStepLR(theirs, [2]).gamma
    )


@pytest.mark.parametrize(("t_max", "eta_min"), [(10, 0.0), (7, 0.05), (1, 0.01), (25, 0.2)])
def test_cosine_annealing_lr_matches_torch_over_several_periods(t_max, eta_min):
    assert_same_trajectory(
        *trajectories(
            lambda o: lr_scheduler.CosineAnnealingLR(o, t_max, eta_min),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, t_max, eta_min),
            3 * t_max + 5,
        )
    )


def test_cosine_annealing_lr_follows_the_closed_form_in_its_first_period():
    ours, _ = optimizers()
    scheduler = lr_scheduler.CosineAnnealingLR(ours, T_max=12, eta_min=0.1)
    for epoch in range(1, 13):
        ours.step()
        scheduler.step()
        expected = 0.1 + (1.0 - 0.1) * (1 + math.cos(math.pi * epoch / 12)) / 2
        assert scheduler.get_last_lr()[0] == pytest.approx(expected, rel=1e-12)


class Warmup:
    """A callable object: LambdaLR saves its attributes in the state dict, as torch."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


@pytest.mark.parametrize(
    "make_lambda",
    [
        lambda: lambda epoch: 0.95**epoch,
        lambda: [lambda epoch: 1 / (1 + epoch), lambda epoch: 0.5 * (epoch % 3 + 1)],
        lambda: Warmup(6),
    ],
    ids=["one", "per_group", "callable_object"],
)
def test_lambda_lr_matches_torch(make_lambda):
    assert_same_trajectory(
        *trajectories(
            lambda o: lr_scheduler.LambdaLR(o, make_lambda()),
            lambda o: torch.optim.lr_scheduler.LambdaLR(o, make_lambda()),
            20,
        )
    )


def test_lambda_lr_state_dict_is_torchs_and_round_trips():
    ours_opt, torch_opt = optimizers()
    ours = lr_scheduler.LambdaLR(ours_opt, [Warmup(4), lambda epoch: 1.0])
    theirs = torch.optim.lr_scheduler.LambdaLR(torch_opt, [Warmup(4), lambda epoch: 1.0])
    for _ in range(3):
        ours_opt.step()
        torch_opt.step()
        ours.step()
        theirs.step()
    state = ours.state_dict()
    assert state["lr_lambdas"] == theirs.state_dict()["lr_lambdas"] == [{"steps": 4}, None]
    fresh = lr_scheduler.LambdaLR(optimizers()[0], [Warmup(99), lambda epoch: 1.0])
    fresh.load_state_dict(state)
    assert fresh.lr_lambdas[0].steps == 4 and fresh.last_epoch == 3
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(optimizers()[0], [lambda epoch: 1.0])


ONE_CYCLE_OPTIONS = [
    {"max_lr": 0.5, "total_steps": 40},
    {"max_lr": [0.5, 2.0], "total_steps": 37, "pct_start": 0.25, "anneal_strategy": "linear"},
    {"max_lr": 1.0, "epochs": 4, "steps_per_epoch": 9, "three_phase": True},
    {
        "max_lr": 0.8,
        "total_steps": 30,
        "div_factor": 10.0,
        "final_div_factor": 100.0,
        "cycle_momentum": False,
    },
    {"max_lr": 0.8, "total_steps": 30, "base_momentum": [0.8, 0.7], "max_momentum": 0.9},
]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("options", ONE_CYCLE_OPTIONS, ids=str)
def test_one_cycle_lr_matches_torch_with_its_momentum(options, kind):
    steps = options.get("total_steps") or options["epochs"] * options["steps_per_epoch"]
    extra = {"momentum": 0.9} if kind == "sgd" else {}
    assert_same_trajectory(
        *trajectories(
            lambda o: lr_scheduler.OneCycleLR(o, **options),
            lambda o: torch.optim.lr_scheduler.OneCycleLR(o, **options),
            steps - 1,
            kind,
            **extra,
        )
    )


def test_one_cycle_lr_drives_training_like_torch():
    """The momentum it writes into the groups is the one the optimizer uses."""
    ours, theirs = make_pair()
    our_opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    torch_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    our_sched = lr_scheduler.OneCycleLR(our_opt, max_lr=0.5, total_steps=20)
    torch_sched = torch.optim.lr_scheduler.OneCycleLR(torch_opt, max_lr=0.5, total_steps=20)
    for step in range(19):
        our_opt.zero_grad()
        torch_opt.zero_grad()
        backward_both(ours, theirs)
        our_opt.step()
        torch_opt.step()
        our_sched.step()
        torch_sched.step()
        assert_same_parameters(ours, theirs, f"after step {step + 1}")


def test_one_cycle_lr_errors_match_torch():
    def both(**options):
        messages = []
        for opt, cls in zip(optimizers(), (lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.OneCycleLR)):
            with pytest.raises(ValueError) as info:
                cls(opt, **options)
            messages.append(str(info.value))
        assert messages[0] == messages[1]

    both(max_lr=1.0)
    both(max_lr=1.0, total_steps=0)
    both(max_lr=1.0, epochs=0, steps_per_epoch=3)
    both(max_lr=1.0, epochs=2, steps_per_epoch=-1)
    both(max_lr=1.0, total_steps=10, pct_start=1.5)
    both(max_lr=1.0, total_steps=10, pct_start=1)
    both(max_lr=1.0, total_steps=10, anneal_strategy="exp")
    both(max_lr=[1.0], total_steps=10)
    ours_opt, _ = optimizers("adagrad")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.OneCycleLR(ours_opt, max_lr=1.0, total_steps=10)
    ours_opt, _ = optimizers()
    scheduler = lr_scheduler.OneCycleLR(ours_opt, max_lr=1.0, total_steps=3)
    scheduler.step()
    scheduler.step()
    scheduler.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        scheduler.step()


@pytest.mark.parametrize(
    "make",
    [
        lambda o, m: m.ExponentialLR(o, 0.9),
        lambda o, m: m.MultiStepLR(o, [2, 4]),
        lambda o, m: m.CosineAnnealingLR(o, 5),
        lambda o, m: m.OneCycleLR(o, max_lr=1.0, total_steps=12),
    ],
    ids=["exponential", "multistep", "cosine", "one_cycle"],
)
def test_resuming_from_a_state_dict_continues_like_torch(make):
    """Run 4 steps, save, load into a fresh scheduler on a fresh optimizer (after the
    optimizer's own state dict), and continue: the same lrs as an uninterrupted torch run."""
    our_opt, torch_opt = optimizers()
    ours, theirs = make(our_opt, lr_scheduler), make(torch_opt, torch.optim.lr_scheduler)
    for _ in range(4):
        our_opt.step()
        ours.step()
        torch_opt.step()
        theirs.step()
    saved_opt, saved = our_opt.state_dict(), ours.state_dict()
    resumed_opt, _ = optimizers()
    resumed_opt.load_state_dict(saved_opt)
    resumed = make(resumed_opt, lr_scheduler)
    resumed.load_state_dict(saved)
    for step in range(6):
        resumed_opt.step()
        resumed.step()
        torch_opt.step()
        theirs.step()
        np.testing.assert_allclose(
            resumed.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, err_msg=f"step {step}"
        )
