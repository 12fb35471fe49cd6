"""Reverse-mode automatic differentiation: grad mode, the graph, saved tensors, backward.

The graph is made of :class:`Node` objects, one per recorded operation (what a tensor's
``grad_fn`` is).  A node knows, for each input of its operation, where that input came from
— the node that made it, or the leaf tensor itself when the input is a leaf that requires
grad — and holds a ``backward`` closure: given ``∂L/∂out`` it returns ``∂L/∂input`` for each
input (``None`` where an input needs none).  :func:`run_backward` visits the graph once, in
reverse topological order, and adds every contribution into the gradient of the node or leaf
it belongs to — a tensor used twice receives the sum of both contributions, exactly like a
convolution weight reused at every position.

Saved tensors and versions.  A backward closure reads the values the forward saw (``w * x``
needs ``x`` for ``∂/∂w``).  Every tensor carries a :class:`VersionCounter`, shared with the
tensors that share its memory (views, ``detach()``), and every in-place operation bumps it.
A node records the version of each tensor its backward really reads; before running that
backward, :func:`run_backward` checks that none of them changed, and raises PyTorch's
RuntimeError if one did, instead of computing a gradient from overwritten values.

This module knows nothing of the Tensor class (``tensor.py`` builds on it): it sees tensors
only through ``requires_grad``, ``grad_fn``, ``_version_counter``, ``_accumulate_grad`` and
their array's shape and dtype.
The traversal is iterative (an explicit stack, no recursion), so a chain of 10,000
operations backpropagates without touching Python's recursion limit.
"""
from __future__ import annotations

import functools
import re
import threading

import numpy as np

_state = threading.local()


# ----------------------------------------------------------------------------- grad mode
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


# ----------------------------------------------------------------------------- the graph
class VersionCounter:
    """How many in-place operations have written to one tensor's memory (``t._version``).

    One counter is shared by a tensor and every tensor that shares its memory the way
    PyTorch shares it: views (reshape, permute, transpose, expand, basic indexing, ...) and
    ``detach()``.  Writing through any of them bumps the version all of them see.
    """

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Node:
    """One recorded operation: a tensor's ``grad_fn``.

    ``inputs``    per input of the operation: the Node that made it, the input itself when it
                  is a leaf that requires grad (its gradient goes to ``.grad``), or None
    ``backward``  ``g ↦ (∂L/∂input for each input)``; dropped after use unless retain_graph
    ``saved``     ``(counter, version, tensor)`` for every tensor the backward reads; tensor
                  is None for this node's own output (a node must not keep its output alive)
    ``shape``, ``dtype``  of the output (the gradient arriving here has them)
    ``retained``  a weak reference to the tensor that called ``retain_grad()``, or None
    """

    __slots__ = ("name", "inputs", "backward", "saved", "shape", "dtype", "retained")

    def __init__(self, name: str, inputs: tuple, backward, saved: tuple, shape: tuple, dtype):
        self.name = name
        self.inputs = inputs
        self.backward = backward
        self.saved = saved
        self.shape = shape
        self.dtype = dtype
        self.retained = None

    def __repr__(self) -> str:
        return f"<{self.name}>"


def increment_version(tensor) -> None:
    """Record an in-place write to ``tensor``'s memory made behind the operations' back
    (``torch.autograd.graph.increment_version``): an optimizer's NumPy update, say."""
    tensor._version_counter.value += 1


def graph_input(tensor):
    """What a node records for ``tensor`` as an input: its node, itself (a leaf that requires
    grad) or None (no gradient flows to it)."""
    if tensor is None or not tensor.requires_grad:
        return None
    return tensor.grad_fn or tensor


def save(tensor) -> tuple:
    """A saved-tensor record: ``tensor``'s version counter and the version it is at now."""
    counter = tensor._version_counter
    return counter, counter.value, tensor


_BACKWARD_SUFFIX = re.compile(r"Backward\d*$")


def _describe(tensor, node: Node) -> str:
    """PyTorch's ``[torch.FloatTensor [3]], which is output 0 of Add`` for a saved tensor."""
    if tensor is None:
        shape, dtype, maker = node.shape, node.dtype, node
    else:
        shape, dtype, maker = tensor.shape, tensor.dtype, tensor._grad_fn
    text = f"[{dtype} tensor of shape {list(shape)}]"
    if maker is not None:
        text += f", which is output 0 of {_BACKWARD_SUFFIX.sub('', maker.name)},"
    return text


def check_saved_versions(node: Node) -> None:
    """Raise PyTorch's RuntimeError if a tensor ``node`` saved was changed in place since."""
    for counter, version, tensor in node.saved:
        if counter.value != version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: {_describe(tensor, node)} is at version "
                f"{counter.value}; expected version {version} instead. {node.name} saved it "
                f"for its backward pass: make the in-place change after backward(), or "
                f"change a .clone() instead."
            )


# ----------------------------------------------------------------------------- backward
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
    """Nodes (and leaves) reachable from ``root``, each after every node that reads it."""
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
        if isinstance(node, Node):
            for parent in node.inputs:
                if parent is not None and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def _second_backward_error() -> RuntimeError:
    return RuntimeError(
        "Trying to backward through the graph a second time (or directly access saved "
        "tensors after they have already been freed). Saved intermediate values of the graph "
        "are freed when you call .backward(). Specify retain_graph=True if you need to "
        "backward through the graph a second time."
    )


def run_backward(root, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Backpropagate ``grad = ∂L/∂out`` from ``root`` (a Node, or a leaf tensor itself).

    Gradients of nodes live in a dictionary only until the node is processed; leaves (and
    tensors that called ``retain_grad()``) accumulate into ``.grad``.  Without
    ``retain_graph`` each node's closure is released after use, freeing the arrays it saved,
    and a second backward through the same graph raises as in PyTorch.
    """
    order = _topological_order(root)
    pending = {id(root): grad}
    for node in reversed(order):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        if not isinstance(node, Node):     # a leaf that requires grad
            node._accumulate_grad(g)
            continue
        if node.retained is not None and node.retained() is not None:
            node.retained()._accumulate_grad(g)
        if node.backward is None:
            raise _second_backward_error()
        check_saved_versions(node)
        input_grads = node.backward(g)
        if not retain_graph:
            node.backward = None
            node.saved = ()
        for parent, pg in zip(node.inputs, input_grads):
            if pg is None or parent is None:
                continue
            shape, dtype = ((parent.shape, parent.dtype) if isinstance(parent, Node)
                            else (parent.data.shape, parent.data.dtype))
            if pg.shape != shape:
                raise RuntimeError(
                    f"internal error: {node.name} returned a gradient of shape {pg.shape} for "
                    f"an input of shape {shape}"
                )
            if pg.dtype != dtype:
                pg = pg.astype(dtype)
            key = id(parent)
            pending[key] = pg if key not in pending else pending[key] + pg
