"""Losses as fused forward/backward pairs on NumPy arrays: cross-entropy, NLL and MSE.

Layout is PyTorch's: scores ``z`` of shape (N, C, *d) with the classes on axis 1, and one
target per position i = (n, *d).  Arguments arrive already checked (``functional/loss.py``
does that and raises PyTorch's errors); these functions only compute.

Log-softmax, without overflow (the largest score is subtracted before exponentiating):
    log p_ic = z_ic − m_i − log Σ_c' e^(z_ic' − m_i),   m_i = max_c z_ic

Cross-entropy against per-position class weights q_ic (every option is a choice of q):
    ℓ_i = −Σ_c q_ic · log p_ic
    ∂ℓ_i/∂z_ic = (Σ_c' q_ic') · p_ic − q_ic          (= p − onehot for a plain index target)
  index targets y, class weights w, label smoothing ε (PyTorch's formula):
    q_ic = (1−ε)·w_{y_i}·[c = y_i] + (ε/C)·w_c,  and q_i = 0 where y_i = ignore_index;
    'mean' divides Σ_i ℓ_i by Σ_i w_{y_i} over the non-ignored positions.
  probability targets t:
    q_ic = w_c · ((1−ε)·t_ic + ε/C);  'mean' divides by the number of positions N·∏d;
    ∂ℓ_i/∂t_ic = −(1−ε)·w_c·log p_ic.

NLL on log-probabilities a:  ℓ_i = −w_{y_i}·a_{i,y_i};  ∂ℓ_i/∂a_ic = −w_{y_i}·[c = y_i].
MSE:  ℓ = v·(x − t)²;  ∂ℓ/∂x = 2v(x − t) = −∂ℓ/∂t,  ∂ℓ/∂v = (x − t)²  (before
un-broadcasting, which the caller does).

Reductions: 'none' keeps ℓ_i, 'sum' is Σ ℓ_i, 'mean' is Σ ℓ_i / normaliser; the upstream
gradient g reaches position i as g_i (none), g (sum) or g / normaliser (mean).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


# ----------------------------------------------------------------------------- softmax
def log_softmax(z: np.ndarray, axis: int) -> np.ndarray:
    """``log p = z − max z − log Σ e^(z − max z)`` along ``axis``; never overflows.

    A slice that is entirely −∞ gives NaN, as in PyTorch.
    """
    with np.errstate(invalid="ignore"):
        shifted = z - z.max(axis=axis, keepdims=True)
        shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def softmax(z: np.ndarray, axis: int) -> np.ndarray:
    """``p = e^(z − max z) / Σ e^(z − max z)`` along ``axis``; never overflows."""
    with np.errstate(invalid="ignore"):
        p = np.exp(z - z.max(axis=axis, keepdims=True))
        p /= p.sum(axis=axis, keepdims=True)
    return p


# ----------------------------------------------------------------------------- reductions
def _reduce(per_position: np.ndarray, reduction: str, normaliser) -> np.ndarray:
    """ℓ_i (none), Σ ℓ_i (sum) or Σ ℓ_i / normaliser (mean; 0/0 is NaN, as in PyTorch)."""
    if reduction == "none":
        return per_position
    total = per_position.sum(dtype=per_position.dtype)
    if reduction == "mean":
        # Nothing to average over (an empty batch, every target ignored, zero total weight)
        # is NaN in PyTorch — also when label smoothing leaves a non-zero numerator.
        total = total / normaliser if normaliser != 0 else np.nan
    return np.asarray(total, dtype=per_position.dtype)


def _position_grad(dout: np.ndarray, reduction: str, shape: tuple, normaliser) -> np.ndarray:
    """The upstream gradient as it reaches each position i: g_i, g, or g / normaliser."""
    if reduction == "none":
        return dout
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            dout = dout / dout.dtype.type(normaliser)
    return np.broadcast_to(dout, shape)


def _class_column(weight: np.ndarray, ndim: int) -> np.ndarray:
    """Per-class weights shaped (1, C, 1, ...) to broadcast along axis 1 of an ndim array."""
    return weight.reshape((1, -1) + (1,) * (ndim - 2))


# ----------------------------------------------------------------------------- cross-entropy
class IndexTargetCache(NamedTuple):
    log_probs: np.ndarray      # log p, (N, C, *d)
    target: np.ndarray         # y with ignored positions replaced by class 0, (N, 1, *d)
    valid: np.ndarray          # y_i != ignore_index, (N, *d)
    target_weight: np.ndarray  # w_{y_i}, 0 where ignored, (N, *d)
    weight: np.ndarray | None  # w, (C,)
    label_smoothing: float
    reduction: str
    normaliser: float


def _index_target_parts(target, ignore_index, weight, dtype):
    """(y with ignored positions → class 0, valid mask, w_{y_i} with 0 where ignored)."""
    valid = target != ignore_index
    safe = np.where(valid, target, 0).astype(np.intp)[:, None]
    picked = weight[safe[:, 0]] if weight is not None else np.ones(valid.shape, dtype)
    return safe, valid, np.where(valid, picked, dtype.type(0))


def cross_entropy_forward(z: np.ndarray, target: np.ndarray, weight, ignore_index: int,
                          reduction: str, label_smoothing: float):
    """Index-target cross-entropy, fused with its log-softmax.

    ℓ_i = (1−ε)·w_{y_i}·(−log p_{i,y_i}) + (ε/C)·Σ_c w_c·(−log p_ic),  0 where y_i is ignored.
    Returns ``(loss, cache)``; ``loss`` is ℓ (none) or a 0-d array (sum, mean).
    """
    eps, classes = label_smoothing, z.shape[1]
    log_probs = log_softmax(z, axis=1)
    safe, valid, target_weight = _index_target_parts(target, ignore_index, weight, z.dtype)
    nll = -np.take_along_axis(log_probs, safe, axis=1)[:, 0]
    # `where`, not a product: an ignored position may hold log p = −∞, and 0·∞ is NaN.
    per_position = np.where(valid, (1 - eps) * target_weight * nll, 0).astype(z.dtype)
    if eps > 0:
        weighted = log_probs if weight is None else log_probs * _class_column(weight, z.ndim)
        smooth = -weighted.sum(axis=1)
        per_position += np.where(valid, (eps / classes) * smooth, 0).astype(z.dtype)
    normaliser = target_weight.sum(dtype=z.dtype)
    cache = IndexTargetCache(log_probs, safe, valid, target_weight, weight, eps, reduction,
                             normaliser)
    return _reduce(per_position, reduction, normaliser), cache


def cross_entropy_backward(dout: np.ndarray, cache: IndexTargetCache) -> np.ndarray:
    """∂L/∂z_ic = g_i · (s_i·p_ic − q_ic),  s_i = Σ_c q_ic = (1−ε)·w_{y_i} + (ε/C)·Σ_c w_c."""
    log_probs, safe, valid, target_weight, weight, eps, reduction, normaliser = cache
    classes = log_probs.shape[1]
    g = _position_grad(dout, reduction, valid.shape, normaliser)
    # Ignored positions get exactly 0, even when 'mean' divides by a zero total weight.
    g = np.where(valid, g, 0).astype(log_probs.dtype)
    weight_total = classes if weight is None else weight.sum(dtype=log_probs.dtype)
    row_total = (1 - eps) * target_weight + np.where(valid, (eps / classes) * weight_total, 0)
    with np.errstate(invalid="ignore"):
        dz = np.exp(log_probs)
        dz *= (g * row_total)[:, None]
        at_target = np.take_along_axis(dz, safe, axis=1)
        at_target -= ((1 - eps) * target_weight * g)[:, None]
        np.put_along_axis(dz, safe, at_target, axis=1)
        if eps > 0:
            column = 1 if weight is None else _class_column(weight, dz.ndim)
            dz -= (eps / classes) * column * g[:, None]
    return dz


class ProbabilityTargetCache(NamedTuple):
    log_probs: np.ndarray   # log p, (N, C, *d)
    q: np.ndarray           # w_c·((1−ε)·t_ic + ε/C), (N, C, *d)
    weight: np.ndarray | None
    label_smoothing: float
    reduction: str
    normaliser: int


def cross_entropy_prob_forward(z: np.ndarray, target: np.ndarray, weight, reduction: str,
                               label_smoothing: float):
    """Probability-target cross-entropy: ℓ_i = −Σ_c w_c·((1−ε)·t_ic + ε/C)·log p_ic."""
    eps, classes = label_smoothing, z.shape[1]
    log_probs = log_softmax(z, axis=1)
    q = target * (1 - eps) + eps / classes if eps > 0 else target
    if weight is not None:
        q = q * _class_column(weight, z.ndim)
    per_position = -(q * log_probs).sum(axis=1)
    normaliser = per_position.size  # positions N·∏d; 0 for an empty batch, so 'mean' is NaN
    cache = ProbabilityTargetCache(log_probs, q, weight, eps, reduction, normaliser)
    return _reduce(per_position, reduction, normaliser), cache


def cross_entropy_prob_backward(dout: np.ndarray, cache: ProbabilityTargetCache,
                                need_target_grad: bool = True):
    """∂L/∂z = g_i·((Σ_c q_ic)·p − q);  ∂L/∂t = −g_i·(1−ε)·w_c·log p.  Returns (dz, dt)."""
    log_probs, q, weight, eps, reduction, normaliser = cache
    g = _position_grad(dout, reduction, log_probs.shape[:1] + log_probs.shape[2:], normaliser)
    g = np.asarray(g, dtype=log_probs.dtype)[:, None]
    dz = np.exp(log_probs)
    dz *= q.sum(axis=1, keepdims=True) * g
    dz -= q * g
    dt = None
    if need_target_grad:
        dt = log_probs * (-(1 - eps) * g)
        if weight is not None:
            dt *= _class_column(weight, dt.ndim)
    return dz, dt


# ----------------------------------------------------------------------------- NLL
class NllCache(NamedTuple):
    shape: tuple
    dtype: np.dtype
    target: np.ndarray
    valid: np.ndarray
    target_weight: np.ndarray
    reduction: str
    normaliser: float


def nll_loss_forward(a: np.ndarray, target: np.ndarray, weight, ignore_index: int,
                     reduction: str):
    """ℓ_i = −w_{y_i}·a_{i,y_i} (0 where ignored); 'mean' divides by Σ_i w_{y_i}."""
    safe, valid, target_weight = _index_target_parts(target, ignore_index, weight, a.dtype)
    picked = np.take_along_axis(a, safe, axis=1)[:, 0]
    per_position = np.where(valid, -target_weight * picked, 0).astype(a.dtype)
    normaliser = target_weight.sum(dtype=a.dtype)
    cache = NllCache(a.shape, a.dtype, safe, valid, target_weight, reduction, normaliser)
    return _reduce(per_position, reduction, normaliser), cache


def nll_loss_backward(dout: np.ndarray, cache: NllCache) -> np.ndarray:
    """∂L/∂a_ic = −g_i·w_{y_i} at c = y_i, 0 elsewhere (and 0 at ignored positions)."""
    shape, dtype, safe, valid, target_weight, reduction, normaliser = cache
    g = _position_grad(dout, reduction, valid.shape, normaliser)
    with np.errstate(invalid="ignore"):
        values = np.where(valid, -target_weight * g, 0).astype(dtype)
    da = np.zeros(shape, dtype=dtype)
    np.put_along_axis(da, safe, values[:, None], axis=1)
    return da


# ----------------------------------------------------------------------------- MSE
class MseCache(NamedTuple):
    difference: np.ndarray     # x − t, broadcast shape
    weight: np.ndarray | None  # per-element weights v (broadcast against x − t)
    loss: np.ndarray           # the reduced loss (its 'mean' enters ∂L/∂v)
    reduction: str
    normaliser: float


def mse_loss_forward(x: np.ndarray, t: np.ndarray, reduction: str, weight=None):
    """ℓ = v·(x − t)² element-wise (after broadcasting; v = 1 without weights).

    'mean' divides by the element count, or by Σ v with weights (PyTorch's rule).
    """
    difference = x - t
    per_element = difference * difference
    if weight is not None:
        per_element *= weight
    normaliser = difference.size if weight is None else weight.sum(dtype=x.dtype)
    loss = _reduce(per_element, reduction, normaliser)
    return loss, MseCache(difference, weight, loss, reduction, normaliser)


def mse_loss_backward(dout: np.ndarray, cache: MseCache, need_weight_grad: bool = False):
    """∂L/∂x = 2·g·v·(x − t) (∂L/∂t is its negative);  ∂L/∂v = g·(x − t)².  Returns (dx, dv).

    With weights, 'mean' is L = Σ v·(x − t)² / Σ v, so ∂L/∂v = g·((x − t)² − L) / Σ v: the
    normaliser depends on v too.  Both come in the broadcast shape; the caller sums them back
    to each input's shape.
    """
    difference, weight, loss, reduction, normaliser = cache
    g = _position_grad(dout, reduction, difference.shape, normaliser)
    dx = (2 * g) * difference
    if weight is not None:
        dx *= weight
    dv = None
    if need_weight_grad:
        squared = difference * difference
        dv = g * (squared - loss) if reduction == "mean" else g * squared
    return dx, dv
