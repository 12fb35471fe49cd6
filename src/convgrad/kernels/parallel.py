"""A small pool of worker threads for the kernels that split their own work.

The convolution kernels cut their matrix products into blocks of rows and hand the blocks to
these workers, with BLAS pinned to one thread meanwhile (``blas.single_threaded``): each
core then runs one block at a time at full speed, no OpenBLAS helper thread spins beside
them, and one kernel's products never fight another's for the cores.  The products go
through ``blas.gemm``, which releases the GIL, so the workers really run in parallel.

Where BLAS's thread count cannot be controlled (NumPy built on another BLAS), the blocks run
one after another in the calling thread, where BLAS uses every core itself: the same
results, computed the same way.

``CONVGRAD_NUM_THREADS`` sets the number of workers (default: the number of CPUs, at most 8).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import blas


def worker_count() -> int:
    default = min(os.cpu_count() or 1, 8)
    try:
        return max(1, int(os.environ.get("CONVGRAD_NUM_THREADS", default)))
    except ValueError:
        return default


_pool = None
_pool_lock = threading.Lock()


def _get_pool():
    """The shared pool, created on first use; None when splitting cannot pay off."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                workers = worker_count()
                if blas.can_control_threads() and workers > 1:
                    _pool = ThreadPoolExecutor(workers, thread_name_prefix="convgrad")
                else:
                    _pool = False
    return _pool or None


def block_count(rows: int, min_rows: int = 1024) -> int:
    """How many blocks to cut ``rows`` into: one per worker, unless that leaves tiny blocks."""
    pool = _get_pool()
    workers = pool._max_workers if pool is not None else 1
    return max(1, min(workers, rows // min_rows))


def run_blocks(fn, blocks: list) -> list:
    """``[fn(*block) for block in blocks]``, the blocks spread over the worker threads.

    ``fn`` must write only to memory that no other block writes (each block its own rows or
    its own partial result).
    """
    pool = _get_pool()
    if pool is None or len(blocks) < 2 or threading.current_thread().name.startswith("convgrad"):
        return [fn(*block) for block in blocks]
    with blas.single_threaded():
        return list(pool.map(lambda block: fn(*block), blocks))


def split_range(start: int, stop: int, pieces: int) -> list:
    """``[start, stop)`` cut into ``pieces`` nearly equal consecutive ranges (lo, hi)."""
    bounds = np.linspace(start, stop, max(1, pieces) + 1).astype(np.int64)
    return [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
