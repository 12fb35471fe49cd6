"""Convolution and transposed convolution: pure NumPy forward/backward pairs built on GEMMs.

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

How it is computed (im2col).  The windows of x_pad form a matrix

    cols[n, (c, τ), t] = x_pad[n, c, t·s + τ·d]

built as a strided *view* of x_pad (no copy, ``as_strided``) and copied once into a contiguous
array.  Then, with W the weight as a (C_out, C_in/G · ∏k) matrix, per group:

    y[n] = W · cols[n]           ∂L/∂W = Σ_n g[n] · cols[n]ᵀ        ∂L/∂cols[n] = Wᵀ · g[n]

one batched matrix multiply each, and ``col2im`` adds every entry of ∂L/∂cols back into the
input cell it was read from (a loop over the kernel taps τ only): col2im is the adjoint
(transpose) of im2col.

The transposed convolution is the adjoint of the convolution, as a linear map of its input.
So its forward pass is the convolution's input gradient (Wᵀ·x, then col2im), its input
gradient is a convolution of the upstream gradient (im2col, then W·cols), and its weight
gradient is the convolution's weight-gradient formula with the roles of x and g exchanged.
Nothing below is a second algorithm: four matrix products and the im2col/col2im pair.

Arrays are batched (N, C, *spatial) with 1 or 2 spatial axes; every result keeps the input's
dtype (float32 stays float32).  The Tensor-level checks live in ``functional/conv.py``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided


class Windows(NamedTuple):
    """Where a convolution's windows lie, one entry per spatial axis.

    The same description serves the transposed convolution, seen from the other side: its
    input is the convolution's output (``out_size`` windows) and its output the convolution's
    input (``in_size``).
    """

    kernel: tuple      # k
    stride: tuple      # s
    dilation: tuple    # d
    padding: tuple     # ((zeros before, zeros after), ...) around the input
    in_size: tuple     # L, the unpadded input length
    out_size: tuple    # windows per axis: the output length


def _padded_size(win: Windows) -> tuple:
    return tuple(length + before + after for length, (before, after) in zip(win.in_size, win.padding))


def _pad(x: np.ndarray, win: Windows) -> np.ndarray:
    """x with ``win.padding`` zeros around each spatial axis (x itself when there are none)."""
    if not any(before or after for before, after in win.padding):
        return x
    padded = np.zeros(x.shape[:2] + _padded_size(win), dtype=x.dtype)
    padded[_interior(win)] = x
    return padded


def _interior(win: Windows) -> tuple:
    """The index of the unpadded input inside the padded one."""
    return (slice(None), slice(None)) + tuple(
        slice(before, before + length) for length, (before, _) in zip(win.in_size, win.padding))


def _window_view(padded: np.ndarray, win: Windows, writeable: bool = False) -> np.ndarray:
    """The (N, C, *k, *out) view ``view[n, c, τ, t] = padded[n, c, t·s + τ·d]``; no copy."""
    for size, k, s, d, out in zip(padded.shape[2:], win.kernel, win.stride, win.dilation,
                                  win.out_size):
        # The last window must end inside the array: as_strided does not check bounds.
        assert (out - 1) * s + (k - 1) * d < size, "windows run past the padded input"
    axis_strides = padded.strides[2:]
    shape = padded.shape[:2] + tuple(win.kernel) + tuple(win.out_size)
    strides = (padded.strides[:2]
               + tuple(d * st for d, st in zip(win.dilation, axis_strides))
               + tuple(s * st for s, st in zip(win.stride, axis_strides)))
    return as_strided(padded, shape, strides, writeable=writeable)


def im2col(x: np.ndarray, win: Windows) -> np.ndarray:
    """``cols[n, (c, τ), t] = x_pad[n, c, t·s + τ·d]`` as a contiguous (N, C·∏k, ∏out) array.

    A 1×1 kernel with stride 1 and no padding is x itself, reshaped (no copy).
    """
    n, c = x.shape[:2]
    view = _window_view(_pad(x, win), win)
    return np.ascontiguousarray(view).reshape(n, c * math.prod(win.kernel), math.prod(win.out_size))


def col2im(cols: np.ndarray, channels: int, win: Windows) -> np.ndarray:
    """The adjoint of :func:`im2col`: ``x[n, c, t·s + τ·d] += cols[n, (c, τ), t]``, unpadded.

    Windows overlap, so two taps may write the same cell; for one tap τ they never do, which
    is why the loop runs over the taps and each step is one vectorised ``+=``.
    """
    n = cols.shape[0]
    padded = np.zeros((n, channels) + _padded_size(win), dtype=cols.dtype)
    view = _window_view(padded, win, writeable=True)
    cols = cols.reshape(view.shape)
    everything = (slice(None), slice(None))
    for tap in np.ndindex(*win.kernel):
        view[everything + tap] += cols[everything + tap]
    if padded.shape[2:] == tuple(win.in_size):
        return padded
    return np.ascontiguousarray(padded[_interior(win)])


# ------------------------------------------------------------------ the three products
# A weight (C_out, C_in/G, *k) is used as G matrices (C_out/G, C_in/G·∏k); cols (N, C_in·∏k, P)
# as N·G matrices (C_in/G·∏k, P): channel c of group g occupies rows g·(C_in/G)·∏k onwards.

def _grouped_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    return weight.reshape(groups, weight.shape[0] // groups, -1)


def _weight_times_cols(weight: np.ndarray, cols: np.ndarray, groups: int) -> np.ndarray:
    """y[n, g] = W[g] · cols[n, g], shape (N, C_out, P)."""
    n, rows, positions = cols.shape
    y = np.matmul(_grouped_weight(weight, groups), cols.reshape(n, groups, rows // groups, positions))
    return y.reshape(n, weight.shape[0], positions)


def _weight_t_times_grad(weight: np.ndarray, grad: np.ndarray, groups: int) -> np.ndarray:
    """∂L/∂cols[n, g] = W[g]ᵀ · grad[n, g], shape (N, C_in·∏k, P)."""
    n, _, positions = grad.shape
    w = _grouped_weight(weight, groups)
    dcols = np.matmul(w.transpose(0, 2, 1), grad.reshape(n, groups, w.shape[1], positions))
    return dcols.reshape(n, -1, positions)


def _grad_times_cols_t(grad: np.ndarray, cols: np.ndarray, groups: int,
                       weight_shape: tuple) -> np.ndarray:
    """∂L/∂W[g] = Σ_n grad[n, g] · cols[n, g]ᵀ, shaped like the weight.

    One GEMM per example (BLAS reads cols transposed in place), then a sum over the batch:
    the temporary is only N weights large.
    """
    n, channels, positions = grad.shape
    rows = cols.shape[1]
    per_example = np.matmul(grad.reshape(n, groups, channels // groups, positions),
                            cols.reshape(n, groups, rows // groups, positions).transpose(0, 1, 3, 2))
    return per_example.sum(axis=0).reshape(weight_shape)


def _channel_sum(grad: np.ndarray) -> np.ndarray:
    """Σ_n Σ_t grad[n, o, t] for each o: the bias is reused at every position of every example."""
    return np.einsum("nop->o", grad)


def _flat(a: np.ndarray) -> np.ndarray:
    """(N, C, *spatial) as (N, C, P): a view when the array is contiguous."""
    return a.reshape(a.shape[0], a.shape[1], -1)


# ------------------------------------------------------------------ convolution
class ConvCache(NamedTuple):
    x: np.ndarray
    weight: np.ndarray
    cols: np.ndarray | None    # im2col(x), kept for ∂L/∂w when the forward pass was asked to
    windows: Windows
    groups: int


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: tuple,
                 padding: tuple, dilation: tuple, groups: int, keep_cols: bool = True):
    """``y[n, o, t] = b[o] + Σ_c Σ_τ x_pad[n, c, t·s + τ·d] · w[o, c, τ]`` (module docstring).

    ``x`` is (N, C_in, *L), ``weight`` (C_out, C_in/groups, *k), ``padding`` a
    ``(before, after)`` pair per axis (checked by the caller).  ``keep_cols`` keeps the window
    matrix for the weight gradient (∏k times the input's memory); without it the backward
    pass rebuilds it if it needs it.  Returns ``(y, cache)``.
    """
    kernel = weight.shape[2:]
    out_size = tuple((length + before + after - d * (k - 1) - 1) // s + 1
                     for length, (before, after), k, s, d
                     in zip(x.shape[2:], padding, kernel, stride, dilation))
    win = Windows(tuple(kernel), tuple(stride), tuple(dilation), tuple(padding),
                  tuple(x.shape[2:]), out_size)
    cols = im2col(x, win)
    y = _weight_times_cols(weight, cols, groups)
    if bias is not None:
        y += bias[:, None]
    cache = ConvCache(x, weight, cols if keep_cols else None, win, groups)
    return y.reshape(y.shape[:2] + out_size), cache


def conv_backward(dout: np.ndarray, cache: ConvCache, need_input: bool = True,
                  need_weight: bool = True, need_bias: bool = True):
    """``(∂L/∂x, ∂L/∂w, ∂L/∂b)``, each None unless asked for (module docstring's formulas).

    ∂L/∂x = col2im(Wᵀ·g): skipped for a network's first layer, whose input needs none.
    ∂L/∂w = Σ_n g[n]·cols[n]ᵀ, ∂L/∂b = Σ_{n,t} g.
    """
    x, weight, cols, win, groups = cache
    g = _flat(np.ascontiguousarray(dout))
    dx = dw = db = None
    if need_input:
        dx = col2im(_weight_t_times_grad(weight, g, groups), x.shape[1], win)
    if need_weight:
        if cols is None:
            cols = im2col(x, win)
        dw = _grad_times_cols_t(g, cols, groups, weight.shape)
    if need_bias:
        db = _channel_sum(g)
    return dx, dw, db


# ------------------------------------------------------------------ transposed convolution
class ConvTransposeCache(NamedTuple):
    x: np.ndarray
    weight: np.ndarray
    windows: Windows           # the windows of the convolution this one is the adjoint of
    groups: int


def conv_transpose_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                           stride: tuple, padding: tuple, output_padding: tuple,
                           dilation: tuple, groups: int):
    """The adjoint of :func:`conv_forward` in x, plus a bias:

        y[n, c, i] = b[c] + Σ_o Σ_{t, τ : t·s + τ·d = i + p} x[n, o, t] · w[o, c, τ]

    each input cell t spreads ``x[t]·w[τ]`` onto output cell ``t·s − p + τ·d``.  ``x`` is
    (N, C_in, *L), ``weight`` (C_in, C_out/groups, *k), ``padding`` one int per axis.  The
    output length ``(L−1)s − 2p + d(k−1) + output_padding + 1`` is the length of the
    convolution input that has L windows; output_padding picks it among the lengths that
    stride would otherwise make ambiguous.  Returns ``(y, cache)``.

    Computed as the convolution's input gradient: ``col2im(Wᵀ·x)``.
    """
    kernel = weight.shape[2:]
    out_size = tuple((length - 1) * s - 2 * p + d * (k - 1) + extra + 1
                     for length, k, s, p, d, extra
                     in zip(x.shape[2:], kernel, stride, padding, dilation, output_padding))
    # Seen as a convolution of y: p zeros before; after, the scatter reaches p − output_padding
    # cells past the output (never fewer than zero: extra cells past it just stay zero).
    pads = tuple((p, max(p - extra, 0)) for p, extra in zip(padding, output_padding))
    win = Windows(tuple(kernel), tuple(stride), tuple(dilation), pads, out_size,
                  tuple(x.shape[2:]))
    out_channels = weight.shape[1] * groups
    y = col2im(_weight_t_times_grad(weight, _flat(x), groups), out_channels, win)
    if bias is not None:
        y += bias.reshape((-1,) + (1,) * len(out_size))
    return y, ConvTransposeCache(x, weight, win, groups)


def conv_transpose_backward(dout: np.ndarray, cache: ConvTransposeCache,
                            need_input: bool = True, need_weight: bool = True,
                            need_bias: bool = True):
    """``(∂L/∂x, ∂L/∂w, ∂L/∂b)``, each None unless asked for.

    With cols = im2col(g) (the windows of the upstream gradient):
    ∂L/∂x = W·cols, the convolution of g (the convolution's forward pass, no bias);
    ∂L/∂w = Σ_n x[n]·cols[n]ᵀ, the convolution's weight gradient with x as the upstream
    gradient: ∂L/∂w[o, c, τ] = Σ_n Σ_t x[n, o, t] · g_pad[n, c, t·s + τ·d];
    ∂L/∂b = Σ_{n,i} g.
    """
    x, weight, win, groups = cache
    g = np.ascontiguousarray(dout)
    dx = dw = db = None
    if need_input or need_weight:
        cols = im2col(g, win)
        if need_input:
            dx = _weight_times_cols(weight, cols, groups).reshape(x.shape)
        if need_weight:
            dw = _grad_times_cols_t(_flat(x), cols, groups, weight.shape)
    if need_bias:
        db = _channel_sum(_flat(g))
    return dx, dw, db
