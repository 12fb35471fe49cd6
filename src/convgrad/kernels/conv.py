"""The reference convolution: the notes' formula, its windows, a loop version and im2col.

The notes' convolution is a cross-correlation.  In 1-D and 2-D:

    (x ⋆ w)[t]    = Σ_τ x[t+τ] w[τ]
    (x ⋆ w)[s, t] = Σ_σ Σ_τ x[s+σ, t+τ] w[σ, τ]

PyTorch's convolution adds channels, a batch, zero padding p, stride s, dilation d and groups
G.  Writing t and τ for index tuples (one entry per spatial axis) and x_pad for x with zeros
around it, output channel o (in group g) reads only the C_in/G input channels c of its group:

    y[n, o, t] = b[o] + Σ_c Σ_τ x_pad[n, c, t·s + τ·d] · w[o, c, τ]

With g = ∂L/∂y, the gradients are
    ∂L/∂w[o, c, τ]  = Σ_n Σ_t g[n, o, t] · x_pad[n, c, t·s + τ·d]
                      (the notes' ∂L/∂w[τ] = Σ_t ∂L/∂y[t] · x[t+τ]: every reuse of w[τ], at
                      each position t of each example n, adds into its gradient)
    ∂L/∂x_pad[n, c, i] = Σ_o Σ_{t, τ : t·s + τ·d = i} g[n, o, t] · w[o, c, τ]
                      (each input cell collects from every window that read it; the notes'
                      1-D case: ∂L/∂x[i] = Σ_τ ∂L/∂y[i−τ] · w[τ]), then the padding is cut off
    ∂L/∂b[o]        = Σ_n Σ_t g[n, o, t]

This file computes that sum three ways, from the most literal to the one that runs:

1. **The windows** (:func:`window_view`): x_pad seen, without copying, as an array indexed
   by window and tap, ``view[n, c, τ, t] = x_pad[n, c, t·s + τ·d]``.  Pooling takes its
   windows from the same view (``kernels/pool.py``), and ``explain`` lists the cells each
   window reads from it (:func:`window_positions`).
2. **Loops** (:func:`conv_loops`, :func:`conv_loops_backward`): one output channel and one
   output position at a time, the formulas above as written.  Slow, and the oracle the tests
   hold every route to.
3. **im2col** (:func:`conv_forward`, :func:`conv_backward`): the windows copied into one
   matrix, one row per (channel, tap) and one column per (example, output position),

       cols[(c, τ), (n, t)] = x_pad[n, c, t·s + τ·d]

   so that, with W the weight as a (C_out, C_in/G · ∏k) matrix and g as (C_out, N·∏out), per
   group of channels

       y = W · cols             ∂L/∂W = g · colsᵀ             ∂L/∂cols = Wᵀ · g

   one large matrix multiply each (the sums over examples and positions are GEMM inner
   products).  ∂L/∂x is col2im(∂L/∂cols): every entry added back into the input cell it was
   read from, computed one tap at a time (:func:`scatter_windows`) so the ∏k-times-larger
   matrix never exists.  This route computes every convolution; ``conv_routes.py`` holds the
   faster routes for common cases, each tested against this file.

The transposed convolution (``conv_transpose.py``) is built from the same three products,
im2col and its adjoint.

Arrays are batched (N, C, *spatial) with 1 or 2 spatial axes; every result keeps the input's
dtype (float32 stays float32).  The Tensor-level checks live in ``functional/conv.py``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import parallel
from .channels import add_per_channel, channel_sum


# ------------------------------------------------------------------ the windows
class Windows(NamedTuple):
    """Where a convolution's (or a pool's) windows lie, one entry per spatial axis.

    The same description serves the transposed convolution, seen from the other side: its
    input is the convolution's output (``out_size`` windows) and its output the convolution's
    input (``in_size``).
    """

    kernel: tuple      # k
    stride: tuple      # s
    dilation: tuple    # d
    padding: tuple     # ((cells before, cells after), ...) around the input
    in_size: tuple     # L, the unpadded input length
    out_size: tuple    # windows per axis: the output length


def conv_windows(in_size, kernel, stride, padding, dilation) -> Windows:
    """A convolution's windows: ``⌊(L + p₁ + p₂ − d(k−1) − 1)/s⌋ + 1`` of them per axis."""
    out_size = tuple((length + before + after - d * (k - 1) - 1) // s + 1
                     for length, (before, after), k, s, d
                     in zip(in_size, padding, kernel, stride, dilation))
    return Windows(tuple(kernel), tuple(stride), tuple(dilation),
                   tuple(tuple(pair) for pair in padding), tuple(in_size), out_size)


