"""Fast route: stride-2 convolution as a stride-1 convolution of the input's four phases.

It computes the reference's sum (``kernels/conv.py``; tested against ``conv_loops`` and
PyTorch) for stride-2, one-group 2-D convolutions.  Measured gain
(``benchmarks/conv_routes.py --threads 1``, CPU time, float32, batch 64, 3×3, padding 1; four
runs on a shared 2-core machine): forward+backward 1.1–1.3× faster than im2col on ResNet-20's
16→32 layer (32×32), level with it (0.97–1.01×) on its 32→64 layer (16×16).

With stride 2, output (h, w) reads ``x_pad[2h + i, 2w + j]``.  Writing the tap as
i = 2·δi + a, j = 2·δj + b (a, b ∈ {0, 1}) and the *phases* of the padded input as

    P_ab[u, v] = x_pad[2u + a, 2v + b]          (every other row and column)

turns the strided sum into stride-1 sums over the phases:

    y[o, h, w] = Σ_{a,b} Σ_c Σ_{δi,δj} P_ab[c, h + δi, w + δj] · w[o, c, 2δi + a, 2δj + b]

that is, an ordinary stride-1 convolution of the (4·C_in)-channel phase image with the
kernel regrouped into ⌈k/2⌉×⌈k/2⌉ taps, zero where 2δ + a runs past k.  That convolution
takes the fast per-tap route of ``conv_grid``; the regrouping costs (2⌈k/2⌉/k)² times the
multiply-adds (16/9 for k = 3), far less than im2col's window copy.  The backward pass is
the same regrouping read backwards: ∂L/∂x puts each phase's gradient back in its rows and
columns, ∂L/∂w picks each weight out of the regrouped kernel's gradient.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import blas, conv_grid


def applies(x, weight, stride, padding, dilation, groups) -> bool:
    """Stride 2 in 2-D, no dilation, one group, and the grid route's dtypes; and it pays: the
    regrouped kernel wastes the taps that fall off the kernel (16/9 of the work for 3×3),
    which pays only when the im2col copy it avoids is big — at least 4 input channels, a
    batch, and a kernel taller than one row."""
    return (x.ndim == 4 and tuple(stride) == (2, 2) and tuple(dilation) == (1, 1)
            and groups == 1 and blas.raw_gemm(x.dtype) is not None and x.shape[1] >= 4
            and x.shape[0] > 0 and weight.shape[0] > 0 and weight.shape[2] > 1)


class PhaseCache(NamedTuple):
    grid_cache: conv_grid.GridCache
    input_shape: tuple       # (N, C_in, H, W)
    padding: tuple           # ((top, bottom), (left, right))
    weight_shape: tuple      # (C_out, C_in, kh, kw)
    out_size: tuple          # (H_out, W_out)


def _phase_image(x: np.ndarray, padding: tuple, phase_size: tuple) -> np.ndarray:
    """(N, C, H, W) → the (N, 4C, H', W') phases of the zero-padded input, channels-last.

    Channel (a, b, c) of the result is channel c of phase P_ab (a, b the row, column parity).
    """
    batch, channels, height, width = x.shape
    (top, _), (left, _) = padding
    rows, cols = phase_size
    padded = np.zeros((batch, 2 * rows, 2 * cols, channels), dtype=x.dtype)
    padded[:, top:top + height, left:left + width] = x.transpose(0, 2, 3, 1)
    phases = np.empty((batch, rows, cols, 2, 2, channels), dtype=x.dtype)
    phases[...] = padded.reshape(batch, rows, 2, cols, 2, channels).transpose(0, 1, 3, 2, 4, 5)
    return phases.reshape(batch, rows, cols, 4 * channels).transpose(0, 3, 1, 2)


def _regrouped_weight(weight: np.ndarray) -> np.ndarray:
    """w (C_out, C_in, k_h, k_w) → w' (C_out, 4·C_in, ⌈k_h/2⌉, ⌈k_w/2⌉), zeros where no tap."""
    out_channels, channels, kh, kw = weight.shape
    regrouped = np.zeros((out_channels, 2, 2, channels, -(-kh // 2), -(-kw // 2)),
                         dtype=weight.dtype)
    for a in range(2):
        for b in range(2):
            taps = weight[:, :, a::2, b::2]   # w[o, c, 2δi + a, 2δj + b]
            regrouped[:, a, b, :, :taps.shape[2], :taps.shape[3]] = taps
    return regrouped.reshape(out_channels, 4 * channels, -(-kh // 2), -(-kw // 2))


def conv_forward(x: np.ndarray, weight: np.ndarray, bias, stride, padding: tuple, dilation=(1, 1),
                 groups=1, keep_cols=True):
    """A stride-2, one-group 2-D convolution by its phases (module docstring)."""
    (top, bottom), (left, right) = padding
    kh, kw = weight.shape[2:]
    padded = (x.shape[2] + top + bottom, x.shape[3] + left + right)
    out_size = ((padded[0] - kh) // 2 + 1, (padded[1] - kw) // 2 + 1)
    phase_size = (-(-padded[0] // 2), -(-padded[1] // 2))
    phases = _phase_image(x, padding, phase_size)
    y, grid_cache = conv_grid.conv_forward(phases, _regrouped_weight(weight), bias, (1, 1),
                                           ((0, 0), (0, 0)), (1, 1))
    y = y[:, :, :out_size[0], :out_size[1]]
    return y, PhaseCache(grid_cache, x.shape, padding, weight.shape, out_size)


def conv_backward(dout: np.ndarray, cache: PhaseCache, need_input: bool = True,
                  need_weight: bool = True, need_bias: bool = True):
    """``(∂L/∂x, ∂L/∂w, ∂L/∂b)``: the phase convolution's gradients, regrouped back."""
    grid_cache, (batch, channels, height, width), padding, weight_shape, out_size = cache
    grid = grid_cache.grid
    full = (grid.out_height, grid.out_width)
    if out_size != full:   # outputs the phases produced beyond the strided ones: zero gradient
        padded_out = np.zeros(dout.shape[:2] + full, dtype=dout.dtype)
        padded_out[:, :, :out_size[0], :out_size[1]] = dout
        dout = padded_out
    dphases, dregrouped, db = conv_grid.conv_backward(dout, grid_cache, need_input,
                                                      need_weight, need_bias)
    dx = dw = None
    if need_input:
        (top, _), (left, _) = padding
        rows, cols = grid.height, grid.width
        split = dphases.transpose(0, 2, 3, 1).reshape(batch, rows, cols, 2, 2, channels)
        dpadded = split.transpose(0, 1, 3, 2, 4, 5).reshape(batch, 2 * rows, 2 * cols, channels)
        dx = np.empty((batch, height, width, channels), dtype=dout.dtype)
        dx[...] = dpadded[:, top:top + height, left:left + width]
        dx = dx.transpose(0, 3, 1, 2)
    if need_weight:
        out_channels, _, kh, kw = weight_shape
        grouped = dregrouped.reshape(out_channels, 2, 2, channels, *dregrouped.shape[2:])
        dw = np.empty(weight_shape, dtype=dout.dtype)
        for a in range(2):
            for b in range(2):
                taps = dw[:, :, a::2, b::2]
                taps[...] = grouped[:, a, b, :, :taps.shape[2], :taps.shape[3]]
    return dx, dw, db
