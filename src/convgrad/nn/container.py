"""Containers: ``Sequential`` (children applied in order) and ``ModuleList`` (a list of
children whose parameters are registered, for models that loop over their layers).

Children are registered under their index as a string ("0", "1", ...), which is where
state-dict keys such as ``features.0.weight`` come from, exactly as in PyTorch.
"""
from __future__ import annotations

import operator
from collections import OrderedDict

from .module import Module, _addindent


def _absolute_index(index, length: int, kind: str) -> int:
    index = operator.index(index)
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for {kind} of length {length}")
    return index % length


class Sequential(Module):
    """``Sequential(a, b, c)(x) = c(b(a(x)))``; also ``Sequential(OrderedDict(name=layer))``."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                self.add_module(str(index), module)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        keys = list(self._modules)
        return self._modules[keys[_absolute_index(index, len(keys), "Sequential")]]

    def __setitem__(self, index, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_absolute_index(index, len(keys), "Sequential")], module)

    def __delitem__(self, index) -> None:
        keys = list(self._modules)
        if isinstance(index, slice):
            for key in keys[index]:
                del self._modules[key]
        else:
            del self._modules[keys[_absolute_index(index, len(keys), "Sequential")]]
        # Renumber every child 0..n-1, named ones included (PyTorch does the same).
        modules = list(self._modules.values())
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "Sequential":
        for module in modules:
            self.append(module)
        return self

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ... (no forward of its own)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[str(_absolute_index(index, len(self), "ModuleList"))]

    def __setitem__(self, index, module: Module) -> None:
        setattr(self, str(_absolute_index(index, len(self), "ModuleList")), module)

    def __delitem__(self, index) -> None:
        values = list(self._modules.values())
        if isinstance(index, slice):
            del values[index]
        else:
            del values[_absolute_index(index, len(values), "ModuleList")]
        self._modules.clear()
        for i, module in enumerate(values):
            self._modules[str(i)] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules) -> "ModuleList":
        return self.extend(modules)

    def __add__(self, other) -> "ModuleList":
        return type(self)([*self, *other])

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got "
                            f"{type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def __repr__(self) -> str:
        """Runs of identical children are folded, as PyTorch prints them:
        ``(0-2): 3 x BasicBlock(...)``."""
        if not len(self):
            return self._get_name() + "()"
        runs = []                      # [first index, last index, repr]
        for index, module in enumerate(self):
            text = repr(module)
            if runs and runs[-1][2] == text:
                runs[-1][1] = index
            else:
                runs.append([index, index, text])
        lines = []
        for first, last, text in runs:
            label = f"({first}): " if first == last else f"({first}-{last}): {last - first + 1} x "
            lines.append(_addindent(label + text, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def insert(self, index: int, module: Module) -> None:
        values = list(self._modules.values())
        values.insert(index, module)
        self._modules.clear()
        for i, value in enumerate(values):
            self.add_module(str(i), value)
