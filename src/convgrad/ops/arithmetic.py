"""Broadcasting binary arithmetic: + − × ÷, power, maximum/minimum and comparisons.

Every backward rule ends in ``unbroadcast``: an input that was broadcast was reused at
every position it was copied to, so its gradient is the sum over those positions.
"""
from __future__ import annotations

import numpy as np

from ..autograd import from_op, unbroadcast
from ..tensor import Tensor, as_tensor, float32


def _operands(a, b) -> tuple[Tensor, Tensor]:
    """Both operands as tensors, with PyTorch's promotion between floats and integers.

    A float tensor combined with an integer one keeps the float dtype (NumPy would go to
    float64); two float dtypes promote to the wider one, as in both libraries.
    """
    like = a if isinstance(a, Tensor) else b
    a, b = as_tensor(a, like), as_tensor(b, like)
    a_float, b_float = a.dtype.kind == "f", b.dtype.kind == "f"
    if a_float and not b_float:
        b = Tensor._wrap(b.data.astype(a.dtype))
    elif b_float and not a_float:
        a = Tensor._wrap(a.data.astype(b.dtype))
    return a, b


def add(a, b) -> Tensor:
    """``a + b``;  ∂/∂a = g,  ∂/∂b = g (each summed over its broadcast axes)."""
    a, b = _operands(a, b)

    def backward(g):
        return unbroadcast(g, a.shape), unbroadcast(g, b.shape)

    return from_op(a.data + b.data, (a, b), backward, "AddBackward0")


def sub(a, b) -> Tensor:
    """``a − b``;  ∂/∂a = g,  ∂/∂b = −g."""
    a, b = _operands(a, b)

    def backward(g):
        return unbroadcast(g, a.shape), unbroadcast(-g, b.shape) if b.requires_grad else None

    return from_op(a.data - b.data, (a, b), backward, "SubBackward0")


def mul(a, b) -> Tensor:
    """``a · b``;  ∂/∂a = g·b,  ∂/∂b = g·a."""
    a, b = _operands(a, b)

    def backward(g):
        ga = unbroadcast(g * b.data, a.shape) if a.requires_grad else None
        gb = unbroadcast(g * a.data, b.shape) if b.requires_grad else None
        return ga, gb

    return from_op(a.data * b.data, (a, b), backward, "MulBackward0")


def div(a, b) -> Tensor:
    """``a / b`` (true division);  ∂/∂a = g/b,  ∂/∂b = −g·a/b²."""
    a, b = _operands(a, b)
    if a.dtype.kind != "f":  # integer / integer is float32 in PyTorch
        a, b = Tensor._wrap(a.data.astype(float32)), Tensor._wrap(b.data.astype(float32))

    def backward(g):
        ga = unbroadcast(g / b.data, a.shape) if a.requires_grad else None
        gb = unbroadcast(-g * a.data / (b.data * b.data), b.shape) if b.requires_grad else None
        return ga, gb

    return from_op(a.data / b.data, (a, b), backward, "DivBackward0")


def pow(a, b) -> Tensor:
    """``a ** b``;  ∂/∂a = g·b·a^(b−1),  ∂/∂b = g·a^b·ln a.

    As in PyTorch, an exponent of 0 gives a zero gradient (not 0·a^−1, which is NaN at
    a = 0), and ∂/∂b is taken as 0 where a = 0 and b ≥ 0 (where ln a = −∞ would poison it).
    """
    a, b = _operands(a, b)
    out = np.power(a.data, b.data)

    def backward(g):
        ga = gb = None
        if a.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                safe = np.where(b.data == 0, 0, b.data * np.power(a.data, b.data - 1))
            ga = unbroadcast(g * safe, a.shape)
        if b.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.log(a.data)
            term = np.where((a.data == 0) & (b.data >= 0), 0, out * log_a)
            gb = unbroadcast(g * term, b.shape)
        return ga, gb

    return from_op(out, (a, b), backward, "PowBackward0")


def _select(a, b, take_a: np.ndarray, name: str) -> Tensor:
    """Element-wise choice between ``a`` and ``b``; a tie splits the gradient in half."""
    out = np.where(take_a, a.data, b.data)
    tie = a.data == b.data

    def backward(g):
        share_a = np.where(tie, 0.5, take_a).astype(g.dtype)
        ga = unbroadcast(g * share_a, a.shape) if a.requires_grad else None
        gb = unbroadcast(g * (1 - share_a), b.shape) if b.requires_grad else None
        return ga, gb

    return from_op(out, (a, b), backward, name)


def maximum(a, b) -> Tensor:
    """Element-wise ``max(a, b)``; NaN propagates; ties share the gradient equally."""
    a, b = _operands(a, b)
    return _select(a, b, (a.data > b.data) | np.isnan(a.data), "MaximumBackward0")


def minimum(a, b) -> Tensor:
    """Element-wise ``min(a, b)``; NaN propagates; ties share the gradient equally."""
    a, b = _operands(a, b)
    return _select(a, b, (a.data < b.data) | np.isnan(a.data), "MinimumBackward0")


def compare(a, b, ufunc) -> Tensor:
    """A comparison: a bool tensor, outside the graph (comparisons have no gradient)."""
    a, b = _operands(a, b)
    return Tensor._wrap(ufunc(a.data, b.data))
