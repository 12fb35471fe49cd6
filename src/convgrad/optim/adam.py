"""Adam and AdamW (PyTorch's ``torch.optim.Adam`` / ``AdamW``).

For each parameter θ with gradient g, at step t (as PyTorch's single-tensor update):
    g ← −g                                       if maximize
    θ ← θ·(1 − η·λ)                              AdamW: decoupled weight decay
    g ← g + λ·θ                                  Adam: L2 weight decay in the gradient
    m ← m + (1 − β1)·(g − m)                     first moment (a lerp towards g)
    v ← β2·v + (1 − β2)·g²                       second moment
    v̂ ← max(v̂, v) if amsgrad else v
    θ ← θ − (η / (1 − β1ᵗ)) · m / (√v̂ / √(1 − β2ᵗ) + ε)
"""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


def _check(lr, betas, eps, weight_decay) -> None:
    if lr < 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if eps < 0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
    if weight_decay < 0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    _decoupled_weight_decay = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False):
        _check(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _update(self, param, grad: np.ndarray, group: dict) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        weight_decay, theta = group["weight_decay"], param.data
        state = self.state.get(param)
        if state is None:
            state = self.state[param] = {"step": 0, "exp_avg": np.zeros_like(theta),
                                         "exp_avg_sq": np.zeros_like(theta)}
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(theta)
        state["step"] += 1
        step = state["step"]
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            if self._decoupled_weight_decay:
                theta *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * theta
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (grad * grad)
        second = exp_avg_sq
        if group["amsgrad"]:
            second = np.maximum(state["max_exp_avg_sq"], exp_avg_sq,
                                out=state["max_exp_avg_sq"])
        step_size = lr / (1 - beta1 ** step)
        denom = np.sqrt(second)
        denom /= (1 - beta2 ** step) ** 0.5
        denom += group["eps"]
        update = exp_avg * -step_size
        update /= denom
        theta += update


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): θ shrinks by η·λ each step
    instead of λ·θ entering the moments.  Default weight_decay 0.01, as PyTorch."""

    _decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
