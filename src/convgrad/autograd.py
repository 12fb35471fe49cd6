"""Reverse-mode automatic differentiation: grad mode, graph nodes and the backward pass.

Every differentiable operation produces its output with :func:`from_op`, handing over the
input tensors it read (``parents``) and a ``backward`` closure.  Given ``∂L/∂out`` the
closure returns ``∂L/∂parent`` for each parent (or ``None`` where a parent needs none).
:func:`run_backward` visits the graph once, in reverse topological order, and adds every
contribution into the gradient of the tensor it belongs to — a tensor used twice receives
the sum of both contributions, exactly like a convolution weight reused at every position.

The traversal is iterative (an explicit stack, no recursion), so a chain of 10,000
operations backpropagates without touching Python's recursion limit.
"""
from __future__ import annotations

import functools
import threading

import numpy as np

_state = threading.local()


def is_grad_enabled() -> bool:
    """True unless inside :class:`no_grad` (as ``torch.is_grad_enabled``)."""
    return getattr(_state, "enabled", True)


def set_grad_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)


class _GradMode:
    """Context manager and decorator that sets grad mode and restores the previous one."""

    mode = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._previous)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Operations inside record no graph: outputs have ``requires_grad=False``."""

    mode = False


class enable_grad(_GradMode):
    """Re-enables graph recording inside a :class:`no_grad` block."""

    mode = True


class GradFn:
    """What ``Tensor.grad_fn`` shows: the name of the operation that made a tensor."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


def from_op(data: np.ndarray, parents: tuple, backward, name: str):
    """Wrap ``data`` as the output of an operation on ``parents``.

    The graph edge is recorded only when grad mode is on and some parent requires a
    gradient; otherwise ``backward`` (and whatever arrays it closed over) is dropped at once.
    ``parents`` may contain ``None`` for optional inputs (a conv without bias, say).
    """
    from .tensor import Tensor

    out = Tensor._wrap(data)
    if is_grad_enabled() and any(p is not None and p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents = parents
        out._backward = backward
        out._grad_fn = GradFn(name)
        for parent in parents:
            if parent is not None:
                # Its values may be saved for backward: an in-place op must not overwrite it
                # (PyTorch's version counters catch this; this flag is convgrad's cheap stand-in).
                parent._in_graph = True
    return out


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing NumPy/PyTorch broadcasting.

    Broadcasting copies an input along new leading axes and along axes of size 1; each copy
    is a reuse, so the gradient of the input is the sum over those axes.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def clear_grads(tensors, set_to_none: bool = True) -> None:
    """Forget accumulated gradients: drop ``.grad`` (PyTorch's default) or fill it with 0."""
    for tensor in tensors:
        if tensor.grad is None:
            continue
        if set_to_none:
            tensor.grad = None
        else:
            tensor.grad.data[...] = 0


def _topological_order(root) -> list:
    """Tensors reachable from ``root`` that require grad, each after all of its parents."""
    # Post-order DFS.  A node is marked visited when it is expanded, not when it is pushed:
    # a tensor reached by two paths (h used by both `h + f(h)`'s operands) must be appended
    # only after every node that reads it, or its gradient is consumed before it is complete.
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent is not None and parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order


def _accumulate_into_grad(tensor, grad: np.ndarray) -> None:
    """``tensor.grad += grad``, creating ``.grad`` on first use (as PyTorch leaves do)."""
    from .tensor import Tensor

    grad = np.asarray(grad, dtype=tensor.data.dtype)
    if tensor.grad is None:
        # Copy: the array may be shared with another tensor's gradient (an addition hands the
        # same upstream gradient to both of its inputs), and later `+=` must not leak across.
        tensor.grad = Tensor._wrap(np.array(grad, copy=True))
    else:
        tensor.grad.data += grad


def run_backward(root, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Backpropagate ``grad = ∂L/∂root`` through the graph that produced ``root``.

    Gradients of intermediate tensors live in a dictionary only until their node is
    processed; leaves (and tensors that called ``retain_grad()``) accumulate into ``.grad``.
    Without ``retain_graph`` each node's closure is released after use, freeing the arrays
    it saved, and a second backward through the same graph raises as in PyTorch.
    """
    order = _topological_order(root)
    pending = {id(root): grad}
    for node in reversed(order):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        if node._retains_grad or not node._parents:
            _accumulate_into_grad(node, g)
        if not node._parents:
            continue
        if node._backward is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access "
                "saved tensors after they have already been freed). Saved intermediate values "
                "of the graph are freed when you call .backward(). Specify retain_graph=True "
                "if you need to backward through the graph a second time."
            )
        parent_grads = node._backward(g)
        if not retain_graph:
            node._backward = None
        for parent, pg in zip(node._parents, parent_grads):
            if pg is None or parent is None or not parent.requires_grad:
                continue
            if pg.shape != parent.data.shape:
                raise RuntimeError(
                    f"internal error: {node._grad_fn.name} returned a gradient of shape "
                    f"{pg.shape} for an input of shape {parent.data.shape}"
                )
            if pg.dtype != parent.data.dtype:
                pg = pg.astype(parent.data.dtype)
            key = id(parent)
            pending[key] = pg if key not in pending else pending[key] + pg
