"""Matrix products that accumulate in place, straight from NumPy's own BLAS.

``np.matmul`` can only overwrite its output; a convolution done one kernel tap at a time
needs ``C += A·B`` (BLAS's β = 1), or every tap would cost an extra pass over the output.
So this module calls ``cblas_sgemm``/``cblas_dgemm`` of the OpenBLAS that NumPy itself
loaded, through ctypes:

* the same library as ``np.matmul``, so the two never run two thread pools that fight for
  the cores (SciPy bundles a second OpenBLAS; alternating between the two made each product
  up to 5× slower here);
* ctypes releases the GIL during the call, so worker threads (``parallel.py``) multiply
  truly in parallel — SciPy's ``blas.sgemm`` holds the GIL and would not.

:func:`gemm` computes ``out = α·op(a)·b + β·out`` for C-contiguous 2-D arrays (row-major,
unit inner stride).  When the library or symbol cannot be found (NumPy built against
another BLAS), it falls back to ``np.matmul`` plus an addition: the same numbers, slower.

:func:`single_threaded` sets OpenBLAS to one thread for the duration of a block of work
that convgrad's own worker threads split between the cores (and restores it after).
"""
from __future__ import annotations

import ctypes
import glob
import os
from contextlib import contextmanager

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _numpy_openblas():
    """NumPy's OpenBLAS as a ctypes library, or None."""
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _symbol(lib, names):
    for name in names:
        try:
            return getattr(lib, name)
        except AttributeError:
            continue
    return None


def _bind_gemm(lib, letter: str, scalar):
    """cblas_?gemm with its 64-bit (ILP64, NumPy's wheels) or 32-bit integer signature."""
    for names, integer in (
        ([f"scipy_cblas_{letter}gemm64_", f"cblas_{letter}gemm64_"], ctypes.c_int64),
        ([f"cblas_{letter}gemm"], ctypes.c_int32),
    ):
        fn = _symbol(lib, names)
        if fn is not None:
            enum, pointer = ctypes.c_int, ctypes.c_void_p
            fn.argtypes = [enum, enum, enum, integer, integer, integer, scalar, pointer,
                           integer, pointer, integer, scalar, pointer, integer]
            fn.restype = None
            return fn
    return None


_LIB = _numpy_openblas()
_GEMM = {}
if _LIB is not None:
    for _dtype, _letter, _scalar in ((np.float32, "s", ctypes.c_float),
                                     (np.float64, "d", ctypes.c_double)):
        _fn = _bind_gemm(_LIB, _letter, _scalar)
        if _fn is not None:
            _GEMM[np.dtype(_dtype)] = _fn
_GET_THREADS = _symbol(_LIB, ["scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                              "openblas_get_num_threads"]) if _LIB else None
_SET_THREADS = _symbol(_LIB, ["scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                              "openblas_set_num_threads"]) if _LIB else None
if _GET_THREADS is not None and _SET_THREADS is not None:
    _GET_THREADS.restype = ctypes.c_int
    _SET_THREADS.argtypes, _SET_THREADS.restype = [ctypes.c_int], None
else:
    _GET_THREADS = _SET_THREADS = None


def can_control_threads() -> bool:
    """Whether :func:`single_threaded` really pins BLAS to one thread."""
    return _SET_THREADS is not None


@contextmanager
def single_threaded():
    """BLAS on one thread inside the block (the caller's workers share out the cores)."""
    if _SET_THREADS is None:
        yield
        return
    previous = _GET_THREADS()
    _SET_THREADS(1)
    try:
        yield
    finally:
        _SET_THREADS(previous)


def _fits(m: np.ndarray) -> bool:
    """A matrix BLAS can read in place: unit inner stride, rows at least a row apart."""
    return m.strides[1] == m.itemsize and m.strides[0] >= m.shape[1] * m.itemsize


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, beta: float = 0.0,
         transpose_a: bool = False) -> None:
    """``out = op(a) @ b + beta·out`` in place; op(a) = aᵀ with ``transpose_a``.

    a, b and out are 2-D, of one dtype (float32 or float64), each with a unit inner stride
    (row slices of C-contiguous arrays qualify).  With ``beta = 0`` the old contents of
    ``out`` are ignored, even NaN.
    """
    rows, inner = (a.shape[1], a.shape[0]) if transpose_a else a.shape
    cols = b.shape[1]
    fn = _GEMM.get(out.dtype)
    if fn is None or rows == 0 or cols == 0 or not (_fits(a) and _fits(b) and _fits(out)):
        product = np.matmul(a.T if transpose_a else a, b)
        if beta:
            out += product
        else:
            out[...] = product
        return
    size = out.itemsize
    fn(_ROW_MAJOR, _TRANS if transpose_a else _NO_TRANS, _NO_TRANS, rows, cols, inner, 1.0,
       a.ctypes.data, a.strides[0] // size, b.ctypes.data, b.strides[0] // size, beta,
       out.ctypes.data, out.strides[0] // size)
