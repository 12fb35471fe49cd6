"""Batch normalisation as a fused forward/backward pair on NumPy arrays.

x has shape (N, C, *spatial); every channel c is normalised with statistics over the
m = N·∏spatial values that share it.

Training (statistics of this batch; they depend on x, so the gradient flows through them):
    μ_c = (1/m) Σ x,    σ²_c = (1/m) Σ (x − μ_c)²  (biased),    σ_c = √(σ²_c + ε)
    x̂ = (x − μ_c) / σ_c,    y = γ_c·x̂ + β_c
    ∂L/∂x = (γ_c/σ_c)/m · (m·g − Σg − x̂·Σ(g·x̂)),   ∂L/∂γ_c = Σ g·x̂,   ∂L/∂β_c = Σ g
Evaluation (running statistics μ_c, σ²_c are constants):
    y = γ_c·(x − μ_c)/σ_c + β_c,    ∂L/∂x = g·γ_c/σ_c,   ∂L/∂γ_c = Σ g·x̂,   ∂L/∂β_c = Σ g
(Σ runs over the batch and spatial positions of channel c.)

How it is computed.  Batch norm does little arithmetic per element; its cost is the number of
passes over the big arrays, so each formula is arranged to need few, and only x is stored:

* forward: μ (one read), x − μ (the output's buffer), σ² from it (one read, plus its sum:
  the float32 rounding of μ leaves a residual mean, measured and removed — exact even for
  activations around 100 with σ ≈ 1), then y = (x − μ)·(γ/σ) + β in place;
* backward: Σg and Σg·x give Σg·x̂ = (Σg·x − μ·Σg)/σ, and
  ∂L/∂x = (γ/σ)·(g + (x − μ)·p + q)  with  p = −Σ(g·x̂)/(m·σ),  q = −Σg/m;
  x̂ itself is never stored nor rebuilt.

Arrays may be channels-first (N, C, ...) or channels-last (what convgrad's convolutions
return: an (N, C, H, W) view of (N, H, W, C) memory); either way they are read in place, as
the channel matrices of ``kernels/channels.py``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .channels import ChannelView, channel_view, in_layout, is_channels_last


class BatchNormCache(NamedTuple):
    training: bool
    x: np.ndarray              # the input — x̂ is never stored
    mean: np.ndarray           # μ_c used (batch or running), (C,), float64
    var: np.ndarray            # σ²_c used (batch: biased; or running), (C,), float64
    inv_std: np.ndarray        # 1/σ_c, (C,), float64
    weight: np.ndarray | None  # γ, (C,); None means γ = 1
    count: int                 # m = N·∏spatial


def _centred(view: ChannelView, mean64: np.ndarray, like: np.ndarray):
    """``(x − μ_hi, μ_lo)``: x minus μ rounded to x's dtype (a new array), and the remainder.

    Subtracting μ_hi first is exact for x near μ; μ_lo = μ − μ_hi then goes into a
    per-channel constant, so float32 loses nothing to cancellation when |μ| ≫ σ.
    """
    mean_hi = mean64.astype(like.dtype)
    out = np.empty_like(like)
    np.subtract(view.matrix, view.vector(mean_hi), out=channel_view(out, view.tiles > 0).matrix)
    return out, mean64 - mean_hi


def _scale_shift(out: np.ndarray, view: ChannelView, scale64, shift64) -> np.ndarray:
    """``out = out·scale + shift`` per channel, in place."""
    matrix = channel_view(out, view.tiles > 0).matrix
    np.multiply(matrix, view.vector(scale64.astype(out.dtype)), out=matrix)
    np.add(matrix, view.vector(shift64.astype(out.dtype)), out=matrix)
    return out


def batch_norm_train_forward(x: np.ndarray, weight, bias, eps: float):
    """Normalise with this batch's mean and biased variance.

    Returns ``(y, cache)``; ``cache.mean`` is μ and ``cache.var`` the biased σ², which the
    caller blends into the running statistics.
    """
    channels_last = is_channels_last(x)
    x = in_layout(x, channels_last)
    view = channel_view(x, channels_last)
    count = x.size // x.shape[1]
    mean = view.sum(view.matrix) / count
    y, mean_lo = _centred(view, mean, x)                  # y = x − μ_hi, for now
    y_view = channel_view(y, channels_last)
    # Σ(x − μ_hi) = m·(μ − μ_hi) up to rounding: measure it rather than trust μ_lo.
    residual = y_view.sum(y_view.matrix) / count
    var = np.maximum(y_view.dot(y_view.matrix, y_view.matrix) / count - residual ** 2, 0.0)
    mean = mean - mean_lo + residual
    inv_std = 1.0 / np.sqrt(var + eps)
    scale = inv_std if weight is None else inv_std * weight
    shift = -residual * scale + (0.0 if bias is None else bias)
    y = _scale_shift(y, y_view, scale, shift)
    return y, BatchNormCache(True, x, mean, var, inv_std, weight, count)


def batch_norm_eval_forward(x: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray,
                            weight, bias, eps: float):
    """Normalise with the running statistics: y = (x − μ)·(γ/σ) + β."""
    channels_last = is_channels_last(x)
    x = in_layout(x, channels_last)
    view = channel_view(x, channels_last)
    mean = running_mean.astype(np.float64)
    inv_std = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
    scale = inv_std if weight is None else inv_std * weight
    y, mean_lo = _centred(view, mean, x)
    shift = -mean_lo * scale + (0.0 if bias is None else bias)
    y = _scale_shift(y, view, scale, shift)
    cache = BatchNormCache(False, x, mean, running_var.astype(np.float64), inv_std, weight,
                           x.size // x.shape[1])
    return y, cache


def batch_norm_backward(dy: np.ndarray, cache: BatchNormCache, needs=(True, True, True)):
    """(∂L/∂x, ∂L/∂γ, ∂L/∂β), each None where ``needs`` says it is not wanted (or γ/β absent).

    Σg·x̂ = (Σg·x − μ·Σg)/σ comes from two reductions over g and x (module docstring).
    """
    training, x, mean, _, inv_std, weight, count = cache
    need_x, need_weight, need_bias = needs
    channels_last = is_channels_last(x)
    view = channel_view(x, channels_last)
    g = in_layout(dy, channels_last)
    g_view = channel_view(g, channels_last)
    sum_g = g_view.sum(g_view.matrix)
    sum_g_xhat = None
    if training or need_weight:
        sum_g_xhat = (g_view.dot(g_view.matrix, view.matrix) - mean * sum_g) * inv_std
    gain = inv_std if weight is None else inv_std * weight   # γ/σ
    dx = None
    if need_x:
        if training:
            # ∂L/∂x = (γ/σ)·(g + (x − μ)·p + q), the x̂·Σ(g·x̂)/m term being (x − μ)·(−p).
            p = -sum_g_xhat * inv_std / count
            dx, mean_lo = _centred(view, mean, x)
            dx = _scale_shift(dx, view, p, -sum_g / count - mean_lo * p)
            matrix = channel_view(dx, channels_last).matrix
            np.add(matrix, g_view.matrix, out=matrix)
            np.multiply(matrix, view.vector(gain.astype(x.dtype)), out=matrix)
        else:
            dx = np.empty_like(x)
            np.multiply(g_view.matrix, g_view.vector(gain.astype(x.dtype)),
                        out=channel_view(dx, channels_last).matrix)
    dweight = sum_g_xhat.astype(x.dtype) if need_weight and weight is not None else None
    dbias = sum_g.astype(x.dtype) if need_bias else None
    return dx, dweight, dbias
