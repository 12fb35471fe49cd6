"""Activations and gradients by layer name, through module hooks (as one does in PyTorch).

    from convgrad.inspect import record
    with record(model) as seen:                    # every layer (layers.layer_modules)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    seen.activations["conv1"]      # conv1's output, a NumPy array (N, C, L)
    seen.gradients["conv1"]        # ∂L/∂(conv1's output), the same shape
    seen.inputs["conv1"]           # what conv1 read (its first argument)

A forward hook (``register_forward_hook``) copies each layer's output and its input, and
returns the output passed through an identity node (``nn.hooks.on_gradient``) whose backward
copies ∂L/∂output as it goes by.  Each call of a module is its own entry: a module that runs
twice in one forward pass (one pooling layer after two stages, say) is ``"pool"`` for its
first call and ``"pool#2"`` for its second (``layers.call_name``), each with its own output
and gradient.  The hooks are removed when the ``with`` block ends, whatever happens in it.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..nn import Module
from ..nn.hooks import on_gradient
from ..tensor import Tensor
from .layers import call_name, layer_modules


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
    modules named in ``layers`` (default: every layer), every call of each; yields a
    :class:`Recording`."""
    modules = layer_modules(model)
    if layers is not None:
        everything = dict(model.named_modules())
        unknown = [name for name in layers if name not in everything]
        if unknown:
            raise KeyError(f"no layer named {unknown[0]!r} in {type(model).__name__}; its "
                           f"layers are {', '.join(modules)}")
        modules = {name: everything[name] for name in layers}
    seen = Recording()
    calls = dict.fromkeys(modules, 0)
    handles = []
    for name, module in modules.items():
        def forward(module, args, output, name=name):
            calls[name] += 1
            key = call_name(name, calls[name])
            seen.activations[key] = _array(output)
            seen.inputs[key] = _array(args)
            if isinstance(output, Tensor):
                return on_gradient(output, lambda grad: seen.gradients.__setitem__(
                    key, grad.copy()))
            return None

        handles.append(module.register_forward_hook(forward))
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()
