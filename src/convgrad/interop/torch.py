"""Moving weights and layers between convgrad and PyTorch.  The ``interop`` package is the
only place in ``src/`` that imports torch (here and in ``torch_models.py``); import it only
when you need it.

convgrad's state-dict keys, shapes and layouts are PyTorch's, so a state dict crosses over
unchanged — only the array type differs:

    to_torch_state_dict(model)            convgrad model → {key: torch.Tensor}
    load_torch_state_dict(model, sd)      {key: torch.Tensor} → into a convgrad model
    to_torch(layer) / from_torch(layer)   standard layers (and Sequential / ModuleList trees
                                          of them) → the other library, weights included
    torch_model(name)                     the PyTorch version of a ``convgrad.models`` model,
                                          same structure and keys (``interop/torch_models.py``)

Custom modules (anything with its own ``forward``) cannot be translated automatically: write
the PyTorch class with the same attribute names and move the state dict.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from .. import nn
from ..tensor import Tensor


def to_numpy_state_dict(module: nn.Module) -> "OrderedDict[str, np.ndarray]":
    """The module's state dict as NumPy arrays (copies)."""
    return OrderedDict((k, v.data.copy()) for k, v in module.state_dict().items())


def to_torch_state_dict(module: nn.Module) -> "OrderedDict[str, torch.Tensor]":
    """The module's state dict as torch tensors (copies; dtypes kept, the BatchNorm counter
    stays int64), ready for ``torch_module.load_state_dict``."""
    return OrderedDict((k, torch.from_numpy(np.array(v.data, copy=True)))
                       for k, v in module.state_dict().items())


def load_torch_state_dict(module: nn.Module, state_dict, strict: bool = True):
    """Load a PyTorch state dict (or a torch module's) into a convgrad module.

    Values are copied and cast to each convgrad parameter's dtype; the keys must match with
    ``strict`` (RuntimeError listing missing/unexpected keys and shape mismatches).
    """
    if isinstance(state_dict, torch.nn.Module):
        state_dict = state_dict.state_dict()
    arrays = OrderedDict()
    for key, value in state_dict.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        arrays[key] = value
    return module.load_state_dict(arrays, strict=strict)


# ---------------------------------------------------------------------------- layers
def _has_bias(m) -> bool:
    return m.bias is not None


def _conv_args(transposed: bool):
    common = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
              "groups", ("bias", _has_bias)]
    return common + (["output_padding"] if transposed else ["padding_mode"])


# Constructor arguments read from the source layer's attributes.  Attribute names are the
# same in both libraries, so one table serves both directions.
_CONSTRUCTORS = {
    "Linear": ["in_features", "out_features", ("bias", _has_bias)],
    "Conv1d": _conv_args(False), "Conv2d": _conv_args(False),
    "ConvTranspose1d": _conv_args(True), "ConvTranspose2d": _conv_args(True),
    "MaxPool1d": ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"],
    "MaxPool2d": ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"],
    "AvgPool1d": ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"],
    "AvgPool2d": ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                  "divisor_override"],
    "AdaptiveAvgPool1d": ["output_size"], "AdaptiveAvgPool2d": ["output_size"],
    "BatchNorm1d": ["num_features", "eps", "momentum", "affine", "track_running_stats",
                    ("bias", _has_bias)],
    "BatchNorm2d": ["num_features", "eps", "momentum", "affine", "track_running_stats",
                    ("bias", _has_bias)],
    "ReLU": ["inplace"], "LeakyReLU": ["negative_slope", "inplace"], "GELU": ["approximate"],
    "Sigmoid": [], "Tanh": [], "Softmax": ["dim"], "LogSoftmax": ["dim"],
    "Dropout": ["p", "inplace"], "Flatten": ["start_dim", "end_dim"], "Identity": [],
}


