"""Per-channel arithmetic on big arrays, fast in either memory layout.

Batch norm, a convolution's bias and their gradients apply a (C,) vector to every position,
or sum every position into one number per channel.  An array is seen, without copying, as a
*channel matrix*:

* channels-first (N, C, *spatial): an (N, C, M) array, per-channel vectors as (C, 1);
* channels-last (an (N, C, H, W) view of (N, H, W, C) memory, which convgrad's convolutions
  return; and (N, C) arrays): a (rows, k·C) matrix whose rows hold k consecutive positions.
  NumPy's loops then run over k·C ≈ 1024 contiguous numbers instead of C = 16 (2–3× faster
  here), per-channel vectors are tiled k times, and per-channel sums fold k partial sums.

Either matrix can be cut along its first axis (rows; or items of the batch) into blocks that
hold whole channel rows: :meth:`ChannelView.row_blocks` gives one block per worker thread
(``parallel.py``) for the passes that are big enough to share, and :func:`summed_blocks`
adds the blocks' per-channel partial sums.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from . import blas
from .parallel import pieces_for_pass, run_blocks, split_range


# A channels-last row of the matrix holds up to this many numbers (k·C).
_ROW_TARGET = 1024


class ChannelView(NamedTuple):
    """An array seen as a matrix in which channels repeat along one axis (no copy)."""

    matrix: np.ndarray    # channels-last: (rows, k·C); channels-first: (N, C, M)
    channels: int
    tiles: int            # k (channels-last); 0 for channels-first
    shape: tuple = ()     # the array's (N, C, *spatial)

    def array(self, matrix: np.ndarray) -> np.ndarray:
        """A matrix of this view's shape seen as an array of the viewed array's shape and
        layout (no copy): how a result computed on channel matrices is handed back."""
        if not self.tiles:
            return matrix.reshape(self.shape)
        order = layout_order(len(self.shape))
        cells = matrix.reshape(tuple(self.shape[i] for i in order))
        return cells.transpose(_inverse_order(len(self.shape)))

    def empty(self) -> np.ndarray:
        """A new, uninitialised matrix of this view's shape and dtype."""
        return np.empty(self.matrix.shape, dtype=self.matrix.dtype)

    def vector(self, v: np.ndarray) -> np.ndarray:
        """A (C,) vector shaped to broadcast against ``matrix``."""
        return v.take(_tiled_index(self.channels, self.tiles)) if self.tiles else v[:, None]

    def fold(self, partial: np.ndarray) -> np.ndarray:
        """Per-column sums of the matrix, (k·C,), folded into (C,) float64 sums."""
        return np.add.reduce(partial.reshape(self.tiles, self.channels), axis=0,
                             dtype=np.float64)

    def row_blocks(self) -> list:
        """The matrix's first axis cut into one ``(lo, hi)`` block per worker thread — a
        single block when there is one worker or the matrix is small.  Every block holds whole
        rows (all k·C columns; or whole items), so per-channel vectors broadcast against
        ``matrix[lo:hi]`` as against the matrix, and :meth:`sum` and :meth:`dot` of a block
        are its partial sums.  The cut depends only on the shape and the worker count: the
        same arrays are always summed in the same pieces, in the same order."""
        rows = self.matrix.shape[0]
        return split_range(0, rows, pieces_for_pass(self.matrix.size)) or [(0, rows)]

    def sum(self, a: np.ndarray) -> np.ndarray:
        """Σ a per channel, (C,) in float64 (the k partial sums folded last)."""
        if self.tiles:
            # the column sums as a vector-matrix product: BLAS's, twice NumPy's reduce here.
            # On one OpenBLAS thread: its helper threads would spin after this small product
            # while NumPy's passes run (measured: a 2-thread ResNet-20 step at 301 ms wall
            # and 601 ms CPU with them, 217 and 307 without).
            with blas.one_thread():
                return self.fold(_ones(len(a), a.dtype) @ a)
        return np.einsum("ncm->c", a).astype(np.float64)

    def dot(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Σ a·b per channel, without an a·b temporary."""
        if self.tiles:
            return self.fold(np.einsum("rk,rk->k", a, b))
        return np.einsum("ncm,ncm->c", a, b).astype(np.float64)


def summed_blocks(fn, blocks: list) -> list:
    """``fn(lo, hi)`` for every block, over the worker threads; each returns a tuple of
    per-channel partial sums (float64), added here block by block, first to last — a fixed
    order, so the totals are the same from run to run.  With one block, its own sums."""
    parts = run_blocks(fn, blocks)
    totals = list(parts[0])
    for part in parts[1:]:
        totals = [total + value for total, value in zip(totals, part)]
    return totals


@functools.lru_cache(maxsize=64)
def _ones(length: int, dtype) -> np.ndarray:
    return np.ones(length, dtype=dtype)


@functools.lru_cache(maxsize=64)
def _tiled_index(channels: int, tiles: int) -> np.ndarray:
    """``[0, 1, …, C−1]`` repeated k times: ``v.take`` of it tiles a (C,) vector."""
    return np.tile(np.arange(channels), tiles)


@functools.lru_cache(maxsize=256)
def _tiles_for(channels: int, positions: int) -> int:
    """k: the largest power of two with k·C ≤ the row target that divides the positions."""
    tiles = 1
    while 0 < tiles * 2 * channels <= _ROW_TARGET and positions % (tiles * 2) == 0:
        tiles *= 2
    return tiles


@functools.lru_cache(maxsize=8)
def layout_order(ndim: int) -> tuple:
    """The axis order that puts channels (axis 1) last."""
    return (0,) + tuple(range(2, ndim)) + (1,)


@functools.lru_cache(maxsize=8)
def _inverse_order(ndim: int) -> tuple:
    """The axis order that puts channels back from last to axis 1."""
    return tuple(np.argsort(layout_order(ndim)).tolist())


def is_channels_last(x: np.ndarray) -> bool:
    """(N, C) arrays count as channels-last: their channels are the contiguous axis."""
    if x.ndim == 2:
        return x.flags.c_contiguous
    return x.transpose(layout_order(x.ndim)).flags.c_contiguous and not x.flags.c_contiguous


def channel_view(x: np.ndarray, channels_last: bool) -> ChannelView:
    """``x`` (already in the given layout) as a channel matrix."""
    channels = x.shape[1]
    per_item = math.prod(x.shape[2:])
    if not channels_last:
        # explicit sizes, not -1: an empty batch cannot infer its position count
        return ChannelView(x.reshape(x.shape[0], channels, per_item), channels, 0, x.shape)
    tiles = _tiles_for(channels, x.shape[0] * per_item)
    flat = x.transpose(layout_order(x.ndim)).reshape(-1)
    return ChannelView(flat.reshape(-1, tiles * channels), channels, tiles, x.shape)


def in_layout(a: np.ndarray, channels_last: bool) -> np.ndarray:
    """``a`` itself if it already has the layout, else a copy that has it.

    Channels-first means C-contiguous: an array that is neither (say, H and W swapped by a
    transpose) is copied too, since its channel matrix could not be a view.
    """
    if not channels_last:
        return np.ascontiguousarray(a)          # no copy when a already is
    if is_channels_last(a):
        return a
    order = layout_order(a.ndim)
    return np.ascontiguousarray(a.transpose(order)).transpose(tuple(np.argsort(order)))


def channels_innermost(a: np.ndarray) -> bool:
    """Whether a's channels (axis 1) are its innermost axis in memory — true of channels-last
    arrays and of their strided slices — so that results made from it should be too."""
    return a.ndim >= 3 and a.shape[1] > 1 and abs(a.strides[1]) == min(map(abs, a.strides))


def empty_in_layout(shape: tuple, dtype, channels_last: bool) -> np.ndarray:
    """An uninitialised (N, C, ...) array whose memory is channels-last if asked."""
    if not channels_last or len(shape) < 3:
        return np.empty(shape, dtype=dtype)
    order = layout_order(len(shape))
    return np.empty(tuple(shape[i] for i in order), dtype=dtype).transpose(
        tuple(np.argsort(order)))


def channel_sum(a: np.ndarray) -> np.ndarray:
    """Σ a over everything but the channel axis (1), as a float64 (C,) vector, any layout."""
    channels_last = is_channels_last(a)
    a = in_layout(a, channels_last)
    view = channel_view(a, channels_last)
    return view.sum(view.matrix)


def add_per_channel(a: np.ndarray, v: np.ndarray) -> None:
    """``a[:, c, ...] += v[c]`` in place, for an array in either layout."""
    if a.size == 0:
        return
    channels_last = is_channels_last(a)
    if not (channels_last or a.flags.c_contiguous):
        # No channel-matrix view of this layout exists: broadcast instead (also in place).
        a += v.astype(a.dtype, copy=False).reshape((1, -1) + (1,) * (a.ndim - 2))
        return
    view = channel_view(a, channels_last)
    np.add(view.matrix, view.vector(v.astype(a.dtype, copy=False)), out=view.matrix)
