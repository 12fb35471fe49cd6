"""The transposed convolution: the adjoint of the convolution, from the reference's parts.

As a linear map of its input, the transposed convolution is the adjoint (transpose) of the
convolution in ``kernels/conv.py``:

    y[n, c, i] = b[c] + Σ_o Σ_{t, τ : t·s + τ·d = i + p} x[n, o, t] · w[o, c, τ]

each input cell t spreads ``x[t]·w[τ]`` onto output cell ``t·s − p + τ·d``.  So its forward
pass is the convolution's input gradient (``scatter_windows`` of x), its input gradient is a
convolution of the upstream gradient (im2col, then W·cols), and its weight gradient is the
convolution's weight-gradient formula with the roles of x and g exchanged.  Nothing here is
a second algorithm: three matrix products, im2col and its adjoint.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .channels import channel_sum
from .conv import (Windows, batch_major, channel_major, grad_times_cols_t, im2col,
                   scatter_windows, weight_times_cols)


def conv_transpose_windows(in_size, kernel, stride, padding, output_padding,
                           dilation) -> Windows:
    """The windows of the convolution that a transposed convolution is the adjoint of.

    The transposed convolution's output, ``(L−1)s − 2p + d(k−1) + output_padding + 1`` long,
    is that convolution's input, read with p zeros before and p − output_padding after (its
    windows end there); its input, L long, is that convolution's output.  When
    output_padding > p the last output cells lie beyond every window: no padding after, and
    those cells receive nothing.
    """
    out_size = tuple((length - 1) * s - 2 * p + d * (k - 1) + extra + 1
                     for length, k, s, p, d, extra
                     in zip(in_size, kernel, stride, padding, dilation, output_padding))
    pads = tuple((p, max(p - extra, 0)) for p, extra in zip(padding, output_padding))
    return Windows(tuple(kernel), tuple(stride), tuple(dilation), pads, out_size,
                   tuple(in_size))


class ConvTransposeCache(NamedTuple):
    x: np.ndarray
    weight: np.ndarray
    windows: Windows           # the windows of the convolution this one is the adjoint of
    groups: int


def conv_transpose_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                           stride: tuple, padding: tuple, output_padding: tuple,
                           dilation: tuple, groups: int):
    """The adjoint of the convolution (``conv.conv_forward``) in x, plus a bias:

        y[n, c, i] = b[c] + Σ_o Σ_{t, τ : t·s + τ·d = i + p} x[n, o, t] · w[o, c, τ]

    each input cell t spreads ``x[t]·w[τ]`` onto output cell ``t·s − p + τ·d``.  ``x`` is
    (N, C_in, *L), ``weight`` (C_in, C_out/groups, *k), ``padding`` one int per axis.  The
    output length ``(L−1)s − 2p + d(k−1) + output_padding + 1`` is the length of the
    convolution input that has L windows; output_padding picks it among the lengths that
    stride would otherwise make ambiguous.  Returns ``(y, cache)``.

    Computed as the convolution's input gradient, :func:`scatter_windows` (col2im(Wᵀ·x)).
    """
    win = conv_transpose_windows(x.shape[2:], weight.shape[2:], stride, padding,
                                 output_padding, dilation)
    y = scatter_windows(weight, channel_major(x), x.shape[0], win, groups)
    if bias is not None:
        y += bias.reshape((-1,) + (1,) * len(win.in_size))
    return y, ConvTransposeCache(x, weight, win, groups)


def conv_transpose_backward(dout: np.ndarray, cache: ConvTransposeCache,
                            need_input: bool = True, need_weight: bool = True,
                            need_bias: bool = True):
    """``(∂L/∂x, ∂L/∂w, ∂L/∂b)``, each None unless asked for.

    With cols = im2col(g) (the windows of the upstream gradient):
    ∂L/∂x = W·cols, the convolution of g (the convolution's forward pass, no bias);
    ∂L/∂w = x·colsᵀ, the convolution's weight gradient with x as the upstream gradient:
    ∂L/∂w[o, c, τ] = Σ_n Σ_t x[n, o, t] · g_pad[n, c, t·s + τ·d];
    ∂L/∂b = Σ_{n,i} g.
    """
    x, weight, win, groups = cache
    dx = dw = db = None
    if need_input or need_weight:
        cols = im2col(dout, win)
        if need_input:
            dx = batch_major(weight_times_cols(weight, cols, groups), x.shape[0], x.shape[2:])
        if need_weight:
            dw = grad_times_cols_t(channel_major(x), cols, groups, weight.shape)
    if need_bias:
        db = channel_sum(dout).astype(dout.dtype)   # the bias is reused at every position
    return dx, dw, db
