"""RMSprop: gradients divided by a running root-mean-square, optionally centered."""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamGroup, Params, step_parameter


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``, step for step. For each parameter with a gradient g::

        g = g + weight_decay * p                  (if weight_decay)
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v) + eps,  or, centered:  mean = mean + (1 - alpha) * (g - mean),
                                             avg = sqrt(v - mean * mean) + eps
        buf = momentum * buf + g / avg,  p = p - lr * buf       (if momentum > 0)
        p = p - lr * g / avg                                    (otherwise)

    ``maximize=True`` ascends instead.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not momentum >= 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not alpha >= 0.0:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults: dict[str, Any] = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _step_group(self, group: ParamGroup) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        for p, grad in self._gradients(group):
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {"step": 0, "square_avg": np.zeros_like(p._data)}
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = np.zeros_like(p._data)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = np.zeros_like(p._data)
            state["step"] += 1

            if weight_decay != 0:
                grad = grad + weight_decay * p._data
            square_avg = state["square_avg"]
            square_avg *= alpha
            square_avg += (1 - alpha) * grad * grad
            if centered:
                grad_avg = state["grad_avg"]
                grad_avg += (1 - alpha) * (grad - grad_avg)
                avg = np.sqrt(square_avg - grad_avg * grad_avg)
            else:
                avg = np.sqrt(square_avg)
            avg += eps
            if momentum > 0:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += grad / avg
                step_parameter(p, lr * buf)
            else:
                step_parameter(p, lr * grad / avg)
