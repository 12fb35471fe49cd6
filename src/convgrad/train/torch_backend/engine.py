"""``TorchBackend``: the engine of ``--backend torch`` (the ``Backend`` interface of
``train/backend.py``).

Same start, same numbers.  The model is the registry model's PyTorch twin
(``interop/torch_models.py``, the same layers under the same keys) holding the weights
convgrad's own initialisation drew with the run's seed, so a torch run starts where the
NumPy run starts; the optimizer and the schedule are ``torch.optim``'s classes of the same
names built by the same code (``setup.build_optimizer`` / ``build_scheduler``), which
compute PyTorch's formulas exactly as convgrad's do; the batches are the loop's, the
same for both.  The two engines then differ only by float32 rounding: their losses agree
to about 1e-5 over the first steps (tested), and drift apart slowly as any two
implementations' do.

On several processes (``team.size > 1``), each batch norm is synced over the whole batch
(``sync_batchnorm.py``) and the model is wrapped in ``DistributedDataParallel``, which
averages the gradients of the processes' shards during backward; every process then takes
the same optimizer step.  Evaluation runs on the model itself, outside DDP, in eval mode
(running statistics: no exchange), on process 0 alone.

Devices: ``cpu``, ``cuda`` (the process's GPU: ``cuda:LOCAL_RANK``) or ``auto`` (a GPU if
PyTorch sees one); asking for cuda where there is none is one line (``ConfigError``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from ... import random as cg_random
from ...interop.torch import to_torch_model
from ...optim import join_state_dict, split_state_dict
from ..backend import EngineState
from ..config import ConfigError, TrainConfig
from ..evaluate import Evaluation, check_samples, tally
from ..setup import build_model, build_optimizer, build_scheduler, model_arguments
from ..team import ALONE, Team
from .states import (generator_state, optimizer_to_convgrad, optimizer_to_torch,
                     schedule_to_convgrad, schedule_to_torch, set_generator_state)
from .sync_batchnorm import synced_batch_norm
from .team import peers_lost_as_team_error


def resolve_device(requested: str, local_rank: int = 0) -> torch.device:
    """``--device``: cpu, cuda (this process's GPU, ``cuda:local_rank``) or auto."""
    if requested == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if requested == "auto":
            return torch.device("cpu")
        build = "a CPU-only build" if torch.version.cuda is None else \
            f"built for CUDA {torch.version.cuda}, but no GPU or driver is visible"
        raise ConfigError(f"--device cuda: PyTorch {torch.__version__} sees no CUDA GPU here "
                          f"({build}); use --device cpu, or --device auto to take a GPU "
                          f"where there is one")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ConfigError(f"--device {requested}: process {local_rank} of this machine needs "
                          f"GPU {local_rank}, but there are {count}; start at most {count} "
                          f"processes per machine")
    return torch.device("cuda", local_rank)


class TorchBackend:
    """PyTorch's engine: the registry model's torch twin, ``torch.optim``, autograd."""

    name = "torch"

    @staticmethod
    def check(config: TrainConfig) -> None:
        """What can be checked before a run starts: the device asked for is there."""
        resolve_device(config.device)

    def __init__(self, config: TrainConfig, num_classes: int, total_steps: int,
                 team: Team = ALONE, dtype: torch.dtype = torch.float32):
        """``dtype``: the model's floating type; runs train in float32, and float64 makes
        the engines' arithmetic comparable to the last bits (as the parity tests do)."""
        self.device = device = resolve_device(config.device, team.local_rank)
        self.dtype = dtype
        self.where = f"PyTorch on {device.type}" + \
            (f", {team.size} processes" if team.size > 1 else "")
        cg_random.manual_seed(config.seed)          # convgrad's initial weights, drawn
        start = build_model(config.model, num_classes)   # as the NumPy engine draws them
        self.parameters = sum(p.numel() for p in start.parameters())
        torch.manual_seed(config.seed)
        module = to_torch_model(start, config.model, **model_arguments(config.model,
                                                                       num_classes))
        if team.size > 1:
            module = synced_batch_norm(module, device)
        self.model = module.to(device=device, dtype=dtype)
        self.network = self.model
        if team.size > 1:
            with peers_lost_as_team_error():        # DDP starts by syncing the weights
                self.network = DistributedDataParallel(
                    self.model, device_ids=[device.index] if device.type == "cuda" else None,
                    forward_sync_buffers=False)     # synced batch norm keeps them equal
        self.optimizer = build_optimizer(config, self.model, torch.optim)
        self.scheduler = build_scheduler(config, self.optimizer, total_steps,
                                         torch.optim.lr_scheduler)
        # The layout a checkpoint keeps (states.py): a convgrad optimizer's and schedule's.
        template = build_optimizer(config, start)
        schedule = build_scheduler(config, template, total_steps)
        self.optimizer_template = template.state_dict()   # with the schedule's initial_lr
        self.schedule_template = None if schedule is None else schedule.state_dict()

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """``loss = cross_entropy(model(x), y)``, backward (gradients averaged over the
        processes), one optimizer and schedule step; the batch's mean loss and its number
        of correct predictions."""
        inputs = torch.from_numpy(x).to(self.device, self.dtype)
        targets = torch.from_numpy(y).to(self.device)
        with peers_lost_as_team_error():
            logits = self.network(inputs)
            loss = F.cross_entropy(logits, targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        correct = (logits.detach().argmax(dim=1) == targets).sum()
        loss_value, correct_value = torch.stack([loss.detach().double(),
                                                 correct.double()]).tolist()  # one sync
        return loss_value, int(correct_value)

    @property
    def learning_rate(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def evaluate(self, x: np.ndarray, y: np.ndarray, classes, batch_size: int) -> Evaluation:
        """Loss, accuracy and confusion matrix in eval mode, without a graph (the model's
        mode restored after)."""
        check_samples(y)
        was_training = self.model.training
        self.model.eval()
        loss_sum, predictions = 0.0, []
        try:
            with torch.no_grad():
                for start in range(0, len(x), batch_size):
                    out = self.model(torch.from_numpy(x[start:start + batch_size])
                                     .to(self.device, self.dtype))
                    target = torch.from_numpy(y[start:start + batch_size]).to(self.device)
                    loss_sum += float(F.cross_entropy(out, target, reduction="sum"))
                    predictions.append(out.argmax(dim=1).cpu().numpy())
        finally:
            self.model.train(was_training)
        return tally(loss_sum, np.concatenate(predictions), out.shape[1], y, classes)

    def state(self) -> EngineState:
        optimizer = optimizer_to_convgrad(self.optimizer.state_dict(), self.optimizer_template)
        arrays, meta = split_state_dict(optimizer)
        scheduler = None if self.scheduler is None else \
            schedule_to_convgrad(self.scheduler.state_dict(), self.schedule_template)
        return EngineState(
            model={name: value.detach().cpu().numpy().copy()
                   for name, value in self.model.state_dict().items()},
            optimizer_arrays=arrays, optimizer=meta, scheduler=scheduler,
            rng={"convgrad": cg_random.get_rng_state(), "torch": generator_state(self.device)})

    def load_state(self, state: EngineState) -> None:
        """Weights first (RuntimeError naming the keys that do not fit), the optimizer, the
        schedule and the generators; a checkpoint of the NumPy engine has no torch
        generator, which keeps the seed's state."""
        self.model.load_state_dict({name: torch.tensor(np.asarray(value))
                                    for name, value in state.model.items()})
        saved = join_state_dict(state.optimizer_arrays, state.optimizer)
        self.optimizer.load_state_dict(optimizer_to_torch(saved, self.optimizer))
        if self.scheduler is not None:
            self.scheduler.load_state_dict(schedule_to_torch(state.scheduler))
        cg_random.set_rng_state(state.rng["convgrad"])
        if "torch" in state.rng:
            set_generator_state(state.rng["torch"], self.device)
