"""Activations and gradients by layer name, through module hooks (as one does in PyTorch).

    from convgrad.inspect import record
    with record(model) as seen:                    # every layer (layers.layer_modules)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    seen.activations["conv1"]      # conv1's output, a NumPy array (N, C, L)
    seen.gradients["conv1"]        # ∂L/∂(conv1's output), the same shape
    seen.inputs["conv1"]           # what conv1 read (its first argument)

A forward hook (``register_forward_hook``) copies each layer's output, and its input; a full
backward hook (``register_full_backward_hook``) copies ``grad_output[0]``, the gradient of
the loss with respect to that output.  The hooks are removed when the ``with`` block ends,
whatever happens in it.  A layer that runs twice in one forward pass keeps its last call's.
"""
from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..nn import Module
from ..nn.hooks import NO_INPUT_GRAD_WARNING
from ..tensor import Tensor
from .layers import layer_modules


@dataclass
class Recording:
    activations: dict = field(default_factory=dict)   # name -> the layer's output
    gradients: dict = field(default_factory=dict)     # name -> ∂L/∂(that output)
    inputs: dict = field(default_factory=dict)        # name -> the layer's first input


def _array(value) -> np.ndarray | None:
    if isinstance(value, tuple):
        value = value[0] if value else None
    return value.data.copy() if isinstance(value, Tensor) else None


@contextmanager
def record(model: Module, layers=None):
    """Record the outputs (and, after a backward pass in the block, their gradients) of the
    named ``layers`` of ``model`` (default: every layer); yields a :class:`Recording`."""
    modules = layer_modules(model)
    if layers is not None:
        unknown = [name for name in layers if name not in dict(model.named_modules())]
        if unknown:
            raise KeyError(f"no layer named {unknown[0]!r} in {type(model).__name__}; its "
                           f"layers are {', '.join(modules)}")
        everything = dict(model.named_modules())
        modules = {name: everything[name] for name in layers}
    seen = Recording()
    handles = []
    for name, module in modules.items():
        def forward(module, args, output, name=name):
            seen.activations[name] = _array(output)
            seen.inputs[name] = _array(args)

        def backward(module, grad_input, grad_output, name=name):
            seen.gradients[name] = _array(grad_output)

        handles.append(module.register_forward_hook(forward))
        handles.append(module.register_full_backward_hook(backward))
    try:
        with warnings.catch_warnings():
            # a first layer's input needs no gradient: its hook then fires from its output
            # (PyTorch warns each time); that is what is wanted here
            warnings.filterwarnings("ignore", message=re.escape(NO_INPUT_GRAD_WARNING[:40]))
            yield seen
    finally:
        for handle in handles:
            handle.remove()
