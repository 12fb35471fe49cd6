"""Keep freed memory for reuse instead of returning it to the operating system.

A training step allocates and frees the same large arrays (activations, gradients, a
convolution's grid) every time.  glibc's malloc serves arrays above a threshold (128 KiB,
rising as it sees bigger ones) with fresh ``mmap`` pages and unmaps them on ``free``, so each
step pays a page fault per 4 KiB page touched again: measured here, about 22,000 faults and
30 ms of a 300 ms ResNet-20 step.  Raising the mmap and trim thresholds makes malloc keep
those blocks in its heap and hand them out again, already mapped.

This is a setting of the whole process, so convgrad never makes it on its own: importing
convgrad leaves malloc alone.  ``convgrad train`` and the benchmarks ask for it explicitly,
for the length of the run::

    with convgrad.keep_freed_memory():
        ...train...

Leaving the block puts glibc's documented defaults back (128 KiB for both thresholds; glibc's
own adjustment of the mmap threshold stays off, as after any ``mallopt`` call).  The cost
while it is on: memory freed after the peak of a run stays in the process.  Only glibc
(Linux) has these settings; elsewhere, and with ``CONVGRAD_KEEP_MALLOC=1`` (leave malloc's
settings alone), the block changes nothing.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 * 1024 * 1024      # glibc's maximum on 64-bit systems
_TRIM_THRESHOLD = 256 * 1024 * 1024
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024   # both thresholds' documented default


def _mallopt():
    """glibc's ``mallopt``, or None (not Linux, not glibc, or the user opted out)."""
    if not sys.platform.startswith("linux") or os.environ.get("CONVGRAD_KEEP_MALLOC") == "1":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def _set_thresholds(mallopt, mmap: int, trim: int) -> bool:
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap) and mallopt(_M_TRIM_THRESHOLD, trim))


@contextlib.contextmanager
def keep_freed_memory():
    """Inside the block, glibc's malloc keeps freed big blocks mapped for reuse.

    Yields True when the thresholds were raised (False where there is nothing to tune).
    """
    mallopt = _mallopt()
    raised = mallopt is not None and _set_thresholds(mallopt, _MMAP_THRESHOLD, _TRIM_THRESHOLD)
    try:
        yield raised
    finally:
        if raised:
            _set_thresholds(mallopt, _GLIBC_DEFAULT_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
