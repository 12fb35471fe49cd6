"""The fully connected layer of the notes, ``z = W x`` (plus a bias), as one GEMM.

Every input position uses every weight once: with d_in inputs and d_out outputs that is
d_in·d_out weights, against size(kernel) for a convolution — the notes' cost comparison.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import unbroadcast
from ..kernels import parallel
from ..ops.arithmetic import saved_crosswise
from ..tensor import Tensor, from_op


def _check(input: Tensor, weight: Tensor, bias) -> None:
    if input.ndim == 0:
        raise RuntimeError(
            f"linear: input must have at least 1 dimension (the features), got a 0-d tensor; "
            f"weight has shape {tuple(weight.shape)}"
        )
    if weight.ndim not in (1, 2):
        raise RuntimeError(
            f"linear: weight must be 2-D (out_features, in_features) or 1-D (in_features,), "
            f"got a {weight.ndim}-D weight of shape {tuple(weight.shape)}"
        )
    if weight.ndim == 1 and input.ndim == 2 and bias is not None:
        # PyTorch routes 2-D input + bias through addmm, which needs a matrix weight.
        raise RuntimeError(
            f"linear: with a 2-D input {tuple(input.shape)} and a bias, weight must be a matrix "
            f"(out_features, in_features), got a 1-D weight of shape {tuple(weight.shape)} "
            f"(mat2 must be a matrix)"
        )
    in_features = weight.shape[-1]
    if input.shape[-1] != in_features:
        raise RuntimeError(
            f"linear: input's last dim has {input.shape[-1]} features (input shape "
            f"{tuple(input.shape)}) but weight of shape {tuple(weight.shape)} expects "
            f"in_features = {in_features}: mat1 and mat2 shapes cannot be multiplied"
        )
    dtypes = {input.dtype, weight.dtype} | ({bias.dtype} if bias is not None else set())
    if len(dtypes) > 1:
        raise RuntimeError(
            f"linear: input, weight and bias must share one dtype, got input {input.dtype}, "
            f"weight {weight.dtype}" + (f", bias {bias.dtype}" if bias is not None else "")
        )


def _broadcasts_into(shape: tuple, target: tuple) -> bool:
    """True when an array of ``shape`` broadcasts to exactly ``target`` (``out += b`` works)."""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = x Wᵀ + b`` over the last dim of x (any leading dims), as a single GEMM.

    With the leading dims flattened into M rows, X is (M, d_in) and W is (d_out, d_in):
        Y = X Wᵀ + b,   ∂L/∂X = G W,   ∂L/∂W = Gᵀ X,   ∂L/∂b = Σ_rows G
    Each weight W[j, k] is reused by all M rows, so its gradient sums over them.  A 1-D weight
    (d_in,) gives one output per row, as in PyTorch; ``b`` broadcasts into the output.
    The products run as the convolutions' do (``kernels/parallel.py``): split over convgrad's
    worker threads when large, on one core each otherwise.
    """
    _check(input, weight, bias)
    lead, in_features = input.shape[:-1], input.shape[-1]
    rows = math.prod(lead)             # (not reshape(-1, ...): ambiguous when in_features is 0)
    x2 = input.data.reshape(rows, in_features)
    out_features = weight.shape[0] if weight.ndim == 2 else 1   # a 1-D weight is one row
    w2 = weight.data.reshape(out_features, in_features)
    out_shape = lead + weight.shape[:-1]
    if bias is not None and not _broadcasts_into(bias.shape, out_shape):
        raise RuntimeError(
            f"linear: bias of shape {tuple(bias.shape)} does not broadcast to the output "
            f"shape {out_shape} (input {tuple(input.shape)}, weight {tuple(weight.shape)}); "
            f"expected a bias of shape {tuple(weight.shape[:-1])}"
        )
    out = parallel.matmul(x2, w2, transpose_b=True).reshape(out_shape)
    if bias is not None:
        out += bias.data

    def backward(g):
        g2 = g.reshape(rows, out_features)
        dx = parallel.matmul(g2, w2).reshape(input.shape) if input.requires_grad else None
        dw = (parallel.matmul(g2, x2, transpose_a=True).reshape(weight.shape)
              if weight.requires_grad else None)
        db = unbroadcast(g, bias.shape) if bias is not None and bias.requires_grad else None
        return dx, dw, db

    return from_op(out, (input, weight, bias), backward, "AddmmBackward0",
                   saved=saved_crosswise(input, weight))
