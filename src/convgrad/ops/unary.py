"""Element-wise functions of one tensor and their derivatives."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, from_op, to_arguments
from .shape import clone


def neg(x: Tensor) -> Tensor:
    """``−x``;  ∂/∂x = −g."""
    return from_op(-x.data, (x,), lambda g: (-g,), "NegBackward0", saved=())


def exp(x: Tensor) -> Tensor:
    """``eˣ``;  ∂/∂x = g·eˣ (the output itself)."""
    out = np.exp(x.data)
    return from_op(out, (x,), lambda g: (g * out,), "ExpBackward0", saved=(),
                   save_output=True)


def log(x: Tensor) -> Tensor:
    """``ln x``;  ∂/∂x = g / x."""
    return from_op(np.log(x.data), (x,), lambda g: (g / x.data,), "LogBackward0", saved=(x,))


def sqrt(x: Tensor) -> Tensor:
    """``√x``;  ∂/∂x = g / (2√x)."""
    out = np.sqrt(x.data)
    return from_op(out, (x,), lambda g: (g / (2 * out),), "SqrtBackward0", saved=(),
                   save_output=True)


def abs(x: Tensor) -> Tensor:
    """``|x|``;  ∂/∂x = g·sign(x), which is 0 at x = 0 as in PyTorch."""
    return from_op(np.abs(x.data), (x,), lambda g: (g * np.sign(x.data),), "AbsBackward0",
                   saved=(x,))


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """``min(max(x, lo), hi)``;  ∂/∂x = g where lo ≤ x ≤ hi (bounds included), else 0."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    lo = -np.inf if min is None else min
    hi = np.inf if max is None else max
    out = np.minimum(np.maximum(x.data, lo), hi)  # when lo > hi everything becomes hi, as torch

    def backward(g):
        return (g * ((x.data >= lo) & (x.data <= hi)),)

    return from_op(out.astype(x.dtype, copy=False), (x,), backward, "ClampBackward1",
                   saved=(x,))


def relu(x: Tensor) -> Tensor:
    """``max(x, 0)``;  ∂/∂x = 0 where x ≤ 0 (also at x = 0), else g — NaN included, as PyTorch."""
    out = np.maximum(x.data, 0)

    def backward(g):
        # In x's memory layout whatever g's is, so the layers below keep reading in place.
        grad = np.empty_like(out)
        np.multiply(g, ~(out <= 0), out=grad)
        return (grad,)

    return from_op(out, (x,), backward, "ReluBackward0", saved=(), save_output=True)


def sigmoid(x: Tensor) -> Tensor:
    """``σ(x) = 1 / (1 + e^−x)``;  ∂/∂x = g·σ(x)·(1 − σ(x)).

    Computed as ``½·(1 + tanh(x/2))``, which never overflows for large |x|.
    """
    out = 0.5 * (1 + np.tanh(0.5 * x.data))
    return from_op(out, (x,), lambda g: (g * out * (1 - out),), "SigmoidBackward0",
                   saved=(), save_output=True)


def tanh(x: Tensor) -> Tensor:
    """``tanh x``;  ∂/∂x = g·(1 − tanh² x)."""
    out = np.tanh(x.data)
    return from_op(out, (x,), lambda g: (g * (1 - out * out),), "TanhBackward0",
                   saved=(), save_output=True)


def cast(x: Tensor, dtype: np.dtype) -> Tensor:
    """``x`` converted to ``dtype``; the gradient is converted back."""
    if x.dtype == dtype:
        return x
    return from_op(x.data.astype(dtype), (x,), lambda g: (g.astype(x.dtype),),
                   "ToCopyBackward0", saved=())


def to(x: Tensor, *args, dtype=None, device=None, non_blocking: bool = False,
       copy: bool = False) -> Tensor:
    """``x.to(dtype)``, ``x.to('cpu')``, ``x.to(device='cpu', dtype=...)``, ``x.to(other)``.

    As PyTorch: the result is ``x`` itself when nothing changes (unless ``copy``), and a
    device other than the CPU raises RuntimeError (``tensor.to_arguments``).
    """
    dtype = to_arguments(args, dtype, device)
    out = x if dtype is None else cast(x, dtype)
    return clone(out) if copy and out is x else out
