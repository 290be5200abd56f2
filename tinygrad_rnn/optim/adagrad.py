"""Adagrad: per-element learning rates from the running sum of squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamGroup, Params, step_parameter


class Adagrad(Optimizer):
    """``torch.optim.Adagrad``, step for step. For each parameter with a gradient g, at step t::

        g = g + weight_decay * p                    (if weight_decay)
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g                           (starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(sum) + eps)

    As in torch, the state (``step`` 0 and ``sum``) exists for every parameter from
    construction on. ``maximize=True`` ascends instead.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not lr_decay >= 0.0:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not initial_accumulator_value >= 0.0:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults: dict[str, Any] = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {
                    "step": 0,
                    "sum": np.full_like(p._data, group["initial_accumulator_value"]),
                }

    def _step_group(self, group: ParamGroup) -> None:
        lr, lr_decay, eps, weight_decay = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
        for p, grad in self._gradients(group):
            state = self.state.get(p)
            if state is None:  # a group added after construction
                state = self.state[p] = {
                    "step": 0,
                    "sum": np.full_like(p._data, group["initial_accumulator_value"]),
                }
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + weight_decay * p._data
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            state_sum = state["sum"]
            state_sum += grad * grad
            step_parameter(p, clr * grad / (np.sqrt(state_sum) + eps))