def _arguments(layer, names) -> dict:
    kwargs = {}
    for name in names:
        if isinstance(name, tuple):
            name, read = name
            kwargs[name] = read(layer)
        else:
            kwargs[name] = getattr(layer, name)
    return kwargs


def _convert(layer, target, container_types: tuple, copy_state, memo: dict) -> object:
    """``layer`` rebuilt from ``target``'s classes.  ``memo`` maps id(source) → converted, so
    a module reached twice (one ReLU used at two places of a Sequential, a Linear tied at two
    indices of a ModuleList) converts once and stays shared in the result."""
    if layer is None:                                 # an empty slot in a container
        return None
    if id(layer) in memo:
        return memo[id(layer)]
    kind = type(layer).__name__
    if isinstance(layer, container_types):           # Sequential / ModuleList
        converted = getattr(target, "Sequential" if isinstance(layer, container_types[0])
                            else "ModuleList")()
        # _modules, not named_children(): named_children yields a shared child only once,
        # which would drop the second use of a shared layer and change the function.
        for name, child in layer._modules.items():
            converted.add_module(name, _convert(child, target, container_types, copy_state,
                                                memo))
        converted.training = layer.training           # its own flag only: children keep theirs
        memo[id(layer)] = converted
        return converted
    if kind not in _CONSTRUCTORS or type(layer).__module__.split(".")[0] not in ("convgrad",
                                                                                "torch"):
        raise TypeError(
            f"cannot translate {kind} automatically: only standard layers "
            f"({', '.join(sorted(_CONSTRUCTORS))}) and Sequential/ModuleList trees of them; "
            f"for a custom model write the other library's class with the same attribute "
            f"names and move the state dict (to_torch_state_dict / load_torch_state_dict)")
    converted = getattr(target, kind)(**_arguments(layer, _CONSTRUCTORS[kind]))
    copy_state(layer, converted)
    converted.train(layer.training)
    memo[id(layer)] = converted
    return converted


def _copy_into_torch(source: nn.Module, destination: torch.nn.Module) -> None:
    first = next(source.parameters(), None)
    if first is not None and first.dtype == np.float64:
        destination.double()
    destination.load_state_dict(to_torch_state_dict(source))


def _copy_from_torch(source: torch.nn.Module, destination: nn.Module) -> None:
    first = next(source.parameters(), None)
    if first is not None and first.dtype == torch.float64:
        destination.double()
    load_torch_state_dict(destination, source.state_dict())


def to_torch(layer: nn.Module) -> torch.nn.Module:
    """A torch.nn layer (or Sequential/ModuleList tree) equal to ``layer``, weights copied."""
    return _convert(layer, torch.nn, (nn.Sequential, nn.ModuleList), _copy_into_torch, {})


def from_torch(layer: torch.nn.Module) -> nn.Module:
    """A convgrad layer (or Sequential/ModuleList tree) equal to a torch.nn one."""
    return _convert(layer, nn, (torch.nn.Sequential, torch.nn.ModuleList), _copy_from_torch,
                    {})


def torch_model(name: str, **kwargs) -> torch.nn.Module:
    """The PyTorch version of ``convgrad.models.get_model(name, **kwargs)`` (same keys)."""
    from .torch_models import build

    return build(name, **kwargs)


def to_torch_model(model: nn.Module, name: str, **kwargs) -> torch.nn.Module:
    """``model`` (built as ``get_model(name, **kwargs)``) as a PyTorch model with its weights;
    pass the same constructor arguments (``num_classes=100``) so the shapes match."""
    twin = torch_model(name, **kwargs)
    _copy_into_torch(model, twin)
    twin.train(model.training)
    return twin


def tensor_to_torch(t: Tensor) -> torch.Tensor:
    """A torch tensor with the same values (a copy)."""
    return torch.from_numpy(np.array(t.data, copy=True))


def tensor_from_torch(t: torch.Tensor) -> Tensor:
    """A convgrad tensor with the same values (a copy)."""
    return Tensor(t.detach().cpu().numpy())
