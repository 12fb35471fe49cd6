"""Operations that move elements without changing them: reshape, permute, index, cat, stack.

Their backward rules move the gradient back the same way; indexing adds (``np.add.at``)
because an index may pick the same element twice, and each pick is a reuse.

Where PyTorch returns a view — reshape and flatten when the memory allows it, permute,
transpose, squeeze, unsqueeze, expand, and basic indexing (integers, slices, None, ...) —
so does convgrad (``tensor.view_of``): the result shares the input's memory and version
counter, and an in-place change through either shows in both.  Advanced indexing (lists,
arrays, tensors, booleans), ``cat``, ``stack`` and ``clone`` copy.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import unbroadcast
from ..tensor import Tensor, as_tensor, from_op, view_of


def shape_arg(args: tuple) -> tuple:
    """Accept both ``f(2, 3)`` and ``f((2, 3))`` as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _dim(d: int, ndim: int, name: str = "dim") -> int:
    rank = max(ndim, 1)
    if not -rank <= d < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], "
            f"but got {d})"
        )
    return d % rank


def clone(x: Tensor) -> Tensor:
    return from_op(x.data.copy(), (x,), lambda g: (g,), "CloneBackward0", saved=())


def reshape(x: Tensor, shape: tuple) -> Tensor:
    """The same elements in row-major order under a new shape (one dim may be −1)."""
    shape = tuple(int(s) for s in shape)
    try:
        out = x.data.reshape(shape)
    except ValueError:
        raise RuntimeError(
            f"shape '{list(shape)}' is invalid for input of size {x.data.size}"
        ) from None
    in_shape = x.shape

    def backward(g):
        return (g.reshape(in_shape),)

    if np.may_share_memory(out, x.data):      # NumPy, as PyTorch, copies only when it must
        return view_of(x, out, backward, "ViewBackward0", lambda a: a.reshape(shape))
    return from_op(out, (x,), backward, "UnsafeViewBackward0", saved=())


def permute(x: Tensor, dims: tuple) -> Tensor:
    """Axes reordered; the gradient is permuted back by the inverse permutation."""
    if len(dims) != x.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match "
            f"the length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} "
            f"is not equal to len(dims) = {len(dims)}"
        )
    dims = tuple(_dim(d, x.ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"permute(): duplicate dims are not allowed, got {dims}")
    inverse = tuple(np.argsort(dims))
    return view_of(x, x.data.transpose(dims), lambda g: (g.transpose(inverse),),
                   "PermuteBackward0", lambda a: a.transpose(dims))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    if x.ndim == 0:
        return x
    dims = list(range(x.ndim))
    a, b = _dim(dim0, x.ndim), _dim(dim1, x.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return permute(x, tuple(dims))


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dims ``start_dim..end_dim`` merged into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = _dim(start_dim, x.ndim), _dim(end_dim, x.ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    merged = math.prod(x.shape[start:end + 1])
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Size-1 dims removed (only ``dim``, and only if it has size 1, when given)."""
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = {_dim(d, x.ndim) for d in dims}
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1))
    return reshape(x, shape)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """A size-1 dim inserted at ``dim`` (which ranges over ``ndim + 1`` positions)."""
    if not -(x.ndim + 1) <= dim <= x.ndim:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-(x.ndim + 1)}, {x.ndim}], "
            f"but got {dim})"
        )
    dim = dim % (x.ndim + 1)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def expand(x: Tensor, sizes: tuple) -> Tensor:
    """``x`` broadcast to ``sizes`` (−1 keeps a size); the gradient sums over the copies.

    A view: the copies are the same memory (stride 0), so writing into it in place is
    refused where it would write one element twice (``ops/inplace.py``).
    """
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({x.ndim})"
        )
    target = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    try:
        strides = np.broadcast_to(x.data, target).strides
    except ValueError:
        raise RuntimeError(
            f"expand: the expanded size {list(target)} is not compatible with the tensor's "
            f"shape {list(x.shape)} (only size-1 dims can grow)"
        ) from None
    # as_strided, not broadcast_to's read-only array: an expand that repeats nothing may be
    # written to in place, as in PyTorch.
    out = np.lib.stride_tricks.as_strided(x.data, target, strides,
                                          writeable=x.data.flags.writeable)
    in_shape = x.shape
    return view_of(x, out, lambda g: (unbroadcast(g, in_shape),), "ExpandBackward0",
                   lambda a: np.broadcast_to(a, target))


def _numpy_index(index):
    """Translate Tensors inside an index into NumPy arrays; report advanced indexing."""
    items = index if isinstance(index, tuple) else (index,)
    converted, advanced = [], False
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        if isinstance(item, (list, np.ndarray, bool, np.bool_)):
            advanced = True
        converted.append(item)
    if not advanced and not any(item is Ellipsis for item in converted):
        # A trailing `...` makes x[0, 1] a 0-d view, not a NumPy scalar (a copy).
        converted.append(Ellipsis)
    return tuple(converted), advanced


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with NumPy/PyTorch indexing rules: a view for basic indexing.

    Backward scatters g back into a zero array; with integer-array indexing the same
    element may be picked twice, so contributions are added with ``np.add.at``.
    """
    np_index, advanced = _numpy_index(index)
    try:
        out = x.data[np_index]
    except IndexError as error:
        raise IndexError(f"{error} (tensor shape {tuple(x.shape)})") from None
    shape, dtype = x.shape, x.dtype

    def backward(g):
        grad = np.zeros(shape, dtype=dtype)
        if advanced:
            np.add.at(grad, np_index, g)
        else:
            grad[np_index] = g
        return (grad,)

    if not advanced and np.may_share_memory(out, x.data):
        name = ("SliceBackward0" if any(isinstance(i, slice) for i in np_index)
                else "SelectBackward0")
        return view_of(x, out, backward, name, lambda a: a[np_index])
    return from_op(np.asarray(out), (x,), backward, "IndexBackward0", saved=())


def cat(tensors, dim: int = 0) -> Tensor:
    """Tensors joined along an existing dim; each gets back its own slice of the gradient.

    As PyTorch (a legacy rule), a 1-D empty tensor, shape (0,), joins tensors of any shape:
    it is skipped.
    """
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    kept = [t.shape != (0,) for t in tensors]
    if not any(kept):
        kept = [True] * len(tensors)
    joined = [(i, t) for i, t in enumerate(tensors) if kept[i]]
    first = joined[0][1]
    axis = _dim(dim, first.ndim)
    for i, t in joined:
        if t.ndim != first.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {first.ndim} and "
                f"{t.ndim} (tensor {joined[0][0]} and tensor {i})"
            )
        for d in range(t.ndim):
            if d != axis and t.shape[d] != first.shape[d]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {axis}. Expected size "
                    f"{first.shape[d]} but got size {t.shape[d]} for tensor number {i} "
                    f"in the list."
                )
    out = np.concatenate([t.data for _, t in joined], axis=axis)
    bounds = np.cumsum([t.shape[axis] for _, t in joined])[:-1]

    def backward(g):
        pieces = iter(np.split(g, bounds, axis=axis))
        return tuple(next(pieces) if keep else np.zeros((0,), dtype=g.dtype) for keep in kept)

    return from_op(out, tuple(tensors), backward, "CatBackward0", saved=())


def stack(tensors, dim: int = 0) -> Tensor:
    """Tensors of one shape joined along a new dim."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} "
                f"at entry 0 and {list(t.shape)} at entry {i}"
            )
    ndim = tensors[0].ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
            f"but got {dim})"
        )
    return cat([unsqueeze(t, dim % ndim) for t in tensors], dim % ndim)
