"""A model's layers, in the order they run: the rows of ``convgrad.summary`` (output shape,
parameters, mult-adds) plus the residual blocks, whose output (``σ(F(h) + h)``) is no single
layer's.

Which modules are layers (``layer_modules``): those ``convgrad.summary`` tabulates — modules
without children, and modules with parameters of their own — and every residual block (a
module with a ``shortcut`` attribute, as convgrad's ResNets have; a plain twin's is None).
A block's row comes after its children's (it finishes last), and says which rows are its
own (``block``) and whether a skip connection adds its input back (``skip``): the explorer
draws that arc from the row before the block's first row to the block's row.

A module that runs more than once in a forward pass has a row per call, as in
``convgrad.summary``: its name for the first call, then ``name#2``, ``name#3``...
(``call_name``; ``module_name`` gives the module's name back).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..autograd import no_grad
from ..creation import zeros
from ..nn import Conv1d, Conv2d, Linear, Module
from ..summary import summary

CONVOLUTIONS = (Conv1d, Conv2d)


@dataclass
class Layer:
    name: str                 # dotted path in the model, e.g. "layer1.0.conv1"
    type: str                 # class name, e.g. "Conv2d"
    output_shape: tuple       # one example's output (no batch dim)
    params: int               # parameters of its own (0 for a block: its rows count them;
                              # 0 for a repeated call, as in convgrad.summary)
    macs: int                 # multiply-adds for one example
    block: str | None         # the residual block it belongs to, if any
    skip: bool                # a block whose shortcut adds its input back

    @property
    def is_conv(self) -> bool:
        return self.type in ("Conv1d", "Conv2d")

    def to_dict(self) -> dict:
        return {**asdict(self), "output_shape": list(self.output_shape)}


def call_name(name: str, call: int) -> str:
    """The name of the ``call``-th call (from 1) of module ``name``: ``pool``, ``pool#2``."""
    return name if call == 1 else f"{name}#{call}"


def module_name(layer: str) -> str:
    """The module a layer name is a call of: ``pool#2`` → ``pool``."""
    return layer.partition("#")[0]


def is_residual_block(module: Module) -> bool:
    return hasattr(module, "shortcut") and not isinstance(module, (Linear, *CONVOLUTIONS))


def layer_modules(model: Module) -> dict:
    """``{name: module}`` of the model's layers (module docstring), in registration order."""
    found = {}
    for name, module in model.named_modules():
        if not name:
            continue
        has_children = any(True for _ in module.children())
        has_own = any(True for _ in module.parameters(recurse=False))
        if not has_children or has_own or is_residual_block(module):
            found[name] = module
    return found


def model_layers(model: Module, input_shape) -> list:
    """The model's layers in the order they finish on one example of ``input_shape`` (no
    batch dim), one per call of a module (module docstring)."""
    rows = {}
    for row in summary(model, input_shape).rows:            # a module's calls, in order
        rows.setdefault(row.name, []).append(row)
    modules = layer_modules(model)
    blocks = [name for name, module in modules.items() if is_residual_block(module)]
    order, calls, handles = [], dict.fromkeys(modules, 0), []

    def finished(name):
        def hook(module, args, output):
            shape = getattr(output, "shape", None)
            if shape is not None:
                calls[name] += 1
                order.append((name, calls[name], type(module).__name__, tuple(shape[1:])))
        return hook

    for name, module in modules.items():
        handles.append(module.register_forward_hook(finished(name)))
    modes = [(m, m.training) for m in model.modules()]
    first = next(model.parameters(), None)
    try:
        model.eval()
        with no_grad():
            model(zeros(1, *input_shape, dtype=first.dtype if first is not None else None))
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            object.__setattr__(module, "training", mode)
    layers = []
    for name, call, kind, shape in order:
        row = rows.get(name, [])[call - 1:call]
        owner = next((b for b in blocks if name.startswith(b + ".")), None)
        layers.append(Layer(call_name(name, call), kind, shape,
                            row[0].params if row else 0, row[0].macs if row else 0,
                            name if name in blocks else owner,
                            name in blocks and getattr(modules[name], "shortcut", None)
                            is not None))
    return layers
