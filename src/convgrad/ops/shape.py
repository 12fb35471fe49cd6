"""Operations that move elements without changing them: reshape, permute, index, cat, stack.

Their backward rules move the gradient back the same way; indexing adds (``np.add.at``)
because an index may pick the same element twice, and each pick is a reuse.
"""
from __future__ import annotations

import numpy as np

from ..autograd import from_op
from ..tensor import Tensor, as_tensor


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
    return from_op(x.data.copy(), (x,), lambda g: (g,), "CloneBackward0")


def reshape(x: Tensor, shape: tuple) -> Tensor:
    """The same elements in row-major order under a new shape (one dim may be −1)."""
    shape = tuple(int(s) for s in shape)
    try:
        out = x.data.reshape(shape)
    except ValueError:
        raise RuntimeError(
            f"shape '{list(shape)}' is invalid for input of size {x.data.size}"
        ) from None
    return from_op(out, (x,), lambda g: (g.reshape(x.shape),), "ViewBackward0")


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
    return from_op(x.data.transpose(dims), (x,), lambda g: (g.transpose(inverse),),
                   "PermuteBackward0")


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
    merged = int(np.prod(x.shape[start:end + 1]))
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
    """``x`` broadcast to ``sizes`` (−1 keeps a size); the gradient sums over the copies."""
    from ..autograd import unbroadcast

    lead = len(sizes) - x.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({x.ndim})"
        )
    target = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    try:
        out = np.broadcast_to(x.data, target)
    except ValueError:
        raise RuntimeError(
            f"expand: the expanded size {list(target)} is not compatible with the tensor's "
            f"shape {list(x.shape)} (only size-1 dims can grow)"
        ) from None
    return from_op(out, (x,), lambda g: (unbroadcast(g, x.shape),), "ExpandBackward0")


def _numpy_index(index):
    """Translate Tensors inside an index into NumPy arrays; report advanced indexing."""
    items = index if isinstance(index, tuple) else (index,)
    converted, advanced = [], False
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        if isinstance(item, (list, np.ndarray)):
            advanced = True
        converted.append(item)
    return tuple(converted), advanced


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with NumPy/PyTorch indexing rules.

    Backward scatters g back into a zero array; with integer-array indexing the same
    element may be picked twice, so contributions are added with ``np.add.at``.
    """
    np_index, advanced = _numpy_index(index)
    try:
        out = x.data[np_index]
    except IndexError as error:
        raise IndexError(f"{error} (tensor shape {tuple(x.shape)})") from None

    def backward(g):
        grad = np.zeros_like(x.data)
        if advanced:
            np.add.at(grad, np_index, g)
        else:
            grad[np_index] = g
        return (grad,)

    # Basic indexing gives a view; copy so later in-place changes to x don't alter `out`.
    out = np.array(out, copy=True) if not advanced else out
    return from_op(np.asarray(out), (x,), backward, "IndexBackward0")


def cat(tensors, dim: int = 0) -> Tensor:
    """Tensors joined along an existing dim; each gets back its own slice of the gradient."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    axis = _dim(dim, tensors[0].ndim)
    for i, t in enumerate(tensors):
        if t.ndim != tensors[0].ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {tensors[0].ndim} and "
                f"{t.ndim} (tensor 0 and tensor {i})"
            )
        for d in range(t.ndim):
            if d != axis and t.shape[d] != tensors[0].shape[d]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {axis}. Expected size "
                    f"{tensors[0].shape[d]} but got size {t.shape[d]} for tensor number {i} "
                    f"in the list."
                )
    out = np.concatenate([t.data for t in tensors], axis=axis)
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(g):
        return tuple(np.split(g, bounds, axis=axis))

    return from_op(out, tuple(tensors), backward, "CatBackward0")


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