def padded_size(win: Windows) -> tuple:
    return tuple(length + before + after
                 for length, (before, after) in zip(win.in_size, win.padding))


def interior(win: Windows) -> tuple:
    """The index of the unpadded input inside the padded one (spatial axes last)."""
    return (Ellipsis,) + tuple(slice(before, before + length)
                               for length, (before, _) in zip(win.in_size, win.padding))


def pad(x: np.ndarray, win: Windows, fill=0) -> np.ndarray:
    """x with ``win.padding`` cells of ``fill`` around its last axes (x itself if none)."""
    if not any(before or after for before, after in win.padding):
        return x
    spatial = len(win.kernel)
    padded = np.full(x.shape[:-spatial] + padded_size(win), fill, dtype=x.dtype)
    padded[interior(win)] = x
    return padded


def window_view(padded: np.ndarray, win: Windows, writeable: bool = False) -> np.ndarray:
    """``view[..., τ, t] = padded[..., t·s + τ·d]`` over the last axes: (..., *k, *out), no copy.

    The axes before the spatial ones (batch, channels) are carried along.  Writing through a
    ``writeable`` view adds into the padded array itself: within one window no two taps share
    a cell, but neighbouring windows do, so write one window (or one tap) at a time.
    """
    spatial = len(win.kernel)
    for size, k, s, d, out in zip(padded.shape[-spatial:], win.kernel, win.stride,
                                  win.dilation, win.out_size):
        # The last window must end inside the array: as_strided does not check bounds.
        assert (out - 1) * s + (k - 1) * d < size, "windows run past the padded input"
    axis_strides = padded.strides[-spatial:]
    shape = padded.shape[:-spatial] + tuple(win.kernel) + tuple(win.out_size)
    strides = (padded.strides[:-spatial]
               + tuple(d * stride for d, stride in zip(win.dilation, axis_strides))
               + tuple(s * stride for s, stride in zip(win.stride, axis_strides)))
    return as_strided(padded, shape, strides, writeable=writeable)


def window_positions(win: Windows) -> np.ndarray:
    """``positions[a, τ, t] = t_a·s_a + τ_a·d_a − p_a``: along axis a, the input position that
    tap τ of window t reads (below 0 or from L on: a padding cell).

    It is the window view of the padded input's own coordinates, so it lists exactly the
    cells the kernels read; shape (axes, *k, *out).
    """
    coordinates = np.meshgrid(*(np.arange(-before, length + after) for length, (before, after)
                                in zip(win.in_size, win.padding)), indexing="ij")
    return window_view(np.stack(coordinates), win)


# ------------------------------------------------------------------ the formula, as loops
def _group_channels(out_channel: int, weight_shape: tuple, groups: int) -> slice:
    """The input channels that output channel o reads: those of its group."""
    width = weight_shape[1]                               # C_in/G
    group = out_channel // (weight_shape[0] // groups)
    return slice(group * width, (group + 1) * width)


