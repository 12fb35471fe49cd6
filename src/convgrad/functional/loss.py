"""Loss functions: cross_entropy, nll_loss and mse_loss, with PyTorch's arguments and errors.

This module checks arguments (raising what PyTorch raises, with the numbers spelled out),
lays inputs out as (N, C, *d), and wraps the fused kernels of ``kernels/loss.py`` — where the
formulas and their gradients are written down — as single graph nodes.

Target conventions (as PyTorch):
  * class indices: an int64 (or uint8) tensor of shape (N,) for input (N, C), (N, d1, ...) for
    input (N, C, d1, ...), or () for an unbatched input (C,);
  * class probabilities (cross_entropy only): a floating tensor of the input's shape.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd import unbroadcast
from ..kernels import loss as _kernel
from ..tensor import Tensor, as_tensor, from_op

_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.uint8))


# ----------------------------------------------------------------------------- checks
def _check_reduction(reduction) -> None:
    if reduction not in _kernel.REDUCTIONS:
        raise ValueError(
            f"{reduction} is not a valid value for reduction (reduction={reduction!r}); "
            f"expected one of {', '.join(repr(r) for r in _kernel.REDUCTIONS)}"
        )


def _check_weight(weight, classes: int, dtype, name: str) -> None:
    if weight is None:
        return
    if weight.ndim != 1 or weight.shape[0] != classes:
        raise RuntimeError(
            f"{name}: weight tensor should be defined either for all {classes} classes or no "
            f"classes (shape ({classes},)), but got weight tensor of shape {tuple(weight.shape)}"
        )
    if weight.dtype != dtype:
        raise RuntimeError(
            f"{name}: weight has dtype {weight.dtype} but the input has dtype {dtype}: "
            f"expected scalar type {dtype}"
        )


def _check_index_target(input: Tensor, target: Tensor, name: str) -> None:
    """Shapes first, then dtype (PyTorch's order), for class-index targets."""
    if input.ndim == 0:
        raise ValueError(
            f"{name}: input must have at least 1 dimension (the classes), got a 0-d tensor "
            f"(Expected 1 or more dimensions (got 0))"
        )
    if input.ndim == 1:
        if target.ndim > 1:
            raise RuntimeError(
                f"{name}: for an unbatched input of shape {tuple(input.shape)} the target must "
                f"be a single class index (0D or 1D target tensor expected, multi-target not "
                f"supported), got target shape {tuple(target.shape)}"
            )
        if target.ndim == 1 and target.shape[0] != 1:
            raise ValueError(
                f"{name}: For 1D input, 1D target must have size 1, but got target size: "
                f"{target.shape[0]} (input shape {tuple(input.shape)})"
            )
    else:
        batch = target.shape[0] if target.ndim else 0
        if target.ndim == 0 or input.shape[0] != batch:
            raise ValueError(
                f"{name}: Expected input batch_size ({input.shape[0]}) to match target "
                f"batch_size ({batch}); input shape {tuple(input.shape)}, target shape "
                f"{tuple(target.shape)}"
            )
        expected = input.shape[:1] + input.shape[2:]
        if target.shape != expected:
            raise RuntimeError(
                f"{name}: Expected target size {list(expected)} (input shape "
                f"{tuple(input.shape)} without its class dim 1), got {list(target.shape)}"
                + (" (0D or 1D target tensor expected, multi-target not supported)"
                   if input.ndim == 2 else "")
            )
    if target.dtype not in _INDEX_DTYPES:
        raise RuntimeError(
            f"{name}: expected target dtype to be Long or Byte (class indices; int64 or uint8), "
            f"but got {target.dtype}"
            + (" — class probabilities must have the input's shape "
               f"{tuple(input.shape)}" if target.dtype.kind == "f" else "")
        )


def _check_target_range(target: np.ndarray, classes: int, ignore_index: int, name: str) -> None:
    bad = (target != ignore_index) & ((target < 0) | (target >= classes))
    if bad.any():
        value = int(target[bad].flat[0])
        raise IndexError(
            f"{name}: Target {value} is out of bounds: class indices must lie in "
            f"[0, {classes - 1}] for C = {classes} classes (or equal ignore_index={ignore_index})"
        )


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's promotion: the wider float; a float beats an integer; integers → float32."""
    if a.kind == "f" and b.kind == "f":
        return np.promote_types(a, b)
    if a.kind == "f" or b.kind == "f":
        return a if a.kind == "f" else b
    return np.dtype(np.float32)


def _per_position(g: np.ndarray, reduction: str, shape: tuple) -> np.ndarray:
    """The upstream gradient of an unreduced loss in the kernel's (N, *d) layout."""
    return g.reshape(shape) if reduction == "none" else g


def _as_batch(input: Tensor, target: Tensor):
    """(N, C, *d) scores and (N, *d) targets; an unbatched (C,) input becomes a batch of one."""
    if input.ndim == 1:
        return input.data[None], target.data.reshape(1), True
    return input.data, target.data, False


# ----------------------------------------------------------------------------- losses
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy over the class dim 1, fused with its log-softmax.

    ℓ_i = −Σ_c q_ic · log softmax(z_i)_c with q the (weighted, smoothed) target; the
    gradient is (Σ_c q_ic)·softmax(z_i) − q_i, i.e. softmax − onehot for plain index targets,
    divided by the 'mean' normaliser.  See ``kernels/loss.py`` for every case.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    input, target = as_tensor(input), as_tensor(target)
    if label_smoothing > 1.0:
        raise RuntimeError(
            f"cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}"
        )
    if label_smoothing < 0.0:
        # PyTorch only checks the upper bound and smooths only when ε > 0: a negative value
        # silently means no smoothing.  Keep that result, but say so.
        warnings.warn(
            f"cross_entropy: label_smoothing={label_smoothing} is negative; like PyTorch, "
            f"convgrad applies no smoothing (label_smoothing=0.0)", UserWarning, stacklevel=2,
        )
        label_smoothing = 0.0
    if input.ndim == 0:
        raise RuntimeError(
            "cross_entropy: input must have at least 1 dimension (the classes), got a 0-d "
            "tensor; expected shape (C,), (N, C) or (N, C, d1, ...)"
        )
    classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
    probabilities = target.shape == input.shape and target.dtype.kind == "f"
    if probabilities:
        return _cross_entropy_probabilities(input, target, weight, ignore_index, reduction,
                                            label_smoothing, classes)
    _check_index_target(input, target, "cross_entropy")
    _check_weight(weight, classes, input.dtype, "cross_entropy")
    z, y, unbatched = _as_batch(input, target)
    _check_target_range(y, classes, ignore_index, "cross_entropy")
    loss, cache = _kernel.cross_entropy_forward(
        z, y, None if weight is None else weight.data, ignore_index, reduction,
        float(label_smoothing))
    if unbatched and reduction == "none":
        loss = loss.reshape(())

    def backward(g):
        dz = _kernel.cross_entropy_backward(_per_position(g, reduction, cache.valid.shape), cache)
        return dz.reshape(input.shape), None

    # PyTorch's log_softmax + nll_loss save the log-probabilities (internal), target, weight.
    return from_op(loss, (input, target), backward, "CrossEntropyLossBackward0",
                   saved=(target, weight))


def _cross_entropy_probabilities(input, target, weight, ignore_index, reduction,
                                 label_smoothing, classes):
    if ignore_index != -100:
        raise RuntimeError(
            f"cross_entropy: ignore_index is not supported for floating point target "
            f"(class probabilities of shape {tuple(target.shape)}); got ignore_index="
            f"{ignore_index}; pass class indices (int64) to ignore a class"
        )
    _check_weight(weight, classes, input.dtype, "cross_entropy")
    if target.dtype != input.dtype:
        common = _promote(input.dtype, target.dtype)
        input, target = input.to(common), target.to(common)
        if weight is not None:
            weight = weight.to(common)
    unbatched = input.ndim == 1
    z = input.data[None] if unbatched else input.data
    t = target.data[None] if unbatched else target.data
    loss, cache = _kernel.cross_entropy_prob_forward(
        z, t, None if weight is None else weight.data, reduction, float(label_smoothing))
    if unbatched and reduction == "none":
        loss = loss.reshape(())

    def backward(g):
        positions = cache.log_probs.shape[:1] + cache.log_probs.shape[2:]
        dz, dt = _kernel.cross_entropy_prob_backward(_per_position(g, reduction, positions), cache,
                                                    target.requires_grad)
        return dz.reshape(input.shape), None if dt is None else dt.reshape(target.shape)

    return from_op(loss, (input, target), backward, "CrossEntropyLossBackward0",
                   saved=(target, weight))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities: ℓ_i = −w_{y_i} · input[i, y_i].

    ∂L/∂input is −w_{y_i}·g_i at the target class and 0 elsewhere; 'mean' divides by the
    summed weights of the non-ignored targets.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    input, target = as_tensor(input), as_tensor(target)
    _check_index_target(input, target, "nll_loss")
    classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
    _check_weight(weight, classes, input.dtype, "nll_loss")
    a, y, unbatched = _as_batch(input, target)
    _check_target_range(y, classes, ignore_index, "nll_loss")
    loss, cache = _kernel.nll_loss_forward(a, y, None if weight is None else weight.data,
                                           ignore_index, reduction)
    if unbatched and reduction == "none":
        loss = loss.reshape(())

    def backward(g):
        da = _kernel.nll_loss_backward(_per_position(g, reduction, cache.valid.shape), cache)
        return da.reshape(input.shape), None

    return from_op(loss, (input, target), backward, "NllLossBackward0",
                   saved=(input, target, weight))


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error: ℓ = v·(x − t)², reduced;  ∂L/∂x = 2·g·v·(x − t) = −∂L/∂t.

    Input and target broadcast against each other; when their shapes differ PyTorch warns
    (it is usually a mistake, e.g. (N, 1) against (N,)), and so does convgrad.  ``weight`` v
    must have the input's shape; with it, 'mean' is Σ v·(x − t)² / Σ v.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    input, target = as_tensor(input), as_tensor(target)
    if input.shape != target.shape:
        try:
            broadcast = np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise RuntimeError(
                f"mse_loss: The size of input {tuple(input.shape)} must match the size of "
                f"target {tuple(target.shape)}, or broadcast with it (they differ at a dim "
                f"where neither is 1)"
            ) from None
        warnings.warn(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}). This will likely lead to incorrect results due to "
            f"broadcasting (to {broadcast}). Please ensure they have the same size.",
            UserWarning, stacklevel=2,
        )
    if weight is not None and weight.shape != input.shape:
        raise ValueError(
            f"mse_loss: Weights and input must have the same size: weight has shape "
            f"{tuple(weight.shape)}, input {tuple(input.shape)}"
        )
    dtype = _promote(input.dtype, target.dtype)
    x, t = input.data.astype(dtype, copy=False), target.data.astype(dtype, copy=False)
    v = None if weight is None else weight.data.astype(dtype, copy=False)
    loss, cache = _kernel.mse_loss_forward(x, t, reduction, v)

    def backward(g):
        need_v = weight is not None and weight.requires_grad
        dx, dv = _kernel.mse_loss_backward(g, cache, need_v)
        return (unbroadcast(dx, input.shape) if input.requires_grad else None,
                unbroadcast(-dx, target.shape) if target.requires_grad else None,
                unbroadcast(dv, weight.shape) if need_v else None)

    return from_op(loss, (input, target, weight), backward, "MseLossBackward0")


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` flags, mapped to a reduction as there."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    legacy = "none" if not reduce else ("mean" if size_average else "sum")
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{legacy}' "
        f"instead.", UserWarning, stacklevel=3,
    )
    return legacy
