"""Reductions over dimensions: sum, mean, var, max/min and their arg versions."""
from __future__ import annotations

from collections import namedtuple

import math

import numpy as np

from ..tensor import Tensor, from_op, int64
from .arithmetic import maximum, minimum

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def normalize_dims(dim, ndim: int) -> tuple:
    """``dim`` (None, an int or a sequence, negatives allowed) as sorted non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    rank = max(ndim, 1)  # a 0-d tensor accepts dim 0 / -1, as in PyTorch
    out = []
    for d in dims:
        if not -rank <= d < rank:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], "
                f"but got {d})"
            )
        d = d % rank
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    return tuple(sorted(d for d in out if d < ndim))


def _expand_back(g: np.ndarray, shape: tuple, axes: tuple, keepdim: bool) -> np.ndarray:
    """Reinsert the reduced axes of ``g`` (as size 1) so it broadcasts against ``shape``."""
    if not keepdim:
        g = np.expand_dims(g, axes)
    return g


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """``Σ x`` over ``dim``;  every summed element receives the gradient g."""
    axes = normalize_dims(dim, x.ndim)
    out = np.sum(x.data, axis=axes, keepdims=keepdim)
    if out.dtype.kind in "biu":
        out = out.astype(int64)

    def backward(g):
        return (np.broadcast_to(_expand_back(g, x.shape, axes, keepdim), x.shape),)

    return from_op(np.asarray(out), (x,), backward, "SumBackward1", saved=())


def _mean(a: np.ndarray, axes: tuple, keepdims: bool, count: int) -> np.ndarray:
    """``np.mean``; a mean over no elements is NaN without NumPy's warning, as PyTorch's."""
    if count:
        return np.mean(a, axis=axes, keepdims=keepdims)
    with np.errstate(invalid="ignore"):
        return np.sum(a, axis=axes, keepdims=keepdims) / a.dtype.type(0)


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """``(1/n) Σ x`` over ``dim``;  every element receives g/n."""
    if x.dtype.kind != "f":
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {x.dtype}"
        )
    axes = normalize_dims(dim, x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    out = _mean(x.data, axes, keepdim, count)

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):   # count 0: nothing to reach
            share = _expand_back(g, x.shape, axes, keepdim) / count
        return (np.broadcast_to(share, x.shape),)

    return from_op(np.asarray(out, dtype=x.dtype), (x,), backward, "MeanBackward1", saved=())


def var(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """``Σ (x − x̄)² / (n − c)`` with correction c (1 by default: the unbiased estimate).

    ∂/∂x = g · 2(x − x̄)/(n − c)  (the x̄ term contributes nothing: Σ (x − x̄) = 0).
    """
    if unbiased is not None and correction is not None:
        raise RuntimeError("var: pass either unbiased or correction, not both")
    c = correction if correction is not None else (0 if unbiased is False else 1)
    axes = normalize_dims(dim, x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    centred = x.data - _mean(x.data, axes, True, count)
    denominator = max(count - c, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sum(centred * centred, axis=axes, keepdims=keepdim) / x.dtype.type(denominator)

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = x.dtype.type(2) / x.dtype.type(denominator)
            return (_expand_back(g, x.shape, axes, keepdim) * centred * scale,)

    return from_op(np.asarray(out, dtype=x.dtype), (x,), backward, "VarBackward0", saved=(x,))


def amax(x: Tensor, dim=(), keepdim: bool = False, largest: bool = True) -> Tensor:
    """``max``/``min`` over ``dim`` (all dims when empty); ties share the gradient evenly."""
    axes = normalize_dims(None if dim == () else dim, x.ndim)
    name = "amax" if largest else "amin"
    if x.data.size == 0:
        if dim == ():
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0, but "
                f"the input has shape {tuple(x.shape)}"
            )
        empty = [a for a in axes if x.shape[a] == 0]
        if empty:
            raise IndexError(
                f"{name}(): Expected reduction dim {empty[0]} to have non-zero size, but the "
                f"input has shape {tuple(x.shape)}"
            )
    reducer = np.max if largest else np.min
    out = reducer(x.data, axis=axes, keepdims=True)

    def backward(g):
        hit = (x.data == out) | (np.isnan(x.data) & np.isnan(out))
        share = hit / hit.sum(axis=axes, keepdims=True)
        return ((_expand_back(g, x.shape, axes, keepdim) * share).astype(x.dtype),)

    result = out if keepdim else np.squeeze(out, axis=axes)
    return from_op(np.asarray(result), (x,), backward,
                   "AmaxBackward0" if largest else "AminBackward0", saved=(x,), save_output=True)


def extreme(x: Tensor, dim=None, keepdim: bool = False, largest: bool = True):
    """``x.max()`` (a scalar, ties share the gradient) or ``x.max(dim)`` → (values, indices).

    With ``dim``, the gradient goes entirely to the returned index (the first extreme in
    scan order; NaN counts as the extreme), exactly as PyTorch.
    """
    if dim is None:
        return amax(x, (), False, largest)
    if isinstance(dim, Tensor):  # torch.max(a, b) is element-wise
        return maximum(x, dim) if largest else minimum(x, dim)
    (axis,) = normalize_dims(dim, x.ndim) or (0,)
    if x.ndim == 0:
        return ValuesIndices(x.clone(), Tensor._wrap(np.zeros((), dtype=int64)))
    if x.shape[axis] == 0:
        raise IndexError(
            f"{'max' if largest else 'min'}(): Expected reduction dim {axis} to have non-zero "
            f"size, but the input has shape {tuple(x.shape)}"
        )
    # NumPy's argmax/argmin already return the first NaN when there is one, as PyTorch does.
    indices = np.argmax(x.data, axis=axis) if largest else np.argmin(x.data, axis=axis)
    kept_indices = np.expand_dims(indices, axis)
    values = np.take_along_axis(x.data, kept_indices, axis=axis)

    def backward(g):
        grad = np.zeros_like(x.data)
        np.put_along_axis(grad, kept_indices, g if keepdim else np.expand_dims(g, axis), axis=axis)
        return (grad,)

    if keepdim:
        indices = kept_indices
    else:
        values = np.squeeze(values, axis)
    # Only the indices are saved (PyTorch's MaxBackward0 too): x may change in place after.
    out = from_op(values, (x,), backward, "MaxBackward0" if largest else "MinBackward0",
                  saved=())
    return ValuesIndices(out, Tensor._wrap(indices.astype(int64)))


def arg_extreme(x: Tensor, dim=None, keepdim: bool = False, largest: bool = True) -> Tensor:
    """Index of the first maximum (minimum); over the flattened tensor when ``dim`` is None."""
    if dim is None:
        if x.data.size == 0:
            raise IndexError(
                f"{'argmax' if largest else 'argmin'}(): Expected reduction dim to be "
                f"specified for input.numel() == 0 (the input has shape {tuple(x.shape)})"
            )
        flat = x.data.reshape(-1)
        index = np.argmax(flat) if largest else np.argmin(flat)
        shape = (1,) * x.ndim if keepdim else ()
        return Tensor._wrap(np.full(shape, index, dtype=int64))
    return extreme(x, dim, keepdim, largest).indices
