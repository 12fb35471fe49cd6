"""convgrad's worker threads: how the kernels use every core.

The heavy kernels cut their matrix products — and batch norm its passes over big arrays
(``channels.py``, ``norm.py``) — into blocks of rows or columns and hand the blocks to a
small pool of worker threads.  The products go through ``blas.gemm`` and the passes through
NumPy's loops, which release the GIL, so the workers really run side by side, one block per
core.  Small work stays in the calling thread (``pieces_for``): a hand-off costs about
8 µs.  While the workers run, OpenBLAS is kept on one thread (``blas.one_thread``): its own
helper threads keep spinning for a while after each product they join, and beside
convgrad's workers they only steal cores (measured on a ResNet-20 step: 260 ms with them,
200 ms without).  The count is put back when the kernel returns, so NumPy's matrix products
elsewhere in the process run as they would without convgrad.

:func:`set_num_threads` (``convgrad.set_num_threads``, as ``torch.set_num_threads``) sets the
number of workers; the default is ``CONVGRAD_NUM_THREADS`` or the number of CPUs, at most 8.
One worker starts no pool and leaves OpenBLAS alone: every block then runs in the calling
thread, where OpenBLAS uses all the cores itself.  Where NumPy was built against another
BLAS (one whose threads convgrad cannot set), the same happens.
"""
from __future__ import annotations

import os
import queue
import threading

import numpy as np

from . import blas

_requested = None            # set_num_threads' count; None: the environment's or the default
_pool = None                 # the helpers; False when there are none to use; None: not made
_pool_lock = threading.Lock()


class _Block:
    """One block handed to a helper thread: ``fn(*args)``, and a lock held until it is done."""

    __slots__ = ("fn", "args", "result", "error", "done")

    def __init__(self, fn, args):
        self.fn, self.args, self.result, self.error = fn, args, None, None
        self.done = threading.Lock()
        self.done.acquire()

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args)
        except BaseException as error:       # handed back to the caller by wait()
            self.error = error
        finally:
            self.done.release()


class _Helpers:
    """``count − 1`` helper threads taking blocks from one queue; the calling thread is the
    count-th worker and runs a block itself.  (A thread pool's futures and map cost tens of
    microseconds per product, more than a small product itself; a queue and a lock per
    block cost a few.)"""

    def __init__(self, count: int):
        self.count = count
        self.blocks = queue.SimpleQueue()
        for number in range(count - 1):
            threading.Thread(target=self._serve, name=f"convgrad-{number}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            block = self.blocks.get()
            if block is None:
                return
            block.run()

    def shutdown(self) -> None:
        for _ in range(self.count - 1):
            self.blocks.put(None)


def get_num_threads() -> int:
    """How many worker threads convgrad's kernels use (``convgrad.get_num_threads``)."""
    if _requested is not None:
        return _requested
    default = min(os.cpu_count() or 1, 8)
    try:
        return max(1, int(os.environ.get("CONVGRAD_NUM_THREADS", default)))
    except ValueError:
        return default


def set_num_threads(count: int) -> None:
    """Use ``count`` worker threads from now on (1: run every kernel in the calling thread).

    Like ``torch.set_num_threads``, it affects convgrad only; the pool is remade when a
    kernel next needs it.
    """
    global _requested, _pool
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"set_num_threads expects a positive integer, got {count!r}")
    with _pool_lock:
        old, _pool, _requested = _pool, None, count
    if old:
        old.shutdown()


def _get_pool():
    """The shared pool, created on first use; None when there is none to use."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                count = get_num_threads()
                if blas.can_control_threads() and count > 1:
                    _pool = _Helpers(count)
                else:
                    _pool = False
    return _pool or None


def workers() -> int:
    """How many blocks can run at once."""
    pool = _get_pool()
    return pool.count if pool is not None else 1


def run_blocks(fn, blocks: list) -> list:
    """``[fn(*block) for block in blocks]``, the blocks spread over the worker threads (the
    calling thread runs the first one itself).

    ``fn`` must write only to memory that no other block writes (each block its own rows or
    its own partial result).
    """
    pool = _get_pool()
    if pool is None or len(blocks) < 2 or threading.current_thread().name.startswith("convgrad"):
        return [fn(*block) for block in blocks]
    with blas.one_thread():
        handed = [_Block(fn, block) for block in blocks[1:]]
        for block in handed:
            pool.blocks.put(block)
        try:
            first = fn(*blocks[0])
        finally:     # the others write into the caller's arrays: never leave before them
            results = [_wait_quietly(block) for block in handed]
        for block in handed:
            if block.error is not None:
                raise block.error
        return [first] + results


def _wait_quietly(block: _Block):
    """The block's result once it is done (None if it raised; the caller re-raises)."""
    block.done.acquire()
    return block.result


def pieces_for(work: int) -> int:
    """How many blocks a kernel of ``work`` multiply-adds is worth cutting into: one per
    worker, or 1 below ``_SPLIT_WORK`` (the hand-off would cost more than it saves)."""
    return workers() if work >= _SPLIT_WORK else 1


