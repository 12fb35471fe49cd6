"""Matrix multiplication with NumPy's (= PyTorch's) rules for 1-D and batched operands."""
from __future__ import annotations

import math

import numpy as np

from ..autograd import unbroadcast
from ..tensor import Tensor, from_op
from .arithmetic import broadcast_shape, promoted, saved_crosswise


def matmul(a, b) -> Tensor:
    """``a @ b``:  C[i, j] = Σ_k A[i, k] B[k, j];  ∂/∂A = G Bᵀ,  ∂/∂B = Aᵀ G.

    A 1-D ``a`` acts as a row (a leading 1 inserted then removed), a 1-D ``b`` as a column;
    batch dims broadcast, so each operand's gradient is summed over the batch dims it was
    broadcast along.
    """
    a, b = promoted(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_rows(a.shape)}x{k_a} and "
            f"{k_b}x{b.shape[-1] if b.ndim > 1 else 1}): inner sizes {k_a} and {k_b} differ"
        )
    if a.ndim > 2 or b.ndim > 2:       # batch dims broadcast, with PyTorch's error if not
        broadcast_shape(a.shape[:-2], b.shape[:-2])
    out = np.matmul(a.data, b.data)

    def backward(g):
        a2 = a.data[None, :] if a.ndim == 1 else a.data
        b2 = b.data[:, None] if b.ndim == 1 else b.data
        g2 = np.expand_dims(g, -1) if b.ndim == 1 else g  # column first: 1-D @ 1-D is 0-d
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        ga = gb = None
        if a.requires_grad:
            ga = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if b.requires_grad:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb

    return from_op(out, (a, b), backward, "MmBackward0", saved=saved_crosswise(a, b))


def _rows(shape: tuple) -> int:
    return math.prod(shape[:-1]) if len(shape) > 1 else 1
