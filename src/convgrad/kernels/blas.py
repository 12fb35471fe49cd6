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

:func:`gemm` computes ``out = op(a)·op(b) + β·out`` for 2-D arrays in row-major layout
(unit inner stride).  When the library or symbol cannot be found (NumPy built against
another BLAS), it falls back to ``np.matmul`` plus an addition: the same numbers, slower.

:func:`one_thread` keeps OpenBLAS on one thread while convgrad's own worker threads share
out a product, and puts the process's thread count back afterwards: importing or running
convgrad leaves how the rest of the process multiplies unchanged.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
import threading

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
_SET_THREADS = _symbol(_LIB, ["scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                              "openblas_set_num_threads"]) if _LIB else None
_GET_THREADS = _symbol(_LIB, ["scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                              "openblas_get_num_threads"]) if _LIB else None
if _SET_THREADS is not None and _GET_THREADS is not None:
    _SET_THREADS.argtypes, _SET_THREADS.restype = [ctypes.c_int], None
    _GET_THREADS.argtypes, _GET_THREADS.restype = [], ctypes.c_int
else:
    _SET_THREADS = _GET_THREADS = None    # a count we cannot read we could not put back


_CORE_NAME = _symbol(_LIB, ["scipy_openblas_get_corename64_", "openblas_get_corename64_",
                            "openblas_get_corename"]) if _LIB else None
if _CORE_NAME is not None:
    _CORE_NAME.argtypes, _CORE_NAME.restype = [], ctypes.c_char_p


@functools.cache
def core_name() -> str:
    """The kernel family NumPy's OpenBLAS runs on this CPU ("SkylakeX", "Haswell", …), or ""."""
    return _CORE_NAME().decode("ascii", "replace") if _CORE_NAME is not None else ""


# OpenBLAS's AVX-512 cores multiply a float32 product of at most 100³ multiply-adds with
# "small-matrix" kernels that read the operands in place instead of packing them first.
_SMALL_PRODUCT_CORES = ("skylakex", "cooperlake", "sapphirerapids")
_SMALL_PRODUCT_MACS = 100 ** 3
# With fewer rows than this per block, the calls' own cost outweighs what the kernel saves
# (64 channels, 244 rows: 14.0 ps per multiply-add, against 12.3 for one big product).
_SMALL_PRODUCT_MIN_ROWS = 512


def small_product_rows(dtype, cols: int, inner: int) -> int | None:
    """Rows per block that keep a tall ``(rows × inner)·(inner × cols)`` product — or a
    weight gradient's ``(rows × inner)ᵀ·(rows × cols)``, whose long dimension is the sum — on
    OpenBLAS's small-matrix kernels; None where cutting it does not pay.

    Those kernels take a product of at most 100³ multiply-adds on the AVX-512 cores, float32
    only.  A convolution's per-tap products are thin (16–64 channels) and tens of thousands
    of rows tall, so OpenBLAS would pack them; cut into blocks just under the bound they run
    19–34 % faster (``cblas_sgemm``, one thread, SkylakeX kernel, picoseconds per multiply-add
    just over → just under the bound: 16 channels 25.3 → 18.6, 32 channels 18.7 → 15.2, a
    32-channel weight gradient 23.2 → 15.2).  On other cores (Haswell's, say) there is no
    such bound and blocks would only add calls.
    """
    if (np.dtype(dtype) != np.float32 or cols * inner == 0
            or core_name().lower() not in _SMALL_PRODUCT_CORES):
        return None
    rows = _SMALL_PRODUCT_MACS // (cols * inner)
    return rows if rows >= _SMALL_PRODUCT_MIN_ROWS else None


def can_control_threads() -> bool:
    """Whether OpenBLAS's thread count can be read and set (NumPy's OpenBLAS was found)."""
    return _SET_THREADS is not None


def thread_count() -> int | None:
    """How many threads OpenBLAS uses for a product now (None: not NumPy's OpenBLAS)."""
    return _GET_THREADS() if _GET_THREADS is not None else None


class _OneThread:
    """The context manager behind :func:`one_thread` (a class: it is entered for every
    product a kernel splits, so it must cost next to nothing)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = 0          # blocks inside, across threads
        self.before = None      # the count to put back when the last one leaves

    def __enter__(self):
        with self.lock:
            if self.users == 0:
                self.before = _GET_THREADS()
                if self.before != 1:
                    _SET_THREADS(1)
            self.users += 1

    def __exit__(self, *exc):
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.before != 1:
                _SET_THREADS(self.before)
        return False


_ONE_THREAD = _OneThread()


def one_thread():
    """OpenBLAS on one thread while the ``with`` block runs; its previous count restored after.

    convgrad's worker threads (``parallel.py``) share out the cores themselves; OpenBLAS's
    own helper threads, which spin for a while after every product they join, would only
    compete with them (measured: a ResNet-20 step took 260 ms with them, 200 ms without).
    OpenBLAS's count is one number for the whole process, so it is lowered only while a
    kernel runs: the first block to enter saves it, the last to leave puts it back (blocks
    may overlap when several Python threads run kernels at once).
    """
    return _ONE_THREAD if _SET_THREADS is not None else contextlib.nullcontext()


def _fits(m: np.ndarray) -> bool:
    """A matrix BLAS can read in place: unit inner stride, rows at least a row apart."""
    return m.strides[1] == m.itemsize and m.strides[0] >= m.shape[1] * m.itemsize


def raw_gemm(dtype: np.dtype):
    """The bare ``cblas_?gemm`` for ``dtype`` (or None), for loops that issue many small
    products on known-good buffers and compute the addresses themselves.

    Called as ``fn(101, trans_a, trans_b, m, n, k, 1.0, a_address, lda, b_address, ldb,
    beta, c_address, ldc)`` with row-major leading dimensions in elements; ``NO_TRANS`` /
    ``TRANS`` below name the flags.
    """
    return _GEMM.get(np.dtype(dtype))


NO_TRANS, TRANS, ROW_MAJOR = _NO_TRANS, _TRANS, _ROW_MAJOR


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, beta: float = 0.0,
         transpose_a: bool = False, transpose_b: bool = False) -> None:
    """``out = op(a) @ op(b) + beta·out`` in place; op(m) = mᵀ when asked.

    a, b and out are 2-D, each with a unit inner stride (row slices and column blocks of
    C-contiguous arrays qualify).  With ``beta = 0`` the old contents of ``out`` are ignored,
    even NaN.  Other layouts or dtypes go through ``np.matmul`` (same numbers, slower).
    """
    rows, inner = (a.shape[1], a.shape[0]) if transpose_a else a.shape
    cols = b.shape[0] if transpose_b else b.shape[1]
    fn = _GEMM.get(out.dtype)
    if (fn is None or rows == 0 or cols == 0 or not a.dtype == b.dtype == out.dtype
            or not (_fits(a) and _fits(b) and _fits(out))):
        product = np.matmul(a.T if transpose_a else a, b.T if transpose_b else b)
        if beta:
            out += product
        else:
            out[...] = product
        return
    size = out.itemsize
    fn(_ROW_MAJOR, _TRANS if transpose_a else _NO_TRANS, _TRANS if transpose_b else _NO_TRANS,
       rows, cols, inner, 1.0, a.ctypes.data, a.strides[0] // size, b.ctypes.data,
       b.strides[0] // size, beta, out.ctypes.data, out.strides[0] // size)
