"""In-place operations — ``x.add_(y)``, ``x += y``, ``x[i] = v``, ``F.relu(x, inplace=True)``
— with PyTorch's autograd rules.

Each in-place operation is its out-of-place twin followed by a commit:

    result = op(before, ...)     an ordinary recorded operation on x's current values
    commit(x, result)            result's values written into x's memory, x's version + 1,
                                 and x becomes the output of result's node

so x's history is rebased onto the new node, whose input is x's old node: every gradient
flows through the values x really had at each step.  When the new node's backward reads x's
old values (``x.mul_(w)``: ∂/∂w is g·x_old), they are copied before x is overwritten, as
PyTorch saves a clone.

The rules, PyTorch's (checked against it in tests/test_inplace.py):

* with grad enabled, a leaf that requires grad refuses, and so does a view of one; under
  ``no_grad`` both are written (that is how ``nn.init`` and optimizers work);
* writing through a view rebases the view's base (``CopySlices``): the base now holds the
  new values at the view's positions, whose gradient flows to the in-place operation, the
  other positions' to the base's old history;
* a view made under ``no_grad`` cannot be written with grad enabled when a gradient is
  involved, and a view whose elements overlap (an ``expand``) cannot be written at all;
* the result must fit: the tensor's shape after broadcasting, a dtype the tensor can hold
  (no float result into an integer tensor).

Every write bumps the version counter that the tensor shares with its views; a backward
that saved one of them then refuses to run (``autograd.check_saved_versions``).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Node, graph_input, increment_version, is_grad_enabled, unbroadcast
from ..tensor import Tensor, as_tensor, from_op, view_node
from . import arithmetic, unary
from .shape import _numpy_index, getitem

# PyTorch's names for dtypes in its casting error.
_TORCH_NAMES = {"f": "Float", "i": "Long", "u": "Byte", "b": "Bool"}


def apply(target: Tensor, name: str, op, *args) -> Tensor:
    """``target ← op(target, *args)`` in place (see the module docstring); returns target."""
    before = Tensor._wrap(target.data)          # target's values and place in the graph,
    if is_grad_enabled() and target.requires_grad:   # with a version counter of its own
        before._grad_fn, before._requires_grad = target.grad_fn, True
    return commit(target, before, op(before, *args), name)


def commit(target: Tensor, before: Tensor, result: Tensor, name: str) -> Tensor:
    """Write ``result`` (computed from ``before``, target's values) into ``target``."""
    if result.shape != target.shape:
        raise RuntimeError(
            f"{name}: output with shape {list(target.shape)} doesn't match the broadcast "
            f"shape {list(result.shape)}: an in-place result must have the tensor's shape"
        )
    produced, produced_counter = result._grad_fn, result._version_counter
    if result.dtype != target.dtype:
        if not _can_cast(result.dtype, target.dtype):
            raise RuntimeError(
                f"{name}: result type {_TORCH_NAMES[result.dtype.kind]} can't be cast to the "
                f"desired output type {_TORCH_NAMES[target.dtype.kind]} (a {result.dtype} "
                f"result into a {target.dtype} tensor)"
            )
        result = unary.cast(result, target.dtype)
    node = result._grad_fn
    if is_grad_enabled():
        _check_may_record(target, node, name)
    if any(stride == 0 and size > 1 for stride, size in zip(target.data.strides, target.shape)):
        raise RuntimeError(
            f"unsupported operation: more than one element of the written-to tensor refers to "
            f"a single memory location ({name} on an expanded tensor of shape "
            f"{tuple(target.shape)}). Please clone() the tensor before performing the operation."
        )
    if produced is not None and any(c is before._version_counter for c, _, _ in produced.saved):
        before.data = before.data.copy()         # the backward reads the old values
    np.copyto(target.data, result.data)
    increment_version(target)
    if node is not None:
        # A backward that reads the operation's result now reads target, at its new version.
        counter = target._version_counter
        produced.saved = tuple((counter, counter.value, None) if c is produced_counter
                               else (c, v, t) for c, v, t in produced.saved)
        _record(target, node)
    return target


def _can_cast(source: np.dtype, destination: np.dtype) -> bool:
    """PyTorch's ``canCast``: never float → integer or bool, nor integer → bool."""
    order = "biuf"
    return order.index(source.kind if source.kind != "u" else "i") <= \
        order.index(destination.kind if destination.kind != "u" else "i")


def _check_may_record(target: Tensor, node, name: str) -> None:
    """PyTorch's refusals for an in-place operation with grad enabled."""
    view = target._view
    where = f"({name} on a tensor of shape {tuple(target.shape)})"
    if view is None:
        if target._requires_grad and target._grad_fn is None:
            raise RuntimeError(
                f"a leaf Variable that requires grad is being used in an in-place operation "
                f"{where}; wrap it in convgrad.no_grad() or use the out-of-place operation"
            )
    elif not view.tracked:
        if node is not None or view.base.requires_grad:
            raise RuntimeError(
                f"A view was created in no_grad mode and is being modified inplace with grad "
                f"mode enabled {where}. Given that this use case is ambiguous and "
                f"error-prone, it is forbidden. Make the view and the in-place change both "
                f"inside the no_grad block or both outside."
            )
    elif view.base.requires_grad and view.base.grad_fn is None:
        raise RuntimeError(
            f"a view of a leaf Variable that requires grad is being used in an in-place "
            f"operation {where}; wrap it in convgrad.no_grad() or change a clone()"
        )


def _record(target: Tensor, node: Node) -> None:
    """Make ``target`` the output of ``node`` (or, for a view, its base the output of a
    CopySlices node that puts ``node``'s output at the view's positions)."""
    view = target._view
    if view is None:
        _move_retained(target, node)
        target._grad_fn, target._requires_grad = node, True
        return
    base, positions = view.base, view.positions()
    flat = positions.ravel()

    def copy_slices_backward(g):
        """∂L/∂base_old = g except at the view's positions; ∂L/∂result = g there."""
        grad = np.array(g, order="C")
        region = grad.reshape(-1)[flat].reshape(positions.shape)
        grad.reshape(-1)[flat] = 0
        return grad, region

    copy_slices = Node("CopySlices", (graph_input(base), node), copy_slices_backward, (),
                       base.shape, base.dtype)
    _move_retained(base, copy_slices)
    base._grad_fn, base._requires_grad = copy_slices, True
    new_view_node = view_node(base, positions, target.data)
    _move_retained(target, new_view_node)
    target._grad_fn, target._requires_grad = new_view_node, True
    view.stamp = target._version_counter.value


def _move_retained(tensor: Tensor, node: Node) -> None:
    """A tensor that called ``retain_grad()`` keeps its gradient across an in-place change:
    the gradient of its new value, as PyTorch."""
    old = tensor._grad_fn
    if old is not None and old.retained is not None and old.retained() is tensor:
        node.retained, old.retained = old.retained, None


# ----------------------------------------------------------------------------- out-of-place twins
def filled(x: Tensor, value) -> Tensor:
    """x's shape and dtype filled with ``value`` (a number or a 0-d tensor).
    ∂/∂x = 0;  ∂/∂value = Σ g."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value.ndim} dimensions (shape {tuple(value.shape)})"
            )
        out = np.full(x.shape, value.data, dtype=x.dtype)
        return from_op(out, (x, value), lambda g: (np.zeros_like(g), g.sum()),
                       "FillBackward3", saved=())
    return from_op(np.full(x.shape, value, dtype=x.dtype), (x,),
                   lambda g: (np.zeros_like(g),), "ZeroBackward0" if value == 0
                   else "FillBackward2", saved=())


def copied(x: Tensor, src) -> Tensor:
    """``src`` broadcast to x's shape in x's dtype (``copy_`` casts freely, as PyTorch).
    ∂/∂x = 0;  ∂/∂src = g summed over the broadcast axes."""
    src = as_tensor(src)
    values = np.broadcast_to(src.data, arithmetic.broadcast_shape(x.shape, src.shape))
    src_shape = src.shape
    return from_op(values.astype(x.dtype), (x, src),
                   lambda g: (np.zeros_like(g), unbroadcast(g, src_shape)), "CopyBackwards",
                   saved=())


def index_put(x: Tensor, np_index: tuple, value) -> Tensor:
    """x with ``x[np_index] = value`` (advanced indexing).
    ∂/∂x = g with the written positions zeroed;  ∂/∂value = g at those positions."""
    value = as_tensor(value, like=x)
    out = x.data.copy()
    try:
        out[np_index] = value.data
    except ValueError:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast to "
            f"indexing result of shape {list(out[np_index].shape)} (tensor shape "
            f"{tuple(x.shape)})"
        ) from None
    value_shape = value.shape

    def backward(g):
        grad = np.array(g, copy=True)
        grad[np_index] = 0
        return grad, unbroadcast(np.asarray(g[np_index]), value_shape)

    return from_op(out, (x, value), backward, "IndexPutBackward0", saved=())


# ----------------------------------------------------------------------------- the operations
def _scaled(other, alpha):
    return other if alpha == 1 else arithmetic.mul(other, alpha)


def add_(x: Tensor, other, *, alpha=1) -> Tensor:
    """``x ← x + alpha·other``."""
    return apply(x, "add_", arithmetic.add, _scaled(other, alpha))


def sub_(x: Tensor, other, *, alpha=1) -> Tensor:
    """``x ← x − alpha·other``."""
    return apply(x, "sub_", arithmetic.sub, _scaled(other, alpha))


def mul_(x: Tensor, other) -> Tensor:
    return apply(x, "mul_", arithmetic.mul, other)


def div_(x: Tensor, other) -> Tensor:
    return apply(x, "div_", arithmetic.div, other)


def pow_(x: Tensor, exponent) -> Tensor:
    return apply(x, "pow_", arithmetic.pow, exponent)


def clamp_(x: Tensor, min=None, max=None) -> Tensor:
    return apply(x, "clamp_", unary.clamp, min, max)


def neg_(x: Tensor) -> Tensor:
    return apply(x, "neg_", unary.neg)


def relu_(x: Tensor) -> Tensor:
    return apply(x, "relu_", unary.relu)


def sigmoid_(x: Tensor) -> Tensor:
    return apply(x, "sigmoid_", unary.sigmoid)


def tanh_(x: Tensor) -> Tensor:
    return apply(x, "tanh_", unary.tanh)


def fill_(x: Tensor, value) -> Tensor:
    return apply(x, "fill_", filled, value)


def zero_(x: Tensor) -> Tensor:
    return apply(x, "zero_", filled, 0)


def copy_(x: Tensor, src) -> Tensor:
    """``x ← src`` (broadcast to x's shape, cast to x's dtype)."""
    return apply(x, "copy_", copied, src)


def setitem(x: Tensor, index, value) -> None:
    """``x[index] = value``: basic indexing copies into the view ``x[index]`` (so x's history
    is rebased through CopySlices, as PyTorch); advanced indexing is ``index_put_``."""
    np_index, advanced = _numpy_index(index)
    if not advanced:
        copy_(getitem(x, index), value)
    else:
        apply(x, "index_put_", index_put, np_index, value)
