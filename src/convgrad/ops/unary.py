"""Element-wise functions of one tensor and their derivatives."""
from __future__ import annotations

import numpy as np

from ..autograd import from_op
from ..tensor import Tensor


def neg(x: Tensor) -> Tensor:
    """``−x``;  ∂/∂x = −g."""
    return from_op(-x.data, (x,), lambda g: (-g,), "NegBackward0")


def exp(x: Tensor) -> Tensor:
    """``eˣ``;  ∂/∂x = g·eˣ (the output itself)."""
    out = np.exp(x.data)
    return from_op(out, (x,), lambda g: (g * out,), "ExpBackward0")


def log(x: Tensor) -> Tensor:
    """``ln x``;  ∂/∂x = g / x."""
    return from_op(np.log(x.data), (x,), lambda g: (g / x.data,), "LogBackward0")


def sqrt(x: Tensor) -> Tensor:
    """``√x``;  ∂/∂x = g / (2√x)."""
    out = np.sqrt(x.data)
    return from_op(out, (x,), lambda g: (g / (2 * out),), "SqrtBackward0")


def abs(x: Tensor) -> Tensor:
    """``|x|``;  ∂/∂x = g·sign(x), which is 0 at x = 0 as in PyTorch."""
    return from_op(np.abs(x.data), (x,), lambda g: (g * np.sign(x.data),), "AbsBackward0")


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """``min(max(x, lo), hi)``;  ∂/∂x = g where lo ≤ x ≤ hi (bounds included), else 0."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    lo = -np.inf if min is None else min
    hi = np.inf if max is None else max
    out = np.minimum(np.maximum(x.data, lo), hi)  # when lo > hi everything becomes hi, as torch

    def backward(g):
        return (g * ((x.data >= lo) & (x.data <= hi)),)

    return from_op(out.astype(x.dtype, copy=False), (x,), backward, "ClampBackward1")


def relu(x: Tensor) -> Tensor:
    """``max(x, 0)``;  ∂/∂x = 0 where x ≤ 0 (also at x = 0), else g — NaN included, as PyTorch."""
    out = np.maximum(x.data, 0)

    def backward(g):
        # In x's memory layout whatever g's is, so the layers below keep reading in place.
        grad = np.empty_like(out)
        np.multiply(g, ~(out <= 0), out=grad)
        return (grad,)

    return from_op(out, (x,), backward, "ReluBackward0")


def sigmoid(x: Tensor) -> Tensor:
    """``σ(x) = 1 / (1 + e^−x)``;  ∂/∂x = g·σ(x)·(1 − σ(x)).

    Computed as ``½·(1 + tanh(x/2))``, which never overflows for large |x|.
    """
    out = 0.5 * (1 + np.tanh(0.5 * x.data))
    return from_op(out, (x,), lambda g: (g * out * (1 - out),), "SigmoidBackward0")


def tanh(x: Tensor) -> Tensor:
    """``tanh x``;  ∂/∂x = g·(1 − tanh² x)."""
    out = np.tanh(x.data)
    return from_op(out, (x,), lambda g: (g * (1 - out * out),), "TanhBackward0")


def cast(x: Tensor, dtype: np.dtype) -> Tensor:
    """``x`` converted to ``dtype``; the gradient is converted back."""
    if x.dtype == dtype:
        return x
    return from_op(x.data.astype(dtype), (x,), lambda g: (g.astype(x.dtype),), "ToCopyBackward0")
