"""Optimizer and schedule state between torch's layout and convgrad's.

Checkpoints hold convgrad's layout whichever engine wrote them, so either engine resumes
the other's runs.  convgrad's optimizers and schedulers are PyTorch's, state dicts
included, but for four things:

    optimizer step      torch: a float tensor ``tensor(3.)``     convgrad: the int ``3``
    optimizer arrays    torch tensors                            NumPy arrays
    param group keys    torch's also has foreach, fused,         convgrad's has only its
                        differentiable, capturable...            optimizer's own options
    MultiStepLR         ``milestones`` a Counter                 a sorted list (JSON)

so to convgrad, the state keeps the keys of a convgrad optimizer or schedule built with the
same config (the *template*), and back to torch, it is laid over torch's own state.  The
parameters are numbered alike: a registry model and its torch twin list their parameters
in the same order (tested for every model).
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import torch


def optimizer_to_convgrad(state_dict: dict, template: dict) -> dict:
    """A torch optimizer's ``state_dict()`` in convgrad's layout (``template``: a convgrad
    optimizer's state dict for the same config)."""
    keys = set(template["param_groups"][0])
    state = {}
    for index, values in state_dict["state"].items():
        state[index] = {name: int(value.item()) if name == "step" else
                        value.detach().cpu().numpy().copy()
                        for name, value in values.items()}
    groups = [{key: value for key, value in group.items() if key in keys}
              for group in state_dict["param_groups"]]
    return {"state": state, "param_groups": groups}


def optimizer_to_torch(state_dict: dict, optimizer: torch.optim.Optimizer) -> dict:
    """convgrad's layout (NumPy arrays, an int step) as a ``state_dict`` for ``optimizer``."""
    state = {}
    for index, values in state_dict["state"].items():
        state[index] = {name: torch.tensor(float(value)) if name == "step" else
                        torch.tensor(np.asarray(value))
                        for name, value in values.items()}
    current = optimizer.state_dict()["param_groups"]
    if len(current) != len(state_dict["param_groups"]):
        raise ValueError(f"the state has {len(state_dict['param_groups'])} parameter groups, "
                         f"the optimizer {len(current)}")
    groups = [dict(mine, **{key: tuple(value) if isinstance(value, list) and key != "params"
                            else value for key, value in saved.items()})
              for mine, saved in zip(current, state_dict["param_groups"])]
    return {"state": state, "param_groups": groups}


def schedule_to_convgrad(state: dict, template: dict) -> dict:
    """A torch scheduler's ``state_dict()`` with the keys of convgrad's (``template``),
    milestones as a sorted list; ``SequentialLR``'s inner schedules likewise."""
    converted = {}
    for key, shape in template.items():
        value = state[key]
        if key == "_schedulers":
            value = [schedule_to_convgrad(inner, like) for inner, like in zip(value, shape)]
        elif isinstance(value, Counter):
            value = sorted(value.elements())
        converted[key] = value
    return converted


def schedule_to_torch(state: dict) -> dict:
    """convgrad's schedule state for a torch scheduler's ``load_state_dict``."""
    converted = dict(state)
    if "milestones" in converted:
        converted["milestones"] = Counter(converted["milestones"])
    if "_schedulers" in converted:
        converted["_schedulers"] = [schedule_to_torch(inner) for inner in state["_schedulers"]]
    return converted


def generator_state(device: torch.device) -> dict:
    """torch's random generators (CPU, and the device's), as hexadecimal text (JSON).
    No registry model draws from them while it trains (no dropout): kept so that a
    checkpoint holds every generator a model could use."""
    state = {"cpu": torch.get_rng_state().numpy().tobytes().hex()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device).numpy().tobytes().hex()
    return state


def set_generator_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(_bytes_tensor(state["cpu"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(_bytes_tensor(state["cuda"]), device)


def _bytes_tensor(text: str) -> torch.Tensor:
    return torch.tensor(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))