def pieces_for_pass(size: int) -> int:
    """How many blocks a pass over an array of ``size`` numbers (NumPy's loops: batch norm's
    passes, a copy) is worth cutting into: one per worker, or 1 below ``_SPLIT_SIZE``."""
    return workers() if size >= _SPLIT_SIZE else 1


def run_pieces(fn, pieces: int) -> list:
    """``[fn(i) for i in range(pieces)]`` over the worker threads.  A single piece runs in
    the calling thread with OpenBLAS on one thread, as each worker's block would (when there
    are workers; with none, OpenBLAS keeps all the cores)."""
    if pieces > 1 or _get_pool() is None:
        return run_blocks(fn, [(i,) for i in range(pieces)])
    with blas.one_thread():
        return [fn(0)]


def split_range(start: int, stop: int, pieces: int) -> list:
    """``[start, stop)`` cut into ``pieces`` nearly equal consecutive ranges (lo, hi)."""
    pieces = max(1, pieces)
    bounds = [start + (stop - start) * i // pieces for i in range(pieces + 1)]
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


# Below this many multiply-adds (about a third of a millisecond on one core) a product is not
# worth handing to the workers: an empty block's round trip costs ~8 µs, but inside a training
# step a worker starts its block ~30 µs after the caller starts its own (ResNet-20, on average).  (The 1-D ResNets'
# convolutions, 3–15 million each, ran slower shared: a 2-thread resnet1d-14 step took 16.3 ms
# with them shared, 13.0 on one thread.  Measured again after the hand-off was made lighter:
# a 64-channel 1-D convolution alone, forward and backward, takes 620 µs shared against 728
# whole (at 16 and 32 channels shared is 15 % slower), yet a resnet1d-50 step with the
# products above 12 million shared took 50–55 ms against 48–49.)
_SPLIT_WORK = 1 << 24


# A pass over fewer numbers than this (batch norm's, a copy) is not worth sharing out between
# the worker threads.  A hand-off costs about 8 µs, and one NumPy pass over 64 000 float32s
# only about 6: below ~100 000 numbers batch norm's time is NumPy's per-call overhead, which
# the GIL keeps on one core.  Measured on 2 threads, batch norm + residual + ReLU forward and
# backward, channels-last: 64 000 numbers 200–300 µs whole, 340 µs split; 96 000 even;
# 128 000 600 µs whole, 410 split; 1 048 576 (ResNet-20's first stage) 4.4 ms whole, 2.0
# split.
_SPLIT_SIZE = 100_000


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None,
           transpose_a: bool = False, transpose_b: bool = False) -> np.ndarray:
    """``op(a) @ op(b)`` for 2-D arrays (op = transpose when asked), split over the workers.

    The larger dimension of the result is cut into one block per worker; when both are
    small but the inner one is long (a weight gradient: C_out × C_in·k summed over every
    position), the inner dimension is cut instead and the partial products added.
    """
    left = a.T if transpose_a else a
    right = b.T if transpose_b else b
    rows, inner = left.shape
    cols = right.shape[1]
    if out is None:
        out = np.empty((rows, cols), dtype=np.result_type(a, b))
    pieces = workers()
    if pieces < 2:
        np.matmul(left, right, out=out)
        return out
    if rows * inner * cols < _SPLIT_WORK or out.dtype.kind != "f" or not a.dtype == b.dtype \
            == out.dtype:
        with blas.one_thread():      # on this core, as each worker's block would be
            np.matmul(left, right, out=out)
        return out

    def a_rows(lo, hi):    # rows lo:hi of op(a)
        return a[:, lo:hi] if transpose_a else a[lo:hi]

    def b_cols(lo, hi):    # columns lo:hi of op(b)
        return b[lo:hi] if transpose_b else b[:, lo:hi]

    def a_inner(lo, hi):   # columns lo:hi of op(a)
        return a[lo:hi] if transpose_a else a[:, lo:hi]

    def b_inner(lo, hi):   # rows lo:hi of op(b)
        return b[:, lo:hi] if transpose_b else b[lo:hi]

    def gemm(x, y, target):
        blas.gemm(x, y, target, transpose_a=transpose_a, transpose_b=transpose_b)

    if max(rows, cols) >= 64 * pieces:
        if rows >= cols:
            run_blocks(lambda lo, hi: gemm(a_rows(lo, hi), b, out[lo:hi]),
                       split_range(0, rows, pieces))
        else:
            run_blocks(lambda lo, hi: gemm(a, b_cols(lo, hi), out[:, lo:hi]),
                       split_range(0, cols, pieces))
        return out

    def partial(lo, hi):
        part = np.empty_like(out)
        gemm(a_inner(lo, hi), b_inner(lo, hi), part)
        return part

    np.sum(run_blocks(partial, split_range(0, inner, pieces)), axis=0, out=out)
    return out