def conv_loops(x: np.ndarray, weight: np.ndarray, bias, win: Windows,
               groups: int) -> np.ndarray:
    """``y[n, o, t] = b[o] + Σ_c Σ_τ x_pad[n, c, t·s + τ·d] · w[o, c, τ]``, one (o, t) at a time.

    The batch is the only axis computed at once.  The oracle every route is tested against.
    """
    windows = window_view(pad(x, win), win)               # [n, c, τ, t]
    y = np.zeros((x.shape[0], weight.shape[0]) + win.out_size, dtype=np.result_type(x, weight))
    channels_and_taps = tuple(range(1, weight.ndim))
    for o in range(weight.shape[0]):
        channels = _group_channels(o, weight.shape, groups)
        for t in np.ndindex(*win.out_size):
            window = windows[(slice(None), channels, Ellipsis) + t]        # (N, C/G, *k)
            y[(slice(None), o) + t] = np.sum(window * weight[o], axis=channels_and_taps)
    if bias is not None:
        y += bias.reshape((-1,) + (1,) * len(win.out_size))
    return y


def conv_loops_backward(g: np.ndarray, x: np.ndarray, weight: np.ndarray, win: Windows,
                        groups: int) -> tuple:
    """``(∂L/∂x, ∂L/∂w, ∂L/∂b)`` for upstream g, one (o, t) at a time:

        ∂L/∂w[o, c, τ]               += Σ_n g[n, o, t] · x_pad[n, c, t·s + τ·d]
        ∂L/∂x_pad[n, c, t·s + τ·d]   += g[n, o, t] · w[o, c, τ]
        ∂L/∂b[o]                      = Σ_n Σ_t g[n, o, t]
    """
    padded = pad(x, win)
    windows = window_view(padded, win)
    d_padded = np.zeros(padded.shape, dtype=g.dtype)
    d_windows = window_view(d_padded, win, writeable=True)
    dw = np.zeros(weight.shape, dtype=g.dtype)
    for o in range(weight.shape[0]):
        channels = _group_channels(o, weight.shape, groups)
        for t in np.ndindex(*win.out_size):
            window = (slice(None), channels, Ellipsis) + t
            g_nt = g[(slice(None), o) + t].reshape((-1,) + (1,) * (weight.ndim - 1))
            dw[o] += np.sum(g_nt * windows[window], axis=0)
            d_windows[window] += g_nt * weight[o]
    db = g.sum(axis=(0,) + tuple(range(2, g.ndim)))
    return d_padded[interior(win)], dw, db


# ------------------------------------------------------------------ im2col and its adjoint
def _channels_outermost(view: np.ndarray, spatial: int) -> np.ndarray:
    """(N, C, *k, *out) → (C, *k, N, *out): the window matrix's rows (c, τ), columns (n, t)."""
    order = (1,) + tuple(range(2, 2 + spatial)) + (0,) + tuple(range(2 + spatial, 2 + 2 * spatial))
    return view.transpose(order)


def im2col(x: np.ndarray, win: Windows) -> np.ndarray:
    """The window matrix ``cols[(c, τ), (n, t)] = x_pad[n, c, t·s + τ·d]``, (C·∏k, N·∏out).

    One contiguous copy of the window view.  Rows (c, τ) and columns (n, t) make every
    product below a single large matrix multiply per group, rather than one per example.
    """
    n, c = x.shape[:2]
    view = _channels_outermost(window_view(pad(x, win), win), len(win.kernel))
    rows, columns = c * math.prod(win.kernel), n * math.prod(win.out_size)
    return np.ascontiguousarray(view).reshape(rows, columns)


