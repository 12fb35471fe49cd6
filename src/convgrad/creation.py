"""Functions that make new tensors: zeros, ones, full, arange, randn, rand, ..."""
from __future__ import annotations

import numpy as np

from .random import default_generator
from .tensor import Tensor, float32, int64


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _make(array: np.ndarray, requires_grad: bool) -> Tensor:
    out = Tensor._wrap(array)
    out.requires_grad = requires_grad
    return out


def zeros(*size, dtype=float32, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape(size), dtype=dtype), requires_grad)


def ones(*size, dtype=float32, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape(size), dtype=dtype), requires_grad)


def full(size, fill_value, dtype=float32, requires_grad: bool = False) -> Tensor:
    return _make(np.full(_shape((size,)), fill_value, dtype=dtype), requires_grad)


def empty(*size, dtype=float32, requires_grad: bool = False) -> Tensor:
    return _make(np.empty(_shape(size), dtype=dtype), requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(t.shape, dtype=dtype or t.dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = int64 if values.dtype.kind in "iu" else float32
    return _make(values.astype(dtype), requires_grad)


def randn(*size, dtype=float32, requires_grad: bool = False, generator=None) -> Tensor:
    """Samples of the standard normal distribution N(0, 1)."""
    rng = generator or default_generator()
    return _make(rng.standard_normal(_shape(size)).astype(dtype), requires_grad)


def rand(*size, dtype=float32, requires_grad: bool = False, generator=None) -> Tensor:
    """Samples of the uniform distribution on [0, 1)."""
    rng = generator or default_generator()
    return _make(rng.random(_shape(size)).astype(dtype), requires_grad)


def randint(low, high=None, size=(), generator=None) -> Tensor:
    if high is None:
        low, high = 0, low
    rng = generator or default_generator()
    return _make(rng.integers(low, high, size=_shape((size,))).astype(int64), False)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (dtype kept, as ``torch.from_numpy``)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor._wrap(array)
