"""The engine half of a training run: the model, its optimizer and schedule, one training
step, evaluation, and the engine's state for a checkpoint.

Everything else a run does — data, shuffling, augmentation, the loop, metrics, the run
folder, the checkpoint files and their metadata — is the same whichever engine computes the
steps.  A backend is the small interface between the two:

    backend.train_step(x, y) -> (loss, correct)   one optimizer step on a batch (NumPy in)
    backend.learning_rate                          the lr of the step about to be taken
    backend.evaluate(x, y, classes, batch_size)    an ``Evaluation`` in eval mode, no graph
    backend.state() -> EngineState                 arrays and JSON for a checkpoint
    backend.load_state(state)                      the inverse (ValueError/KeyError/TypeError
                                                   when the state does not fit)
    backend.model, backend.parameters              the network and its parameter count
    backend.where                                  where it computes, for the run's header
                                                   (None: convgrad's engine, on the CPU)

``NumpyBackend`` is convgrad's own engine.  Another engine (PyTorch, for ``--backend
torch``: ``torch_backend/``) implements the same methods and saves the same
``EngineState``: the model's state dict under PyTorch's keys, the optimizer's and the
schedule's state in convgrad's layout, so that either engine can read the other's
checkpoints.  A run builds its backend in one place, ``loop._Session.__init__``, as
``Backend(config, num_classes, total_steps, team)`` (``team``: the processes training the
run together, ``team.py``); ``load_run`` and ``convgrad eval`` always read a checkpoint
back into the NumPy engine's model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import functional as F
from .. import random as cg_random
from ..creation import from_numpy
from ..optim import join_state_dict, split_state_dict
from .config import ConfigError, TrainConfig
from .evaluate import Evaluation, evaluate
from .setup import build_model, build_optimizer, build_scheduler
from .team import ALONE, Team


@dataclass
class EngineState:
    """What a checkpoint keeps of the engine."""
    model: dict              # the model's state dict: name -> NumPy array
    optimizer_arrays: dict   # the optimizer's arrays (moments, momentum buffers)
    optimizer: dict          # the optimizer's other state (JSON)
    scheduler: dict | None   # the schedule's state (JSON), None for a constant lr
    rng: dict                # the engine's random generators (JSON), by name


class NumpyBackend:
    """convgrad's engine: a registry model, ``convgrad.optim``, autograd."""

    name = "numpy"
    where = None

    def __init__(self, config: TrainConfig, num_classes: int, total_steps: int,
                 team: Team = ALONE):
        if team.size > 1:
            raise ConfigError(f"the NumPy engine trains in one process, not {team.size}: "
                              f"give --backend torch")
        cg_random.manual_seed(config.seed)      # initialisation draws from it
        self.model = build_model(config.model, num_classes)
        self.parameters = sum(p.numel() for p in self.model.parameters())
        self.optimizer = build_optimizer(config, self.model)
        self.scheduler = build_scheduler(config, self.optimizer, total_steps)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """``loss = cross_entropy(model(x), y)``, backward, one optimizer and schedule step;
        returns the batch's mean loss and its number of correct predictions."""
        logits = self.model(from_numpy(x))
        loss = F.cross_entropy(logits, from_numpy(y))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.item(), int(np.count_nonzero(logits.data.argmax(axis=1) == y))

    @property
    def learning_rate(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def evaluate(self, x: np.ndarray, y: np.ndarray, classes, batch_size: int) -> Evaluation:
        return evaluate(self.model, x, y, classes, batch_size)

    def state(self) -> EngineState:
        optimizer_arrays, optimizer_meta = split_state_dict(self.optimizer.state_dict())
        return EngineState(
            model={name: tensor.data for name, tensor in self.model.state_dict().items()},
            optimizer_arrays=optimizer_arrays, optimizer=optimizer_meta,
            scheduler=None if self.scheduler is None else self.scheduler.state_dict(),
            rng={"convgrad": cg_random.get_rng_state()})

    def load_state(self, state: EngineState) -> None:
        """Weights first (``load_state_dict`` raises RuntimeError naming the keys that do not
        fit), then the optimizer, the schedule and the generator."""
        self.model.load_state_dict(state.model)
        self.optimizer.load_state_dict(join_state_dict(state.optimizer_arrays,
                                                       state.optimizer))
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state.scheduler)
        cg_random.set_rng_state(state.rng["convgrad"])