def scatter_windows(weight: np.ndarray, grad: np.ndarray, batch: int, win: Windows,
                    groups: int) -> np.ndarray:
    """The adjoint of ``W·im2col(·)``: ``x[n, c, t·s + τ·d] += Σ_o w[o, c, τ]·grad[o, (n, t)]``.

    ``grad`` is (C_out, N·∏out) and the weight (C_out, C_in/G, *k); returns (N, C_in, *in_size)
    with the padding cut off.  This is col2im(Wᵀ·grad) computed one kernel tap at a time: for
    each τ, ``W_τᵀ · grad`` (C_in, N·∏out, one GEMM per group) is added into the cells that
    tap's windows read.  For one τ no two windows share a cell, so each step is one vectorised
    ``+=``; different taps overlap, hence the loop over taps (never over positions).  The
    (C_in·∏k, N·∏out) matrix Wᵀ·grad never exists: one input-sized buffer is reused.
    """
    channels = weight.shape[1] * groups
    padded = np.zeros((batch, channels) + padded_size(win), dtype=grad.dtype)
    view = _channels_outermost(window_view(padded, win, writeable=True), len(win.kernel))
    # W_τᵀ for every tap τ as contiguous (G, C_in/G, C_out/G) blocks, so BLAS reads them as is.
    taps = np.ascontiguousarray(
        weight.reshape(groups, weight.shape[0] // groups, weight.shape[1], math.prod(win.kernel))
        .transpose(3, 0, 2, 1))
    grad = _grouped_rows(grad, groups)
    product = np.empty((groups, weight.shape[1], grad.shape[2]), dtype=grad.dtype)
    for index, tap in enumerate(np.ndindex(*win.kernel)):
        cells = view[(slice(None),) + tap]
        for group in range(groups):
            parallel.matmul(taps[index, group], grad[group], out=product[group])
        cells += product.reshape(cells.shape)
    if padded.shape[2:] == tuple(win.in_size):
        return padded
    return np.ascontiguousarray(padded[interior(win)])


def _as_ncp(a: np.ndarray) -> np.ndarray:
    """(N, C, *spatial) as (N, C, P), P = ∏spatial (a view when a is contiguous)."""
    return a.reshape(a.shape[:2] + (math.prod(a.shape[2:]),))


def channel_major(a: np.ndarray) -> np.ndarray:
    """(N, C, *spatial) → (C, N·P), contiguous: the layout of the products below."""
    n, c, positions = _as_ncp(a).shape
    return np.ascontiguousarray(_as_ncp(a).transpose(1, 0, 2)).reshape(c, n * positions)


def batch_major(m: np.ndarray, batch: int, spatial_size: tuple, bias=None) -> np.ndarray:
    """(C, N·P) → (N, C, *spatial), contiguous, adding ``bias[c]`` on the way (one pass)."""
    channels = m.shape[0]
    out = np.empty((batch, channels) + tuple(spatial_size), dtype=m.dtype)
    source = m.reshape(channels, batch, math.prod(spatial_size)).transpose(1, 0, 2)
    if bias is None:
        _as_ncp(out)[...] = source
    else:
        np.add(source, bias[:, None], out=_as_ncp(out))
    return out


def _positions_times_weight(cols: np.ndarray, weight: np.ndarray, batch: int,
                            out_size: tuple, bias=None) -> np.ndarray:
    """y = colsᵀ · Wᵀ (+ b): one row per (example, position), one column per output channel.

    That is (N, *out, C_out) memory — channels-last, the layout the grid convolutions return
    too — with no transposing copy: BLAS reads cols and W transposed in place.
    """
    rows = parallel.matmul(cols, weight.reshape(weight.shape[0], -1), transpose_a=True,
                           transpose_b=True)
    y = rows.reshape((batch,) + tuple(out_size) + (weight.shape[0],))
    y = y.transpose((0, y.ndim - 1) + tuple(range(1, y.ndim - 1)))
    if bias is not None:
        add_per_channel(y, bias)
    return y


# A weight (C_out, C_in/G, *k) is used as G matrices (C_out/G, C_in/G·∏k); the window matrix
# (C_in·∏k, N·P) as G blocks of rows (C_in/G·∏k, N·P): channel c of group g sits in rows from
# g·(C_in/G)·∏k on.  With G = 1 each product is one GEMM.

def _grouped_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    return weight.reshape(groups, weight.shape[0] // groups, math.prod(weight.shape[1:]))


def _grouped_rows(m: np.ndarray, groups: int) -> np.ndarray:
    return m.reshape(groups, m.shape[0] // groups, m.shape[1])


def weight_times_cols(weight: np.ndarray, cols: np.ndarray, groups: int) -> np.ndarray:
    """W[g] · cols[g]: (C_out, N·P)."""
    w, c = _grouped_weight(weight, groups), _grouped_rows(cols, groups)
    y = np.empty((weight.shape[0], cols.shape[1]), dtype=np.result_type(weight, cols))
    rows = weight.shape[0] // groups
    for g in range(groups):
        parallel.matmul(w[g], c[g], out=y[g * rows:(g + 1) * rows])
    return y


def grad_times_cols_t(grad: np.ndarray, cols: np.ndarray, groups: int,
                       weight_shape: tuple) -> np.ndarray:
    """∂L/∂W[g] = grad[g] · cols[g]ᵀ, summing over all N·P columns, shaped like the weight.

    BLAS reads cols transposed in place; the sum over examples and positions is the GEMM's
    inner dimension, so no per-example temporary is made.
    """
    g_rows, c_rows = _grouped_rows(grad, groups), _grouped_rows(cols, groups)
    dw = np.stack([parallel.matmul(g_rows[g], c_rows[g], transpose_b=True)
                   for g in range(groups)])
    return dw.reshape(weight_shape)


# ------------------------------------------------------------------ convolution by im2col
class Im2colCache(NamedTuple):
    x: np.ndarray
    weight: np.ndarray
    cols: np.ndarray | None    # im2col(x), kept for ∂L/∂w when the forward pass was asked to
    windows: Windows
    groups: int


def applies(x, weight, stride, padding, dilation, groups) -> bool:
    """im2col computes every convolution."""
    return True


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: tuple,
                 padding: tuple, dilation: tuple, groups: int, keep_cols: bool = True):
    """``y = W·cols + b`` (module docstring); returns ``(y, cache)``.

    ``x`` is (N, C_in, *L), ``weight`` (C_out, C_in/groups, *k), ``padding`` a
    ``(before, after)`` pair per axis (checked by the caller).  ``keep_cols`` keeps the window
    matrix for the weight gradient (∏k times the input's memory); without it the backward
    pass rebuilds it if it needs it.
    """
    win = conv_windows(x.shape[2:], weight.shape[2:], stride, padding, dilation)
    cols = im2col(x, win)
    # Images come out channels-last, like the grid routes', so ResNet's BN/ReLU read in place;
    # 1-D signals stay (N, C, L): their few, short rows gain nothing and the layers after
    # them (pooling, flatten) then have to copy.
    if groups == 1 and x.ndim == 4:
        y = _positions_times_weight(cols, weight, x.shape[0], win.out_size, bias)
    else:
        y = batch_major(weight_times_cols(weight, cols, groups), x.shape[0], win.out_size,
                         bias)
    return y, Im2colCache(x, weight, cols if keep_cols else None, win, groups)


def conv_backward(dout: np.ndarray, cache: Im2colCache, need_input: bool = True,
                  need_weight: bool = True, need_bias: bool = True):
    """``(∂L/∂x, ∂L/∂w, ∂L/∂b)``, each None unless asked for (module docstring's formulas).

    ∂L/∂x = col2im(Wᵀ·g), tap by tap (:func:`scatter_windows`): skipped for a network's
    first layer, whose input needs none.
    ∂L/∂w = g·colsᵀ, ∂L/∂b = Σ_{n,t} g.
    """
    x, weight, cols, win, groups = cache
    dx = dw = db = None
    if need_input or need_weight:
        g = channel_major(dout)
        if need_input:
            dx = scatter_windows(weight, g, x.shape[0], win, groups)
        if need_weight:
            if cols is None:
                cols = im2col(x, win)
            dw = grad_times_cols_t(g, cols, groups, weight.shape)
    if need_bias:
        db = channel_sum(dout).astype(dout.dtype)   # the bias is reused at every position
    return dx, dw, db
