"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and state dicts.

As in PyTorch, an optimizer holds ``param_groups`` (each a dict of hyperparameters plus its
``params`` list) and ``state`` (per parameter: momentum buffers, Adam's moments, the step
count).  Subclasses implement ``step``, updating ``param.data`` in place with vectorised
NumPy (float32 parameters stay float32).

``state_dict()`` has PyTorch's layout — ``{"state": {index: {...}}, "param_groups": [...]}``
with parameters replaced by their index — but holds NumPy arrays and plain Python numbers, so
``split_state_dict`` turns it into flat arrays (for safetensors) plus JSON-ready metadata,
and ``join_state_dict`` turns those back into a state dict.
"""
from __future__ import annotations

import copy

import numpy as np

from ..autograd import clear_grads, enable_grad, increment_version
from ..tensor import Tensor


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``; params is an iterable of Tensors or of
    dicts (parameter groups, each with its own hyperparameters overriding ``defaults``)."""

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        self.defaults = defaults
        self.state: dict = {}
        self.param_groups: list[dict] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params "
                                f"is {type(param).__name__}")
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the parameters' gradients: drop them (default, as PyTorch) or fill with 0."""
        clear_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, param.grad.data, group)
                    # An in-place write (PyTorch's param.add_ under no_grad): a backward that
                    # saved this parameter before the step now refuses to run.
                    increment_version(param)
        return loss

    def _update(self, param: Tensor, grad: np.ndarray, group: dict) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> dict:
        """``{"state": {i: {name: array or number}}, "param_groups": [{..., "params": [i]}]}``
        with parameters numbered across groups in order, as PyTorch does (arrays copied)."""
        index_of, groups = {}, []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for param in group["params"]:
                if param in self.state:
                    state[index_of[id(param)]] = {
                        k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                        for k, v in self.state[param].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and per-parameter state saved by ``state_dict``."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer "
                             f"({len(self.param_groups)})")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group: group {i} has "
                                 f"{len(saved['params'])} parameters in the state dict and "
                                 f"{len(group['params'])} in the optimizer")
        param_of = {index: param for group, saved in zip(self.param_groups, saved_groups)
                    for index, param in zip(saved["params"], group["params"])}
        new_state = {}
        for index, values in state_dict["state"].items():
            param = param_of.get(int(index))
            if param is None:
                continue
            entry = {}
            for name, value in values.items():
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    if value.shape != param.shape:
                        raise ValueError(f"optimizer state {name!r} of parameter {index} has "
                                         f"shape {value.shape} but the parameter has shape "
                                         f"{param.shape}")
                    value = value.astype(param.dtype, copy=True)
                elif isinstance(value, np.ndarray):
                    value = value.copy()
                entry[name] = value
            new_state[param] = entry
        for group, saved in zip(self.param_groups, saved_groups):
            for name, value in saved.items():
                if name != "params":
                    group[name] = tuple(value) if isinstance(value, list) else value
        self.state = new_state

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- serialisation
def split_state_dict(state_dict: dict) -> tuple[dict, dict]:
    """An optimizer state dict as ``(arrays, metadata)``: ``arrays`` maps
    ``"state.<index>.<name>"`` to NumPy arrays (for safetensors); ``metadata`` holds
    everything else and is JSON-serialisable."""
    arrays, state_meta = {}, {}
    for index, values in state_dict["state"].items():
        scalars = {}
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                # np.require, not np.ascontiguousarray, which turns 0-d state into shape (1,).
                arrays[f"state.{index}.{name}"] = np.require(value, requirements="C")
            else:
                scalars[name] = value.item() if isinstance(value, np.generic) else value
        state_meta[str(index)] = scalars
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()}
              for g in state_dict["param_groups"]]
    return arrays, {"state": state_meta, "param_groups": groups}


def join_state_dict(arrays: dict, metadata: dict) -> dict:
    """The inverse of :func:`split_state_dict`."""
    state = {int(index): dict(scalars) for index, scalars in metadata["state"].items()}
    for key, array in arrays.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = np.asarray(array)
    return {"state": state, "param_groups": copy.deepcopy(metadata["param_groups"])}
