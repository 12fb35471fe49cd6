"""``Module`` and ``Parameter``: the bookkeeping every layer and model shares.

A Module owns three ordered registries, filled by plain attribute assignment exactly as in
PyTorch (``self.conv1 = Conv1d(...)`` registers a child, ``self.weight = Parameter(...)`` a
parameter, ``register_buffer`` a buffer):

    _parameters  name → Parameter (or None)     learned, handed to the optimizer
    _buffers     name → Tensor (or None)        state that is not learned (running means)
    _modules     name → Module (or None)        children, recursively

From those three everything else follows: ``parameters()`` walks them, ``state_dict()``
flattens them to dotted keys (``layer1.0.conv1.weight``) that are exactly PyTorch's, and
``load_state_dict`` copies values back with PyTorch's strict-loading rules.

``__call__`` is deliberately lean (forward, then forward hooks if any were registered):
the training loop calls it thousands of times per second.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd import clear_grads, no_grad
from ..tensor import Tensor, _as_array, check_cpu, float32, float64, to_arguments


class Parameter(Tensor):
    """A Tensor that a Module registers as learnable; ``requires_grad=True`` by default.

    As ``torch.nn.Parameter``, it shares memory with the tensor (or array) it is made from,
    and a tensor's version counter too.

    >>> Parameter(tensor([1.0, 2.0]))
    Parameter containing:
    tensor([1., 2.], requires_grad=True)
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=float32)
        self.data = data.data if isinstance(data, Tensor) else _as_array(data)
        self._init_graph_fields()
        if isinstance(data, Tensor):
            self._version_counter = data._version_counter
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns (as PyTorch): the keys that did not line up."""

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (how PyTorch nests a child's repr)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _check_name(kind: str, name) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain ".", got {name!r}')


def _type_name(value) -> str:
    return type(value).__module__ + "." + type(value).__qualname__


def _is_floating(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


class Module:
    """Base class of every layer and model (PyTorch's ``torch.nn.Module``).

    Subclasses call ``super().__init__()`` first, assign their parameters and children as
    attributes, and define ``forward``.
    """

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: these are the registries __setattr__ itself relies on.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def register_forward_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; a non-None return
        replaces the output.  Used by ``convgrad.summary`` to see each layer's output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as parameter '{name}' "
                                f"(convgrad.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            modules = self.__dict__.get("_modules")
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            modules[name] = value
        elif name in self.__dict__.get("_modules", ()):
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as child module "
                                f"'{name}' (convgrad.nn.Module or None expected)")
            self._modules[name] = None
        elif name in self.__dict__.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_type_name(value)}' as buffer '{name}' "
                                f"(convgrad.Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Drop ``name`` from every registry but ``keep`` (where it is about to be stored;
        leaving it there keeps its place in the order, as reassigning a child does)."""
        self.__dict__.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                self.__dict__[registry].pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str):
        # Only reached when normal lookup fails: parameters, buffers and children live in
        # the registries, not in __dict__ (one place to keep them, as PyTorch).
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(registry, ()):
                del self.__dict__[registry][name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_type_name(param)}' object to parameter "
                            f"'{name}' (convgrad.nn.Parameter or None required)")
        if param is not None and not param.is_leaf:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly, e.g. Parameter(t.detach())")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor the module keeps but does not learn; in ``state_dict`` if persistent."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_type_name(tensor)}' object to buffer '{name}' "
                            f"(convgrad.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_type_name(module)} is not a Module subclass")
        _check_name("module", name)
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True):
        """This module and every descendant, depth first, each once (by identity)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            child_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True):
        seen = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """(dotted name, Parameter) pairs; a parameter shared by two layers appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def get_submodule(self, target: str) -> "Module":
        """The descendant at dotted path ``target`` ('' is this module)."""
        module = self
        for item in target.split(".") if target else ():
            child = module._modules.get(item)
            if not isinstance(child, Module):
                raise AttributeError(f"{type(module).__name__} has no submodule `{item}` "
                                     f"(while resolving {target!r})")
            module = child
        return module

    def apply(self, fn) -> "Module":
        """``fn(m)`` for every descendant, children first, then ``fn(self)``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget accumulated gradients: drop them (default, as PyTorch) or fill with 0."""
        clear_grads(self.parameters(), set_to_none)

    # ------------------------------------------------------------------ dtype
    def to(self, *args, dtype=None, device=None, non_blocking: bool = False) -> "Module":
        """``to(dtype)`` casts floating parameters, gradients and buffers in place (integer
        buffers such as ``num_batches_tracked`` stay int64).  A device is read as
        ``Tensor.to`` reads it: 'cpu' is accepted, any other raises RuntimeError."""
        dtype = to_arguments(args, dtype, device)
        if dtype is None:
            return self
        if not _is_floating(dtype):
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got "
                            f"desired dtype={dtype}")
        # copy=False: a tensor already in ``dtype`` keeps its array, so a no-op conversion
        # is a no-op (views and Parameters sharing memory stay shared), as in PyTorch.
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            if _is_floating(tensor.dtype):
                tensor.data = tensor.data.astype(dtype, copy=False)
                if tensor.grad is not None:
                    tensor.grad.data = tensor.grad.data.astype(dtype, copy=False)
        return self

    def cpu(self) -> "Module":
        return self

    def float(self) -> "Module":
        return self.to(float32)

    def double(self) -> "Module":
        return self.to(float64)

    # ------------------------------------------------------------------ state dict
    def _local_state(self) -> "OrderedDict[str, Tensor]":
        """This module's own entries of the state dict: parameters, then persistent buffers."""
        local = OrderedDict((n, p) for n, p in self._parameters.items() if p is not None)
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                local[name] = buffer
        return local

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """Every parameter and persistent buffer under its dotted name, as PyTorch orders
        them (a module's own entries, then its children's).  Values share memory with the
        module (``keep_vars=False`` detaches them from the graph)."""
        if destination is None:
            destination = OrderedDict()
        # No de-duplication: a module reached by two paths is saved under both, as PyTorch.
        for module_prefix, module in self.named_modules(prefix=prefix.rstrip("."),
                                                        remove_duplicate=False):
            dot = module_prefix + "." if module_prefix else ""
            for name, value in module._local_state().items():
                destination[dot + name] = value if keep_vars else value.detach()
        return destination

    def load_state_dict(self, state_dict, strict: bool = True) -> _IncompatibleKeys:
        """Copy ``state_dict``'s values (Tensors or NumPy arrays) into this module, in place.

        As PyTorch: with ``strict`` the keys must match exactly; a shape mismatch is always
        an error; values are cast to each parameter's dtype.  Unlike PyTorch, nothing is
        copied when any error is found, so a failed load leaves the module as it was.
        Raises RuntimeError listing every missing key, unexpected key and mismatched shape.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        errors, copies = [], []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = value.data if isinstance(value, Tensor) else value
            if not isinstance(array, np.ndarray):
                errors.append(f'While copying the parameter named "{key}", expected a '
                              f"convgrad Tensor or NumPy array from checkpoint but received "
                              f"{type(value)}")
                continue
            if array.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{tuple(array.shape)} from checkpoint, the shape in current "
                              f"model is {tuple(target.shape)}.")
                continue
            copies.append((target, array))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        with no_grad():
            for target, array in copies:
                target.copy_(array)
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The layer's settings, shown inside its repr (override in layers)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2)
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"


def factory_dtype(dtype=None, device=None) -> np.dtype:
    """The dtype a layer creates its parameters in (``dtype=``/``device=`` as PyTorch's
    constructors take them): float32 unless asked; only the CPU exists here."""
    if device is not None:
        check_cpu(device)
    dtype = float32 if dtype is None else np.dtype(dtype)
    if not _is_floating(dtype):
        raise TypeError(f"layers hold floating point parameters; got dtype={dtype}")
    return dtype


def empty_parameter(shape: tuple, dtype: np.dtype) -> Parameter:
    """An uninitialised Parameter, to be filled by a layer's ``reset_parameters``."""
    return Parameter(np.empty(shape, dtype=dtype))
