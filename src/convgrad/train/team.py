"""The processes that train one run together: one (``ALONE``, every NumPy run), or N
data-parallel processes of ``--backend torch --nproc N`` (``torch_backend/team.py``).

Every process of a team runs the same loop over the same batches: the same DataLoader
(seed, shuffled order) and the same augmentation stream make each process hold the whole
augmented batch of B samples; process r trains on its share,

    shard r = samples [r·B/N, (r+1)·B/N)   of every batch,

and the gradient of the batch's mean loss is the mean of the N shards' gradients (the
engine averages them, and synchronises batch norm's statistics over the whole batch), so N
processes follow the single-process run with batch B.  Process 0, the writer, does what
touches the run folder: the lock, config.json, evaluations, metrics, checkpoints, plots,
the summary; the others only train.

After each step the team adds up what every process saw (``combine``): the batch's mean
loss, its correct predictions, and whether any process was asked to stop (Ctrl-C,
SIGTERM) — so all stop after the same step, and the writer's checkpoint is the whole
team's.  On resume the writer reads the checkpoint and ``share_checkpoint`` hands it to
the others (they may run on machines without the run folder).

A process of a team that dies (killed, crashed) makes the others' next exchange fail:
they raise ``TeamError``, one line, and ``--resume`` continues from the latest checkpoint.
"""
from __future__ import annotations

import os
import sys
from typing import NoReturn

import numpy as np

from .checkpoint import pack_checkpoint, unpack_checkpoint


class TeamError(RuntimeError):
    """Another process of the run stopped (killed, crashed, or its machine went away)."""


class Team:
    """One process training alone: the base of every team (see the module docstring).

    A team of several processes overrides ``all_sum`` and ``broadcast``.
    """

    rank = 0          # this process's place in the team
    size = 1          # processes in the team
    local_rank = 0    # its place among the team's processes on this machine (its GPU)

    @property
    def writes(self) -> bool:
        return self.rank == 0

    def shard(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This process's share of a batch: samples [rank·B/N, (rank+1)·B/N)."""
        if self.size == 1:
            return x, y
        share = len(y) // self.size
        part = slice(self.rank * share, (self.rank + 1) * share)
        return x[part], y[part]

    def combine(self, loss: float, correct: int, stop: bool) -> tuple[float, int, bool]:
        """The whole batch's mean loss (the mean of the equal shards' means), its correct
        predictions, and whether any process asked to stop."""
        if self.size == 1:
            return loss, correct, stop
        loss_sum, correct_sum, stops = self.all_sum([loss, correct, float(stop)])
        return loss_sum / self.size, int(round(correct_sum)), stops > 0

    def share(self, data: bytes | None) -> bytes:
        """The writer's ``data`` on every process (the others pass None)."""
        if self.size == 1:
            return data
        return self.broadcast(data)

    def share_checkpoint(self, checkpoint):
        """The writer's checkpoint (or None) on every process."""
        if self.size == 1:
            return checkpoint
        packed = self.share(pack_checkpoint(checkpoint) if self.writes else None)
        return unpack_checkpoint(packed)

    # -- what a team of several processes implements -----------------------------------
    def all_sum(self, values: list[float]) -> list[float]:
        """Each value summed over every process (in float64)."""
        raise NotImplementedError

    def broadcast(self, data: bytes | None) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Leave the team (nothing to do alone)."""


ALONE = Team()


def end_team_process(status: int) -> NoReturn:
    """End a process of a team, its run written and its process group closed: exit with
    ``status`` now, what it printed flushed, without the interpreter's shutdown.

    Why: with PyTorch 2.13's gloo, a thread of the process group can outlive
    ``destroy_process_group`` and abort the interpreter's shutdown ("terminate called
    without an active exception", SIGABRT) — 3 of 12 exits of a minimal two-process script
    here, none with ``os._exit`` — and torchrun then reports the process as killed, after a
    run that finished or a process that said why it stopped.  Nothing of a run waits for
    the shutdown: its files are written (atomically) and closed before.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def started_by_torchrun(environ=os.environ) -> bool:
    """Whether torchrun (``torch.distributed.run``), or a launcher like it, started this
    process as one of a team: it sets where the process stands in the environment."""
    return all(name in environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK",
                                            "MASTER_ADDR", "MASTER_PORT"))
