"""A small pool of worker threads for the few kernels that split their own work.

NumPy's matrix multiply is already parallel (OpenBLAS runs one thread per core), but many
small matrix products in a row are not: each one is too small for OpenBLAS to split, and it
runs on one core.  The convolution's weight gradient is such a loop (one product per kernel
tap and per block of positions), so it hands blocks to these workers instead.

Each worker sets OpenBLAS to one thread *for itself only* (``openblas_set_num_threads_local``,
OpenBLAS ≥ 0.3.27), so two workers never fight over OpenBLAS's own threads and the caller's
BLAS keeps all of them.  Where that function is missing (another BLAS, an older OpenBLAS) the
blocks simply run one after another in the calling thread: the same results, no speed-up.

``CONVGRAD_NUM_THREADS`` sets the number of workers (default: the number of CPUs, at most 8).
"""
from __future__ import annotations

import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def _openblas_thread_setters() -> list:
    """``openblas_set_num_threads_local`` of every OpenBLAS that NumPy and SciPy loaded."""
    setters = []
    for package in ("numpy", "scipy"):
        try:
            module = __import__(package)
        except ImportError:
            continue
        libs = os.path.join(os.path.dirname(os.path.dirname(module.__file__)), f"{package}.libs")
        for path in glob.glob(os.path.join(libs, "*openblas*")):
            try:
                setter = ctypes.CDLL(path).openblas_set_num_threads_local
            except (OSError, AttributeError):
                continue
            setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
            setters.append(setter)
    return setters


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
                setters = _openblas_thread_setters()
                workers = worker_count()
                if not setters or workers < 2:
                    _pool = False
                else:
                    def single_threaded_blas():
                        for setter in setters:
                            setter(1)

                    _pool = ThreadPoolExecutor(workers, thread_name_prefix="convgrad",
                                               initializer=single_threaded_blas)
    return _pool or None


def run_blocks(fn, blocks: list) -> list:
    """``[fn(*block) for block in blocks]``, the blocks spread over the worker threads.

    ``fn`` must only write to memory no other block writes (each block its own output).
    """
    pool = _get_pool()
    if pool is None or len(blocks) < 2 or threading.current_thread().name.startswith("convgrad"):
        return [fn(*block) for block in blocks]
    return list(pool.map(lambda block: fn(*block), blocks))


def split_range(start: int, stop: int, pieces: int) -> list:
    """``[start, stop)`` cut into ``pieces`` nearly equal consecutive ranges (lo, hi)."""
    bounds = np.linspace(start, stop, max(1, pieces) + 1).astype(np.int64)
    return [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
