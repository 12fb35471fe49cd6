"""Broadcasting binary arithmetic: + − × ÷, power, maximum/minimum and comparisons.

Every backward rule ends in ``unbroadcast``: an input that was broadcast was reused at
every position it was copied to, so its gradient is the sum over those positions.
"""
from __future__ import annotations

import numpy as np

from ..autograd import unbroadcast
from ..tensor import Tensor, as_tensor, float32, from_op


def _converted(t: Tensor, dtype) -> Tensor:
    """``t``'s values in ``dtype``, a constant that keeps ``t``'s version counter: changing
    ``t`` in place is still caught by a backward that saved the converted copy."""
    out = Tensor._wrap(t.data.astype(dtype))
    out._version_counter = t._version_counter
    return out


def broadcast_shape(a: tuple, b: tuple) -> tuple:
    """The shape two operands broadcast to, or PyTorch's RuntimeError naming the dim where
    they cannot (sizes are matched from the last dim; a size 1 stretches)."""
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        pass
    for offset in range(1, min(len(a), len(b)) + 1):
        m, n = a[-offset], b[-offset]
        if m != n and m != 1 and n != 1:
            raise RuntimeError(
                f"The size of tensor a ({m}) must match the size of tensor b ({n}) at "
                f"non-singleton dimension {max(len(a), len(b)) - offset}: shapes {tuple(a)} "
                f"and {tuple(b)} do not broadcast"
            ) from None
    raise AssertionError(f"unreachable: {a} and {b} broadcast")


def promoted(a, b) -> tuple[Tensor, Tensor]:
    """Both operands as tensors, with PyTorch's promotion between floats and integers.

    A float tensor combined with an integer one keeps the float dtype (NumPy would go to
    float64); two float dtypes promote to the wider one, as in both libraries.
    """
    like = a if isinstance(a, Tensor) else b
    a, b = as_tensor(a, like), as_tensor(b, like)
    a_float, b_float = a.dtype.kind == "f", b.dtype.kind == "f"
    if a_float and not b_float:
        b = _converted(b, a.dtype)
    elif b_float and not a_float:
        a = _converted(a, b.dtype)
    return a, b


def _operands(a, b) -> tuple[Tensor, Tensor]:
    """:func:`promoted` operands of an element-wise operation, whose shapes must broadcast."""
    a, b = promoted(a, b)
    if a.shape != b.shape:
        broadcast_shape(a.shape, b.shape)
    return a, b


def saved_crosswise(a: Tensor, b: Tensor) -> tuple:
    """What a product saves (PyTorch's rule): ∂/∂a reads b, ∂/∂b reads a, so each operand
    is saved only when the other one needs a gradient."""
    return ((b,) if a.requires_grad else ()) + ((a,) if b.requires_grad else ())


def add(a, b) -> Tensor:
    """``a + b``;  ∂/∂a = g,  ∂/∂b = g (each summed over its broadcast axes)."""
    a, b = _operands(a, b)

    def backward(g):
        return unbroadcast(g, a.shape), unbroadcast(g, b.shape)

    return from_op(a.data + b.data, (a, b), backward, "AddBackward0", saved=())


def sub(a, b) -> Tensor:
    """``a − b``;  ∂/∂a = g,  ∂/∂b = −g."""
    a, b = _operands(a, b)

    def backward(g):
        return unbroadcast(g, a.shape), unbroadcast(-g, b.shape) if b.requires_grad else None

    return from_op(a.data - b.data, (a, b), backward, "SubBackward0", saved=())


def mul(a, b) -> Tensor:
    """``a · b``;  ∂/∂a = g·b,  ∂/∂b = g·a."""
    a, b = _operands(a, b)

    def backward(g):
        ga = unbroadcast(g * b.data, a.shape) if a.requires_grad else None
        gb = unbroadcast(g * a.data, b.shape) if b.requires_grad else None
        return ga, gb

    return from_op(a.data * b.data, (a, b), backward, "MulBackward0",
                   saved=saved_crosswise(a, b))


def div(a, b) -> Tensor:
    """``a / b`` (true division);  ∂/∂a = g/b,  ∂/∂b = −g·a/b²."""
    a, b = _operands(a, b)
    if a.dtype.kind != "f":  # integer / integer is float32 in PyTorch
        a, b = _converted(a, float32), _converted(b, float32)

    def backward(g):
        ga = unbroadcast(g / b.data, a.shape) if a.requires_grad else None
        gb = unbroadcast(-g * a.data / (b.data * b.data), b.shape) if b.requires_grad else None
        return ga, gb

    # ∂/∂a reads b; ∂/∂b reads a and b.
    saved = ((b,) if a.requires_grad or b.requires_grad else ()) + \
        ((a,) if b.requires_grad else ())
    return from_op(a.data / b.data, (a, b), backward, "DivBackward0", saved=saved)


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

    # ∂/∂a reads a and b; ∂/∂b reads them and the output as well.
    return from_op(out, (a, b), backward, "PowBackward0", saved=(a, b),
                   save_output=b.requires_grad)


def _select(a, b, take_a: np.ndarray, name: str) -> Tensor:
    """Element-wise choice between ``a`` and ``b``; a tie splits the gradient in half."""
    out = np.where(take_a, a.data, b.data)
    tie = a.data == b.data

    def backward(g):
        share_a = np.where(tie, 0.5, take_a).astype(g.dtype)
        ga = unbroadcast(g * share_a, a.shape) if a.requires_grad else None
        gb = unbroadcast(g * (1 - share_a), b.shape) if b.requires_grad else None
        return ga, gb

    return from_op(out, (a, b), backward, name, saved=(a, b))


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
