"""Cross-checking against torch: one helper checks an op's forward, its gradients and its
second derivatives, so a new op's test is one line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import tinygrad_rnn as tg

RTOL = 1e-8
ATOL = 1e-10


def assert_close(ours: Any, theirs: Any, what: str, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Compare arrays; on failure show shapes and the first values (as DeZero's check does)."""
    a = ours.detach().numpy() if isinstance(ours, tg.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch {b.shape}"
    if not np.allclose(a, b, rtol=rtol, atol=atol):
        worst = np.max(np.abs(a - b) / (atol + rtol * np.abs(b)))
        raise AssertionError(
            f"{what}: differs from torch (worst |a-b| / tol = {worst:.3g})\n"
            f"ours  {a.ravel()[:6]}\ntorch {b.ravel()[:6]}"
        )


def check_op(
    our_fn: Callable[..., tg.Tensor],
    torch_fn: Callable[..., torch.Tensor],
    arrays: Sequence[np.ndarray],
    second_order: bool = True,
    seed: int = 0,
) -> None:
    """Forward, gradients and (optionally) second derivatives of ``our_fn`` vs ``torch_fn``.

    The gradient check uses a random output gradient; the second-order check differentiates
    sum(grad_input * v) for random v, with ``create_graph=True`` on both sides."""
    rng = np.random.default_rng(seed)
    ours_in = [tg.Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = our_fn(*ours_in)
    ref = torch_fn(*theirs_in)
    assert_close(out, ref, "forward")
    assert out.dtype == np.dtype(str(ref.dtype).replace("torch.", "")), f"dtype {out.dtype} vs {ref.dtype}"

    seed_grad = rng.standard_normal(out.shape)
    differentiable = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    ours_g = tg.autograd.grad(out, [ours_in[i] for i in differentiable], seed_grad, create_graph=second_order)
    theirs_g = torch.autograd.grad(
        ref, [theirs_in[i] for i in differentiable], torch.tensor(seed_grad), create_graph=second_order
    )
    for i, a, b in zip(differentiable, ours_g, theirs_g):
        assert_close(a, b, f"gradient of input {i}")
    if not second_order:
        return
    vs = [rng.standard_normal(arrays[i].shape) for i in differentiable]
    our_total = sum((g * tg.Tensor(v)).sum() for g, v in zip(ours_g, vs))
    their_total = sum((g * torch.tensor(v)).sum() for g, v in zip(theirs_g, vs))
    our_inputs = [ours_in[i] for i in differentiable]
    if not their_total.requires_grad:  # the op's gradient does not depend on its inputs
        if our_total.requires_grad:
            for g in tg.autograd.grad(our_total, our_inputs, allow_unused=True):
                assert g is None or not np.any(g.detach().numpy()), "second derivative should be zero"
        return
    their_second = torch.autograd.grad(their_total, [theirs_in[i] for i in differentiable], allow_unused=True)
    if not our_total.requires_grad:  # ours knows the gradient is constant: torch's must be 0
        for g in their_second:
            assert g is None or not torch.any(g), "torch has a non-zero second derivative"
        return
    our_second = tg.autograd.grad(our_total, our_inputs, allow_unused=True)
    for i, a, b in zip(differentiable, our_second, their_second):
        if b is None:
            assert a is None or np.allclose(a.detach().numpy(), 0), (
                f"second derivative of input {i}: torch has none"
            )
        else:
            assert a is not None, f"second derivative of input {i}: ours has none, torch has one"
            assert_close(a, b, f"second derivative of input {i}")
