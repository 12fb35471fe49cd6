"""Pooling and padding as forward/backward pairs on NumPy arrays (no Tensor).

Every pool works on the last two axes of an array ``x`` of shape (..., H, W); whatever comes
before (batch, channels, or just channels for an unbatched input) is carried along.  A 1-D
pool is the 2-D pool of an (..., 1, L) view with a kernel of height 1, exactly as PyTorch
computes it.  Arguments arrive checked and normalised to pairs by ``shapes.py``.

Notation (the notes', one axis; the 2-D pools do it along H and W): input x of length L,
kernel k, stride s, padding p, dilation d, output y of length
``⌊(L + 2p − d(k−1) − 1)/s⌋ + 1`` (rounded up with ceil_mode, see ``shapes.pool_output_size``).
Output t looks at the taps τ = 0..k−1 at input positions ``t·s + τ·d − p``.

The windows are the convolution's (``kernels/conv.py``): the same strided view
``view[..., τ, t] = x_pad[..., t·s + τ·d]`` of the padded input, no copy.  The hot loops run
over the kernel's taps, each one a view of every window at once, never over batch items or
output positions.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..shapes import pool_output_size
from .channels import channels_innermost, empty_in_layout, is_channels_last
from .conv import Windows, interior, pad, padded_size, window_view


def _window_starts(out: int, stride: int, padding: int) -> np.ndarray:
    """Input position of tap 0 of each of the ``out`` windows: ``t·s − p``."""
    return np.arange(out) * stride - padding


def pool_windows(size: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                 ceil_mode: bool) -> Windows:
    """A pool's windows over (H, W): ``shapes.pool_output_size`` of them per axis.

    p cells of padding before; after, as many as the last window reaches,
    ``(out−1)·s + d(k−1) + 1 − L − p`` — more than p with ceil_mode, fewer (none) when the
    windows stop short of the end.
    """
    out = tuple(pool_output_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))
    after = tuple(max((o - 1) * s + d * (k - 1) + 1 - n - p, 0)
                  for o, n, k, s, p, d in zip(out, size, kernel, stride, padding, dilation))
    return Windows(tuple(kernel), tuple(stride), tuple(dilation), tuple(zip(padding, after)),
                   tuple(size), out)


def _lowest(dtype: np.dtype):
    """The fill that never wins a max: −∞ for floats, the smallest integer otherwise."""
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


# ----------------------------------------------------------------------------- max pool
class MaxPoolCache(NamedTuple):
    input_shape: tuple       # (..., H, W)
    indices: np.ndarray      # (..., OH, OW): flat position h·W + w of each max in its plane
    overlapping: bool        # can one input element be the max of two windows?
    blind: np.ndarray | None  # (OH, OW) True where a window's taps all miss the input


def max_pool2d_forward(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple,
                       dilation: tuple, ceil_mode: bool, with_indices: bool = True):
    """Max pooling over (..., H, W); returns ``(y, cache)``, ``cache.indices`` the argmaxes.

    Without ``with_indices`` (inference: no gradient, no ``return_indices``) only the values
    are computed and the cache is None.

        y[t, u] = max_{τ, υ} x[t·s_h + τ·d_h − p_h, u·s_w + υ·d_w − p_w]

    The padding is −∞, so it never wins.  Ties go to the first maximum in scan order (row by
    row), and a NaN wins over any number, the last NaN in scan order giving the index — both
    as PyTorch's CPU kernel.  A window whose real elements are all −∞ reports its first real
    element.  ``indices`` are flat positions h·W + w in the unpadded plane of each channel
    (PyTorch's ``return_indices``).

    A dilated window that starts in the padding can step over a short input entirely (k=2,
    d=2, p=1 on L=1 has taps at −1 and 1).  Its output is −∞ and its index is where PyTorch
    puts it — the first tap past the padding, outside the input — but it passes no gradient
    (PyTorch 2.13's own backward writes out of bounds there).

    Gradient: each input element receives the upstream gradients of the windows whose max it
    is, summed when overlapping windows share it:
        ∂L/∂x[i] = Σ_{(t, u): argmax(t, u) = i} ∂L/∂y[t, u]
    """
    H, W = x.shape[-2:]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    win = pool_windows((H, W), kernel, stride, padding, dilation, ceil_mode)
    oh, ow = win.out_size
    taps = window_view(pad(x, win, _lowest(x.dtype)), win)      # (..., kh, kw, oh, ow)
    rows, cols = _window_starts(oh, sh, ph), _window_starts(ow, sw, pw)
    # PyTorch starts each window's index at its first real element (skipping the padding
    # by whole dilation steps), so that a window of −∞ still points inside the input.
    first_i = (np.maximum(-rows, 0) + dh - 1) // dh          # first real tap, per axis
    first_j = (np.maximum(-cols, 0) + dw - 1) // dw
    first_row, first_col = rows + first_i * dh, cols + first_j * dw
    # A window whose first tap past the left padding is already past the input sees none.
    blind = ((first_i >= kh) | (first_row >= H))[:, None] | ((first_j >= kw) | (first_col >= W))
    y = taps[..., 0, 0, :, :].copy()
    if not with_indices:
        for number in range(1, kh * kw):
            np.maximum(y, taps[..., number // kw, number % kw, :, :], out=y)
        return y, None
    # The winning tap's number τ·k_w + υ, kept in the smallest integer type.  The loop
    # below stays branch-free: a masked copy (np.copyto with where=) under an unpredictable
    # mask measured ~40× slower than the multiply and maximum that replace it.
    tap_type = np.min_scalar_type(kh * kw)
    tap = np.empty(x.shape[:-2] + (oh, ow), dtype=tap_type)
    tap[...] = (np.minimum(first_i, kh - 1)[:, None] * kw
                + np.minimum(first_j, kw - 1)[None, :]).astype(tap_type)
    track_nan = x.dtype.kind == "f" and bool(np.isnan(x).any())
    wins = np.empty(y.shape, dtype=bool)
    winner = np.empty(y.shape, dtype=tap_type)
    for number in range(1, kh * kw):
        v = taps[..., number // kw, number % kw, :, :]
        # Tap `number` takes over where it is strictly greater (ties stay with the first)
        # or NaN (the last NaN wins, as in PyTorch).  Taps only move forward, so the
        # winning tap is the largest number that ever won: a running maximum.
        np.greater(v, y, out=wins)
        if track_nan:
            wins |= np.isnan(v)
        np.multiply(wins, tap_type.type(number), out=winner)
        np.maximum(tap, winner, out=tap)
        np.maximum(y, v, out=y)                  # propagates NaN, as max pooling must
    # Tap number → flat position h·W + w of the input: the window's start plus the tap's
    # offset (τ·d_h rows and υ·d_w columns further), looked up in a table of k_h·k_w.
    offsets = (np.arange(kh)[:, None] * dh * W + np.arange(kw)[None, :] * dw).ravel()
    indices = offsets[tap]
    indices += rows[:, None] * W + cols[None, :]
    if blind.any():
        np.copyto(indices, first_row[:, None] * W + first_col[None, :], where=blind)
    # Windows overlap when a stride is shorter than the dilated kernel's span.
    overlapping = sh < dh * (kh - 1) + 1 or sw < dw * (kw - 1) + 1
    return y, MaxPoolCache(x.shape, indices, overlapping, blind if blind.any() else None)


def max_pool2d_backward(dy: np.ndarray, cache: MaxPoolCache) -> np.ndarray:
    """∂L/∂x[i] = Σ of ∂L/∂y over the windows whose argmax is i (see the forward)."""
    shape, indices, overlapping, blind = cache
    plane = shape[-2] * shape[-1]
    if blind is not None:
        # Windows that saw only padding send nothing (their index is outside the plane).
        indices, dy, overlapping = np.where(blind, 0, indices), np.where(blind, 0, dy), True
    planes = int(np.prod(shape[:-2], dtype=np.int64))
    # Flat positions in the whole input: each plane's indices offset by its start.
    windows = indices.shape[-2] * indices.shape[-1]
    flat = (indices.reshape(planes, windows) + (np.arange(planes) * plane)[:, None]).ravel()
    dx = np.zeros(planes * plane, dtype=dy.dtype)
    if overlapping:
        # Several windows may share a max: np.add.at adds every one (NumPy ≥ 1.25 runs
        # it as a tight loop, faster than bincount with its float64 detour).
        np.add.at(dx, flat, dy.ravel())
    else:
        # Disjoint windows: every input element is the max of at most one window.
        dx[flat] = dy.ravel()
    return dx.reshape(shape)


# ----------------------------------------------------------------------------- average pool
class AvgPoolCache(NamedTuple):
    windows: Windows
    divisor: np.ndarray | float  # (OH, OW) window sizes, or divisor_override


def _window_sizes(length: int, out: int, kernel: int, stride: int, padding: int,
                  count_include_pad: bool) -> np.ndarray:
    """How many positions each window counts along one axis (PyTorch's rule).

    With ``count_include_pad`` a window is clipped to [−p, L + p): the padding counts, but
    not the part of a ceil_mode window that hangs past it.  Without it, only real elements
    [0, L) count.
    """
    start = _window_starts(out, stride, padding)
    end = np.minimum(start + kernel, length + padding)
    if count_include_pad:
        return end - start
    return np.minimum(end, length) - np.maximum(start, 0)


def avg_pool2d_forward(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple,
                       ceil_mode: bool, count_include_pad: bool, divisor_override=None):
    """Average pooling over (..., H, W); returns ``(y, cache)``.

        y[t, u] = (1/D[t, u]) Σ_{τ, υ} x[t·s_h + τ − p_h, u·s_w + υ − p_w]

    with zero padding.  D is the window's size clipped to [−p, L + p) per axis when
    ``count_include_pad`` (the padding counts as zeros), the number of real elements
    otherwise, and ``divisor_override`` when given.  Integer inputs divide as PyTorch's C++
    does, truncating toward zero.

    The window sum is separable: first over the k_h rows of each window, then over its k_w
    columns (k_h + k_w passes, the first along contiguous rows, instead of k_h·k_w strided
    ones).

    Gradient: every element of a window receives that window's upstream gradient over D,
    summed over the windows that contain it:
        ∂L/∂x[i, j] = Σ_{(t, u) ∋ (i, j)} ∂L/∂y[t, u] / D[t, u]
    """
    H, W = x.shape[-2:]
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    win = pool_windows((H, W), kernel, stride, padding, (1, 1), ceil_mode)
    oh, ow = win.out_size
    padded = pad(x, win)
    rows, columns = _separable(win)
    y = _sum_of_taps(window_view(_sum_of_taps(window_view(padded, rows)), columns))
    if divisor_override is not None:
        divisor = divisor_override
    else:
        divisor = np.outer(_window_sizes(H, oh, kh, sh, ph, count_include_pad),
                           _window_sizes(W, ow, kw, sw, pw, count_include_pad))
    if x.dtype.kind == "f":
        y /= np.asarray(divisor, dtype=x.dtype)
    else:
        y = _truncating_divide(y, divisor)
    return y, AvgPoolCache(win, divisor)


def _truncating_divide(total: np.ndarray, divisor) -> np.ndarray:
    """Integer division rounding toward zero (C++'s ``/``), not toward −∞ (NumPy's ``//``)."""
    divisor = np.asarray(divisor, dtype=total.dtype)
    quotient = np.abs(total) // np.abs(divisor)
    negative = (total < 0) != (divisor < 0)
    return np.where(negative, -quotient, quotient).astype(total.dtype)


def avg_pool2d_backward(dy: np.ndarray, cache: AvgPoolCache) -> np.ndarray:
    """∂L/∂x[i, j] = Σ over the windows containing (i, j) of ∂L/∂y / D (see the forward)."""
    win, divisor = cache
    share = dy / np.asarray(divisor, dtype=dy.dtype)
    # The forward's two passes, transposed: spread each window's share over its columns,
    # then over its rows.
    rows, columns = _separable(win)
    row_grads = np.zeros(dy.shape[:-2] + columns.in_size, dtype=dy.dtype)
    _spread(share, window_view(row_grads, columns, writeable=True))
    d_padded = np.zeros(dy.shape[:-2] + rows.in_size, dtype=dy.dtype)
    _spread(row_grads, window_view(d_padded, rows, writeable=True))
    return np.ascontiguousarray(d_padded[interior(win)])


def _separable(win: Windows) -> tuple:
    """A pool's windows as two passes over the padded plane: the k_h rows of each window
    (every column kept), then the k_w columns of those row sums."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = win.kernel, win.stride, win.dilation, win.out_size
    height, width = padded_size(win)
    none = ((0, 0), (0, 0))
    return (Windows((kh, 1), (sh, 1), (dh, 1), none, (height, width), (oh, width)),
            Windows((1, kw), (1, sw), (1, dw), none, (oh, width), (oh, ow)))


def _sum_of_taps(taps: np.ndarray) -> np.ndarray:
    """Σ over the taps of a (..., k_h, k_w, oh, ow) window view: one pass per tap."""
    total = taps[..., 0, 0, :, :].copy()
    for i, j in list(np.ndindex(*taps.shape[-4:-2]))[1:]:
        total += taps[..., i, j, :, :]
    return total


def _spread(share: np.ndarray, taps: np.ndarray) -> None:
    """Add ``share`` into every tap of a writeable window view, one tap at a time (within a
    tap no two windows share a cell)."""
    for i, j in np.ndindex(*taps.shape[-4:-2]):
        taps[..., i, j, :, :] += share


# ----------------------------------------------------------------------------- adaptive
class AdaptiveAvgPoolCache(NamedTuple):
    input_shape: tuple       # (..., H, W)
    rows: np.ndarray         # (OH, H) 0/1: which rows each output row averages
    cols: np.ndarray         # (OW, W) 0/1: which columns each output column averages
    divisor: np.ndarray      # (OH, OW): the number of elements in each window


class GlobalAvgPoolCache(NamedTuple):
    input_shape: tuple       # (..., H, W)
    channels_last: bool      # the input's memory layout, which ∂L/∂x gets too


def adaptive_windows(length: int, out: int) -> tuple:
    """PyTorch's adaptive windows along one axis: ``[⌊i·L/out⌋, ⌈(i+1)·L/out⌉)`` for each i.

    They cover the input; consecutive windows share at most one element (where L/out is not
    an integer), and with out > L several windows may be the same element.
    """
    i = np.arange(out)
    starts = (i * length) // out
    ends = -((-(i + 1) * length) // out)
    return starts, ends


def _membership(length: int, out: int, dtype) -> np.ndarray:
    """The (out, length) 0/1 matrix whose row i marks window i's positions."""
    starts, ends = adaptive_windows(length, out)
    positions = np.arange(length)
    member = (positions >= starts[:, None]) & (positions < ends[:, None])
    return member.astype(dtype)


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size: tuple):
    """Adaptive average pooling of (..., H, W) to (..., OH, OW); returns ``(y, cache)``.

        y[i, j] = (1/|R_i|·|C_j|) Σ_{h ∈ R_i} Σ_{w ∈ C_j} x[h, w]
        R_i = [⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉),   C_j = [⌊j·W/OW⌋, ⌈(j+1)·W/OW⌉)

    The windows vary in size, so the sums are two matrix products with the 0/1 membership
    matrices (R of shape (OH, H), C of shape (OW, W)): Σ = R · x · Cᵀ per plane.

    Gradient: ∂L/∂x = Rᵀ · (∂L/∂y / D) · C, each element receiving the share of every
    window that contains it.

    A 1×1 output (global average pooling, the end of every ResNet) is simply the mean over
    H and W, read in place in either memory layout; its gradient, ∂L/∂y / (H·W) at every
    position, comes back in the input's layout.
    """
    shape = x.shape
    if tuple(output_size) == (1, 1) and x.ndim == 4 and x.size:
        y = x.mean(axis=(2, 3), keepdims=True, dtype=x.dtype)
        return y, GlobalAvgPoolCache(shape, is_channels_last(x))
    (H, W), (oh, ow) = shape[-2:], output_size
    B = int(np.prod(shape[:-2], dtype=np.int64))   # planes (explicit: B·H·W may be 0)
    rows, cols = _membership(H, oh, x.dtype), _membership(W, ow, x.dtype)
    # Columns first, as one GEMM over all rows of all planes: (B·H, W) · (W, OW).
    partial = (x.reshape(B * H, W) @ cols.T).reshape(B, H, ow)
    # Then rows, as one GEMM too: (B·OW, H) · (H, OH), transposed back to (B, OH, OW).
    sums = (partial.transpose(0, 2, 1).reshape(B * ow, H) @ rows.T).reshape(B, ow, oh)
    divisor = np.outer(rows.sum(axis=1), cols.sum(axis=1))
    y = sums.transpose(0, 2, 1) / divisor
    return (np.ascontiguousarray(y).reshape(shape[:-2] + (oh, ow)),
            AdaptiveAvgPoolCache(shape, rows, cols, divisor))


def adaptive_avg_pool2d_backward(dy: np.ndarray, cache: AdaptiveAvgPoolCache) -> np.ndarray:
    """∂L/∂x = Rᵀ · (∂L/∂y / D) · C per plane (see the forward)."""
    if isinstance(cache, GlobalAvgPoolCache):
        shape = cache.input_shape
        dx = empty_in_layout(shape, dy.dtype, cache.channels_last)
        dx[...] = dy / dy.dtype.type(shape[2] * shape[3])
        return dx
    shape, rows, cols, divisor = cache
    (H, W), (oh, ow) = shape[-2:], dy.shape[-2:]
    B = int(np.prod(shape[:-2], dtype=np.int64))
    share = dy.reshape(B, oh, ow) / divisor
    partial = (share.reshape(B * oh, ow) @ cols).reshape(B, oh, W)
    dx = (partial.transpose(0, 2, 1).reshape(B * W, oh) @ rows).reshape(B, W, H)
    return np.ascontiguousarray(dx.transpose(0, 2, 1)).reshape(shape)


# ----------------------------------------------------------------------------- padding
class PadCache(NamedTuple):
    input_shape: tuple
    mode: str
    sources: tuple   # constant: slices of x that survive; others: per padded dim, its
                     # (out_slice, src_slice) regions
    targets: tuple   # constant: where they land in y; others: unused (empty)


def _source_positions(length: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each output position j of one padded dimension, the input position it copies.

    With u = j − before (the position relative to the input's start):
      reflect     u mirrored about the first and last elements: −u, or 2(L−1) − u
      replicate   u clipped to [0, L−1]
      circular    PyTorch crops first (negative amounts), then wraps the cropped part
    A negative ``before``/``after`` crops; reflect and replicate still mirror and clip about
    the original edges, as PyTorch does.
    """
    out = length + before + after
    if mode == "circular":
        first = max(-before, 0)
        kept = length - first - max(-after, 0)
        if out <= 0:
            return np.zeros(0, dtype=np.intp)
        return first + (np.arange(out) - max(before, 0)) % kept
    u = np.arange(out) - before
    if mode == "replicate":
        return np.clip(u, 0, length - 1)
    u = np.abs(u)                                   # reflect about position 0
    return np.where(u > length - 1, 2 * (length - 1) - u, u)   # and about L − 1


def _regions(positions: np.ndarray, before: int, after: int) -> list:
    """Split one dimension's source map into the (at most 3) slices that copy it.

    The left padding, the kept centre and the right padding each copy a run of input
    positions with a constant step: +1 (centre, circular wrap), −1 (reflect's mirror) or 0
    (replicate's edge).  Returns ``(out_slice, src_slice)`` pairs, so that the copy is three
    slice assignments instead of a gather of every element.
    """
    out = len(positions)
    left, right = min(max(before, 0), out), max(out - max(after, 0), 0)
    regions = []
    for start, stop in ((0, left), (left, max(right, left)), (max(right, left), out)):
        count = stop - start
        if count <= 0:
            continue
        first = int(positions[start])
        step = int(positions[start + 1] - first) if count > 1 else 1
        if step == 0:
            source = slice(first, first + 1)                 # broadcast along the run
        else:
            last = first + step * (count - 1)
            end = last + step
            source = slice(first, None if end < 0 else end, step)
        regions.append((slice(start, stop), source))
    return regions


def _along(axis: int, ndim: int, index) -> tuple:
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


def pad_forward(x: np.ndarray, pads: tuple, mode: str, value=0):
    """Pad the last ``len(pads)`` dims of x by ``pads = ((before, after), ...)``.

    ``constant`` fills with ``value`` (negative amounts crop);
    ``reflect``/``replicate``/``circular`` copy input elements:
        y[j] = x[src(j)]   along each padded dimension, src from ``_source_positions``
    one dimension after the other, each as at most three slice copies (``_regions``).
    Gradient: constant mode passes the gradient of the kept region through; the others add
    every output position's gradient into the input position it copied:
        ∂L/∂x[i] = Σ_{j: src(j) = i} ∂L/∂y[j]
    """
    lead = x.ndim - len(pads)
    lengths = x.shape[lead:]
    out_shape = x.shape[:lead] + tuple(n + b + a for n, (b, a) in zip(lengths, pads))
    if mode == "constant":
        sources = (Ellipsis,) + tuple(slice(max(-b, 0), n - max(-a, 0))
                                      for n, (b, a) in zip(lengths, pads))
        targets = (Ellipsis,) + tuple(slice(max(b, 0), max(b, 0) + n - max(-b, 0) - max(-a, 0))
                                      for n, (b, a) in zip(lengths, pads))
        # Keep a channels-last input channels-last (a ResNet's option-A shortcut pads the
        # channels of one, then adds it to a channels-last branch).
        y = empty_in_layout(out_shape, x.dtype, channels_innermost(x))
        y.fill(0 if value is None else value)
        y[targets] = x[sources]
        return y, PadCache(x.shape, mode, sources, targets)
    regions = tuple(_regions(_source_positions(n, b, a, mode), b, a)
                    for n, (b, a) in zip(lengths, pads))
    y = x
    for k, dim_regions in enumerate(regions):
        axis = lead + k
        shape = list(y.shape)
        shape[axis] = out_shape[axis]
        grown = np.empty(shape, dtype=x.dtype)
        for out_slice, source in dim_regions:
            grown[_along(axis, x.ndim, out_slice)] = y[_along(axis, x.ndim, source)]
        y = grown
    return y, PadCache(x.shape, mode, regions, ())


def pad_backward(dy: np.ndarray, cache: PadCache) -> np.ndarray:
    """∂L/∂x: the kept region (constant), or the copies added back (see the forward)."""
    shape, mode, sources, targets = cache
    if mode == "constant":
        dx = empty_in_layout(shape, dy.dtype, channels_innermost(dy))
        dx.fill(0)
        dx[sources] = dy[targets]
        return dx
    lead = len(shape) - len(sources)
    dx = dy
    # The forward's dimensions in reverse; in each, every region adds its gradient back
    # into the slice it copied (a replicated edge sums its whole run).
    for k in reversed(range(len(sources))):
        axis = lead + k
        reduced = list(dx.shape)
        reduced[axis] = shape[axis]
        back = np.zeros(reduced, dtype=dy.dtype)
        for out_slice, source in sources[k]:
            g = dx[_along(axis, dy.ndim, out_slice)]
            if source.stop is not None and source.stop - source.start == 1 and \
                    out_slice.stop - out_slice.start > 1:
                g = g.sum(axis=axis, keepdims=True)
            back[_along(axis, dy.ndim, source)] += g
        dx = back
    return dx
