"""Module hooks, as PyTorch's: a module call with forward pre-hooks, forward hooks and full
backward hooks (``Module.register_forward_pre_hook``, ``register_forward_hook``,
``register_full_backward_hook``, ``register_full_backward_pre_hook``).

A call of a module with hooks (:func:`call_with_hooks`) runs, in PyTorch's order:

1. each forward pre-hook ``hook(module, args)`` (``with_kwargs``: ``hook(module, args,
   kwargs)``); a non-None return replaces the arguments (a value that is not a tuple becomes a
   1-tuple; with kwargs it must be an ``(args, kwargs)`` pair);
2. with backward hooks, the tensor arguments are passed through one identity node
   (:class:`BackwardHook`), so that their gradients arrive together;
3. ``forward``;
4. each forward hook ``hook(module, args, output)`` (``with_kwargs``: ``hook(module, args,
   kwargs, output)``); a non-None return replaces the output.  A hook registered with
   ``always_call`` runs even when forward raised (its own error is then a warning);
5. with backward hooks, the output tensors are passed through a second identity node.

In the backward pass, the output node receives ``grad_output`` (each backward pre-hook
``hook(module, grad_output)`` may replace it), and the input node receives ``grad_input``:
each full backward hook is called once as ``hook(module, grad_input, grad_output)``, and a
non-None return replaces ``grad_input``.  Entries are None for arguments that are not tensors
(or not an output that requires grad).  When no argument requires grad (a network's first
layer), the hooks are called from the output node with ``grad_input`` all None, as PyTorch
does (with its warning).

The identity nodes gather several tensors into one node, so that the gradients of all of a
call's inputs reach the hook at once, as PyTorch's multi-output ``BackwardHookFunction`` does:
the node's gradient is the concatenation of the tensors' flattened gradients, and each tensor
passed on is a "slice" of it whose backward puts its gradient in its place.  With one tensor
(the usual case) the slice is the whole gradient, and nothing is copied.
``on_gradient(tensor, callback)`` is one such identity node on its own, for a forward hook
that wants the gradient of its own call's output (``convgrad.inspect.record``).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd import Node, graph_input, is_grad_enabled
from ..tensor import Tensor, _as_array

NO_INPUT_GRAD_WARNING = (
    "Full backward hook is firing when gradients are computed with respect to module outputs "
    "since no inputs require gradients. See "
    "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
    "#torch.nn.Module.register_full_backward_hook for more details.")


def call_with_hooks(module, args: tuple, kwargs: dict):
    """``module(*args, **kwargs)`` with its hooks (the module docstring's steps)."""
    called_always = set()
    result = None
    try:
        for hook_id, hook in list(module._forward_pre_hooks.items()):
            if hook_id in module._forward_pre_hooks_with_kwargs:
                replaced = hook(module, args, kwargs)
                if replaced is not None:
                    if not (isinstance(replaced, tuple) and len(replaced) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {replaced}.")
                    args, kwargs = replaced
            else:
                replaced = hook(module, args)
                if replaced is not None:
                    args = replaced if isinstance(replaced, tuple) else (replaced,)
        backward_hook = None
        if module._backward_hooks or module._backward_pre_hooks:
            backward_hook = BackwardHook(module, list(module._backward_hooks.values()),
                                         list(module._backward_pre_hooks.values()))
            args = backward_hook.setup_input_hook(args)
        result = module.forward(*args, **kwargs)
        for hook_id, hook in list(module._forward_hooks.items()):
            if hook_id in module._forward_hooks_always_called:
                called_always.add(hook_id)
            result = _forward_hook(module, hook_id, hook, args, kwargs, result)
        if backward_hook is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn(f"For backward hooks to be called, module output should be a "
                              f"Tensor or a tuple of Tensors but received {type(result)}",
                              stacklevel=3)
            else:
                result = backward_hook.setup_output_hook(result)
        return result
    except Exception:
        for hook_id, hook in list(module._forward_hooks.items()):
            if hook_id not in module._forward_hooks_always_called or hook_id in called_always:
                continue
            try:
                result = _forward_hook(module, hook_id, hook, args, kwargs, result)
            except Exception as error:
                warnings.warn(f"module forward hook with ``always_call=True`` raised an "
                              f"exception that was silenced as another error was raised in "
                              f"forward: {error}", stacklevel=3)
        raise


def _forward_hook(module, hook_id, hook, args, kwargs, result):
    """One forward hook called as it was registered (with kwargs or not); the result it
    returns replaces the module's, None keeps it."""
    if hook_id in module._forward_hooks_with_kwargs:
        replaced = hook(module, args, kwargs, result)
    else:
        replaced = hook(module, args, result)
    return result if replaced is None else replaced


class BackwardHook:
    """The full backward hooks of one call of a module: the identity nodes around its inputs
    and outputs, and the ``grad_output`` that travels from the one to the other."""

    def __init__(self, module, hooks: list, pre_hooks: list):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_positions = None     # where the tensor arguments are, if any require grad

    # ------------------------------------------------------------------ the forward pass
    def setup_input_hook(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        args, self.input_positions = _through_identity(args, self._input_backward)
        return args

    def setup_output_hook(self, result):
        outputs = result if isinstance(result, tuple) else (result,)
        self.n_outputs = len(outputs)
        outputs, self.output_positions = _through_identity(outputs, self._output_backward)
        return outputs if isinstance(result, tuple) else outputs[0]

    # ------------------------------------------------------------------ the backward pass
    def _output_backward(self, grads: list) -> list:
        """``grad_output`` arrives: keep it for the input node (after the pre-hooks)."""
        grad_outputs = _pack(self.output_positions, grads, self.n_outputs)
        for hook in self.pre_hooks:
            replaced = hook(self.module, grad_outputs)
            if replaced is None:
                continue
            if len(replaced) != len(grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(replaced)}, but expected "
                                   f"{len(grad_outputs)}")
            grad_outputs = tuple(replaced)
        self.grad_outputs = grad_outputs
        if self.input_positions is None:
            # no argument requires grad: the hooks fire now, with grad_input all None
            warnings.warn(NO_INPUT_GRAD_WARNING, stacklevel=2)
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                replaced = hook(self.module, grad_inputs, grad_outputs)
                if replaced is not None and not (isinstance(replaced, tuple)
                                                 and all(g is None for g in replaced)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return [grad_outputs[i] for i in self.output_positions]

    def _input_backward(self, grads: list) -> list:
        """``grad_input`` arrives: call the hooks, which may replace it."""
        if self.grad_outputs is None:
            return grads      # the gradient did not come through the module's output
        grad_inputs = _pack(self.input_positions, grads, self.n_inputs)
        for hook in self.hooks:
            replaced = hook(self.module, grad_inputs, self.grad_outputs)
            if replaced is None:
                continue
            if len(replaced) != len(grad_inputs):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(replaced)}, but expected {len(grad_inputs)}")
            grad_inputs = tuple(replaced)
        self.grad_outputs = None
        return [grad_inputs[i] for i in self.input_positions]


def on_gradient(tensor: Tensor, callback) -> Tensor:
    """``tensor``'s values through one identity node whose backward calls ``callback(grad)``
    (∂L/∂tensor, a NumPy array) and passes the gradient on unchanged: what a forward hook
    returns to see the gradient of *that call's* output (a full backward hook cannot tell two
    calls of one module apart).  A tensor that needs no gradient is returned as it is."""
    def seen(grads: list) -> list:
        if grads[0] is not None:
            callback(grads[0].data)
        return grads

    (passed,), _ = _through_identity((tensor,), seen)
    return passed


def _pack(positions: list, values: list, size: int) -> tuple:
    """``values`` at ``positions`` of a tuple of ``size``, None elsewhere."""
    packed = [None] * size
    for position, value in zip(positions, values):
        packed[position] = value
    return tuple(packed)


def _through_identity(values: tuple, on_backward) -> tuple:
    """``values`` with their tensors passed through one identity node whose backward calls
    ``on_backward(grads)`` (one Tensor, or None, per tensor; it returns them, maybe
    replaced); returns ``(values, positions of the tensors)``, or ``(values, None)`` when no
    tensor requires grad (or grad mode is off), as PyTorch."""
    positions = [i for i, v in enumerate(values) if isinstance(v, Tensor)]
    tensors = [values[i] for i in positions]
    if not (is_grad_enabled() and any(t.requires_grad for t in tensors)):
        return values, None
    # shapes and flags, not the tensors: the node must not keep the inputs' memory alive
    shapes = [t.shape for t in tensors]
    needs = [t.requires_grad for t in tensors]
    offsets = np.cumsum([0] + [t.data.size for t in tensors]).tolist()
    dtype = np.result_type(*[t.data.dtype for t in tensors])

    def backward(flat: np.ndarray) -> tuple:
        grads = [Tensor._wrap(flat[start:stop].reshape(shape)) if need else None
                 for shape, need, start, stop in zip(shapes, needs, offsets, offsets[1:])]
        grads = on_backward(grads)
        return tuple(None if g is None or not need else _checked(g, shape)
                     for g, shape, need in zip(grads, shapes, needs))

    gather = Node("BackwardHookFunctionBackward", tuple(graph_input(t) for t in tensors),
                  backward, (), (offsets[-1],), dtype)
    passed = list(values)
    for k, (position, t) in enumerate(zip(positions, tensors)):
        if t.requires_grad:
            passed[position] = _slice_of(gather, t, offsets[k], len(tensors) == 1)
    return tuple(passed), positions


def _slice_of(gather: Node, tensor: Tensor, start: int, whole: bool) -> Tensor:
    """``tensor``'s values, as the output of ``gather`` at ``start`` (shares its memory and
    its version counter: a view, as PyTorch hands the module)."""
    size = tensor.data.size

    def backward(g: np.ndarray) -> tuple:
        if whole:
            return (g.reshape(-1),)
        flat = np.zeros(gather.shape, dtype=gather.dtype)
        flat[start:start + size] = g.reshape(-1)
        return (flat,)

    out = Tensor._wrap(tensor.data)
    out._version_counter = tensor._version_counter
    out._grad_fn = Node("BackwardHookFunctionBackward", (gather,), backward, (), tensor.shape,
                        tensor.dtype)
    out._requires_grad = True
    return out


def _checked(grad, shape: tuple) -> np.ndarray:
    """A hook's gradient as an array of ``shape`` (PyTorch refuses another)."""
    array = grad.data if isinstance(grad, Tensor) else _as_array(grad)
    if array.shape != shape:
        raise RuntimeError(f"hook has changed the size of value: expected a gradient of shape "
                           f"{list(shape)}, got {list(array.shape)}")
    return array
