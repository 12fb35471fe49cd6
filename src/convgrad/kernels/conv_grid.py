"""Fast route: stride-1 convolution as one matrix product per kernel tap, no window copies.

It computes the reference's sum (``kernels/conv.py``; tested against ``conv_loops`` and
PyTorch), at stride 1 and with one group:

    y[n, o, t] = b[o] + Σ_c Σ_τ x_pad[n, c, t + τ·d] · w[o, c, τ]

im2col copies every window (∏k times the input) before its one big product; at stride 1
that copy costs more than the arithmetic.  Here nothing is copied but the input itself, once.
Measured gain (``benchmarks/conv_routes.py --threads 1``, CPU time, float32, batch 64, 3×3,
padding 1; four runs on a shared 2-core machine): forward+backward 2.3–3.1× faster than
im2col at 16 channels on 32×32, 1.5–2.1× at 32 on 16×16, 1.5–2.7× at 64 on 8×8.

1. The input is laid out channels-last on a *grid*: cell (n, r, c) of the image is row
   ``base + (n·R + r)·S + c`` of a (rows, C) matrix X, where each image row is followed by
   ``S − W`` zero cells and each image by ``R − H`` zero rows.  Those zeros are the padding,
   shared by neighbours (the right padding of one row is the left padding of the next).

2. Then a shift along the grid is a shift of rows: the cell tap τ = (i, j) reads for output
   (h, w) sits exactly ``off(τ) = i·d_h·S + j·d_w`` rows after the cell tap (0, 0) reads.
   So with Q the rows where outputs are anchored (output (n, h, w) at ``(n·R + h)·S + w``
   rows after the first),

       Y[Q] = Σ_τ X[Q + off(τ)] · W_τ            (W_τ = w[:, :, τ]ᵀ, a C × C_out matrix)

   one GEMM per tap on a *contiguous slice* of X, accumulated in place (BLAS's β = 1).
   Anchors that fall on a gap compute garbage that is never read: the price of the trick is
   the gap (with padding 1, the grid has 6 % more cells than a 32×32 image, 13 % more than a
   16×16 one, 27 % more than an 8×8 one).

3. The backward pass reuses the same slices.  With G the upstream gradient on the anchor
   rows (zero elsewhere, so garbage anchors contribute nothing):

       ∂L/∂W_τ = X[Q + off(τ)]ᵀ · G[Q]          every reuse of w[τ] adds in: the sum over
                                                 all anchors is the GEMM's inner dimension
       ∂L/∂X[P] = Σ_τ G[P − off(τ)] · W_τᵀ       each cell gathers from every output that read it

The output comes back channels-last: an (N, C_out, H, W) *view* of (N, H, W, C_out) memory,
which the next convolution, batch norm and ReLU read without a transposing copy.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from . import blas
from .channels import add_per_channel, channel_sum
from .parallel import pieces_for, pieces_for_pass, run_blocks, run_pieces, split_range


class Grid(NamedTuple):
    """Where the cells of a batch of images lie in the flat channels-last buffer."""

    batch: int
    height: int          # H (1 for a 1-D convolution)
    width: int           # W
    out_height: int
    out_width: int
    row_stride: int      # S
    image_rows: int      # R
    base: int            # the buffer row of cell (0, 0, 0)
    first_anchor: int    # the row where output (0, 0, 0) is anchored
    offsets: tuple       # off(τ) for every tap, in the weight's (row-major) tap order

    @property
    def span(self) -> int:
        """Rows the batch takes on the grid, R·S per image."""
        return self.batch * self.image_rows * self.row_stride

    @property
    def total_rows(self) -> int:
        return self.base + self.span

    @property
    def anchors(self) -> int:
        """How many anchor rows one product covers, from the first output to the last."""
        return ((self.batch - 1) * self.image_rows + self.out_height - 1) * self.row_stride \
            + self.out_width


@functools.lru_cache(maxsize=256)
def make_grid(batch: int, size: tuple, kernel: tuple, padding: tuple, dilation: tuple) -> Grid:
    """The grid for a stride-1 convolution; 1-D sizes are promoted to 2-D with height 1.

    The row stride S must hold a row and its wider padding, ``S ≥ W + max(left, right)``, so
    that a tap reaching past the row's end (or before its start) reads zeros; and the output
    row, ``S ≥ out_width``, so that each anchor row is one output (or garbage), never two.
    (The output is wider than W + max(left, right) when both paddings exceed d(k−1).)  The
    same holds for the image rows R along the height.
    """
    if len(size) == 1:
        size, kernel, padding, dilation = ((1,) + tuple(size), (1,) + tuple(kernel),
                                           ((0, 0),) + tuple(padding), (1,) + tuple(dilation))
    (height, width), (kh, kw), ((top, bottom), (left, right)), (dh, dw) = (
        size, kernel, padding, dilation)
    out_height = height + top + bottom - dh * (kh - 1)
    out_width = width + left + right - dw * (kw - 1)
    row_stride = max(width + max(left, right), out_width)
    image_rows = max(height + max(top, bottom), out_height)
    offsets = tuple(i * dh * row_stride + j * dw for i in range(kh) for j in range(kw))
    # base ≥ off(last tap): ∂L/∂X's earliest read, G[base − off], stays inside the buffer.
    base = max(offsets[-1], top * row_stride + left)
    return Grid(batch, height, width, out_height, out_width, row_stride, image_rows, base,
                first_anchor=base - top * row_stride - left, offsets=offsets)


def applies(x, weight, stride, padding, dilation, groups) -> bool:
    """Stride 1, one group, float32/float64 with NumPy's BLAS found, a non-empty batch; and
    it pays: at least 4 input channels (with fewer, each per-tap product is too thin to run
    fast, while im2col's one product, C·∏k deep, still does) and a grid at most 4 times the
    image (it computes the padding gaps too)."""
    if (groups != 1 or any(s != 1 for s in stride) or blas.raw_gemm(x.dtype) is None
            or x.shape[1] < 4 or x.shape[0] == 0 or weight.shape[0] == 0):
        return False
    grid = make_grid(x.shape[0], x.shape[2:], weight.shape[2:], tuple(map(tuple, padding)),
                     tuple(dilation))
    return grid.image_rows * grid.row_stride <= 4 * math.prod(x.shape[2:])


def _cells(buffer: np.ndarray, grid: Grid, start: int) -> np.ndarray:
    """The (N, R, S, C) view of the grid whose cell (0, 0, 0) is buffer row ``start``."""
    rows = buffer[start:start + grid.span]
    return rows.reshape(grid.batch, grid.image_rows, grid.row_stride, buffer.shape[1])


def _scatter_into_zeros(values: np.ndarray, grid: Grid, start: int, dtype) -> np.ndarray:
    """A (total_rows, C) buffer holding ``values`` (N, h, w, C) at the grid cells from row
    ``start`` on, and zeros everywhere else.

    Only the cells outside ``values`` are zeroed (the margins, each row's gap, each image's
    gap rows): zeroing the whole buffer first would write it twice.
    """
    batch, height, width, channels = values.shape
    buffer = np.empty((grid.total_rows, channels), dtype=dtype)
    buffer[:start] = 0
    buffer[start + grid.span:] = 0
    cells = _cells(buffer, grid, start)

    def fill(lo, hi):
        cells[lo:hi, :height, width:] = 0
        cells[lo:hi, height:] = 0
        cells[lo:hi, :height, :width] = values[lo:hi]

    run_blocks(fill, _image_blocks(values))
    return buffer


def _image_blocks(images: np.ndarray) -> list:
    """The (N, H, W, C) ``images`` cut into one run per worker, or one run when they are
    small (a copy of the 1-D ResNets' 64 000 numbers takes ~10 µs, about what waking a
    worker costs; of ResNet-20's first stage, a million numbers, ~370 µs)."""
    return split_range(0, len(images), pieces_for_pass(images.size))


def _channels_last(a: np.ndarray) -> np.ndarray:
    """(N, C, *spatial) → (N, H, W, C) view (H = 1 for 1-D)."""
    if a.ndim == 3:
        a = a[:, :, None, :]
    return a.transpose(0, 2, 3, 1)


def _as_channels_first(cells: np.ndarray, spatial_dims: int) -> np.ndarray:
    """(N, H, W, C) memory as the (N, C, H, W) — or (N, C, L) — array the caller expects."""
    out = cells.transpose(0, 3, 1, 2)
    return out[:, :, 0, :] if spatial_dims == 1 else out


# Bytes of X and G per block of the weight gradient: a block stays in the core's cache while
# every tap reads it (measured best on a 2-core machine with 1 MiB of L2 per core).
_GRADIENT_BLOCK_BYTES = 512 * 1024


def _sum_of_shifted_products(source: np.ndarray, start: int, offsets, matrices: np.ndarray,
                             out: np.ndarray, rows: int, grid: Grid, copy_off) -> None:
    """``out[r] = Σ_t source[start + offsets[t] + r] · matrices[t]`` for r < ``rows``, then
    ``copy_off(first, last)`` for every run of images.

    The rows are cut by images (``grid.span / N`` rows each) into one run of images per
    worker thread; for its rows, each tap is one GEMM accumulating in place (β = 1), called
    straight through cblas with the rows' addresses (``blas.raw_gemm``: thousands of
    products per training step, so no per-call checks), and then the same worker copies
    its images off the grid with ``copy_off`` while their rows are still in its cache (and
    with no second hand-off).  Where the images do not share out evenly (fewer than four
    per worker, and not a multiple of the workers) the rows are cut instead, and copied off
    once all are done.  Below ``parallel.pieces_for``'s threshold (the 1-D ResNets'
    16–64-channel convolutions) all stays in one block, in this thread: waking a worker
    cost more than it saved.  Where OpenBLAS has small-matrix kernels
    (``blas.small_product_rows``: its AVX-512 cores, float32, up to 32 channels) each block
    is cut further into runs of rows small enough for them, every tap done on one run before
    the next; elsewhere smaller blocks measured slower: these products stream well.
    """
    # cblas reads and writes wherever it is pointed: check the extent first.
    assert 0 <= start + min(offsets) and start + max(offsets) + rows <= len(source) \
        and rows <= len(out), "shifted products outside the grid"
    gemm = blas.raw_gemm(out.dtype)
    inner, width, size = source.shape[1], out.shape[1], out.itemsize
    pieces = pieces_for(rows * inner * width * len(offsets))
    image_span = grid.span // grid.batch
    # Whole images per worker when they share out evenly (or nearly: at least 4 per worker);
    # otherwise (3 images on 2 workers, one big image) rows, copied off once all are done.
    by_images = grid.batch % pieces == 0 or grid.batch >= 4 * pieces
    if by_images:                  # (row_lo, row_hi, first image, last image) per worker
        blocks = [(first * image_span, min(last * image_span, rows), first, last)
                  for first, last in split_range(0, grid.batch, pieces)]
    else:
        blocks = [(lo, hi, 0, 0) for lo, hi in split_range(0, rows, pieces)]
    run_rows = blas.small_product_rows(out.dtype, width, inner) or rows
    matrices = np.ascontiguousarray(matrices)
    s_base, o_base, m_base = source.ctypes.data, out.ctypes.data, matrices.ctypes.data

    def worker_block(index):
        block_lo, block_hi, first, last = blocks[index]
        for lo, hi in split_range(block_lo, block_hi, -(-(block_hi - block_lo) // run_rows)):
            for tap, offset in enumerate(offsets):
                gemm(blas.ROW_MAJOR, blas.NO_TRANS, blas.NO_TRANS, hi - lo, width, inner, 1.0,
                     s_base + (start + offset + lo) * inner * size, inner,
                     m_base + tap * inner * width * size, width, 0.0 if tap == 0 else 1.0,
                     o_base + lo * width * size, width)
        if last > first:
            copy_off(first, last)

    run_pieces(worker_block, len(blocks))
    if not by_images:
        copy_off(0, grid.batch)


def _weight_gradient(cells: np.ndarray, upstream: np.ndarray, grid: Grid) -> np.ndarray:
    """``∂L/∂W_τ = Σ_Q X[Q + off(τ)]ᵀ · G[Q]`` for every tap, (taps, C_in, C_out).

    Each product is thin (C_in × C_out, summed over tens of thousands of anchors) and would
    stream X and G from memory once per tap; instead the anchors are cut into cache-sized
    blocks, all taps read a block while it is in cache, and each worker thread accumulates
    its blocks into its own partial sum (β = 1), added up at the end.  Where OpenBLAS has
    small-matrix kernels the blocks are sized for them instead (``blas.small_product_rows``).
    """
    channels, out_channels, size = cells.shape[1], upstream.shape[1], cells.itemsize
    first, count = grid.first_anchor, grid.anchors
    # cblas reads wherever it is pointed: check the extent first.
    assert first + count + grid.offsets[-1] <= len(cells) and first + count <= len(upstream), \
        "weight gradient outside the grid"
    rows = blas.small_product_rows(cells.dtype, out_channels, channels) or max(
        512, _GRADIENT_BLOCK_BYTES // (size * (channels + out_channels)))
    blocks = split_range(first, first + count, -(-count // rows))
    gemm = blas.raw_gemm(cells.dtype)
    taps = len(grid.offsets)
    x_base, g_base = cells.ctypes.data, upstream.ctypes.data
    pieces = min(pieces_for(count * channels * out_channels * taps), len(blocks))

    def worker_sum(index):
        total = np.empty((taps, channels, out_channels), dtype=cells.dtype)
        t_base, t_step = total.ctypes.data, channels * out_channels * size
        for number, (lo, hi) in enumerate(blocks[index::pieces]):
            for tap, offset in enumerate(grid.offsets):
                # total[tap] (+)= X[lo+off : hi+off]ᵀ · G[lo:hi]
                gemm(blas.ROW_MAJOR, blas.TRANS, blas.NO_TRANS, channels, out_channels,
                     hi - lo, 1.0, x_base + (lo + offset) * channels * size, channels,
                     g_base + lo * out_channels * size, out_channels,
                     0.0 if number == 0 else 1.0, t_base + tap * t_step, out_channels)
        return total

    return np.sum(run_pieces(worker_sum, pieces), axis=0)


class GridCache(NamedTuple):
    cells: np.ndarray        # X: the padded channels-last input grid
    taps: np.ndarray         # W_τ for every tap, (taps, C_in, C_out)
    grid: Grid
    weight_shape: tuple


def conv_forward(x: np.ndarray, weight: np.ndarray, bias, stride, padding: tuple,
                 dilation: tuple, groups=1, keep_cols=True):
    """``y = Σ_τ X[Q + off(τ)] · W_τ + b`` on the grid (module docstring); returns (y, cache).

    ``x`` (N, C_in, *L), ``weight`` (C_out, C_in, *k); stride 1 and one group (``applies``);
    ``padding`` is a (before, after) pair per axis.
    """
    grid = make_grid(x.shape[0], x.shape[2:], weight.shape[2:], tuple(map(tuple, padding)),
                     tuple(dilation))
    channels, out_channels = x.shape[1], weight.shape[0]
    cells = _scatter_into_zeros(_channels_last(x), grid, grid.base, x.dtype)
    taps = np.ascontiguousarray(weight.reshape(out_channels, channels, -1).transpose(2, 1, 0))
    # Y's rows from the first anchor on; only the first ``anchors`` are computed (the rest
    # lie past the last output and are never read).
    y_rows = np.empty((grid.span, out_channels), dtype=x.dtype)
    y = np.empty((grid.batch, grid.out_height, grid.out_width, out_channels), dtype=x.dtype)
    y_cells = _cells(y_rows, grid, 0)[:, :grid.out_height, :grid.out_width]

    def copy_off(first, last):
        y[first:last] = y_cells[first:last]

    _sum_of_shifted_products(cells, grid.first_anchor, grid.offsets, taps, y_rows,
                             grid.anchors, grid, copy_off)
    y = _as_channels_first(y, x.ndim - 2)
    if bias is not None:
        add_per_channel(y, bias)
    return y, GridCache(cells, taps, grid, weight.shape)


def conv_backward(dout: np.ndarray, cache: GridCache, need_input: bool = True,
                  need_weight: bool = True, need_bias: bool = True):
    """``(∂L/∂x, ∂L/∂w, ∂L/∂b)`` by the module docstring's formulas, each None unless asked."""
    cells, taps, grid, weight_shape = cache
    dx = dw = db = None
    if need_bias:
        db = channel_sum(dout).astype(dout.dtype)
    if not (need_input or need_weight):
        return dx, dw, db
    upstream = _scatter_into_zeros(_channels_last(dout), grid, grid.first_anchor, dout.dtype)
    if need_weight:
        dw = _weight_gradient(cells, upstream, grid)       # (taps, C_in, C_out)
        dw = np.ascontiguousarray(dw.transpose(2, 1, 0)).reshape(weight_shape)
    if need_input:
        d_cells = np.empty((grid.span, cells.shape[1]), dtype=dout.dtype)
        taps_t = np.ascontiguousarray(taps.transpose(0, 2, 1))   # W_τᵀ, (taps, C_out, C_in)
        dx = np.empty((grid.batch, grid.height, grid.width, cells.shape[1]), dtype=dout.dtype)
        dx_cells = _cells(d_cells, grid, 0)[:, :grid.height, :grid.width]

        def copy_off(first, last):
            dx[first:last] = dx_cells[first:last]

        _sum_of_shifted_products(upstream, grid.base, [-offset for offset in grid.offsets],
                                 taps_t, d_cells, grid.span, grid, copy_off)
        dx = _as_channels_first(dx, dout.ndim - 2)
    return dx, dw, db
