"""The processes torchrun started, as a ``Team`` (``train/team.py``) over torch.distributed.

torchrun (``torch.distributed.run``) gives each process its place in the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``);
``join_team()`` reads it and opens the process group: gloo for CPU tensors, and NCCL for
CUDA tensors where there is a GPU (``"cpu:gloo,cuda:nccl"``: the run's device is only
known once process 0 has shared the config).  The team's own exchanges (the config, a
checkpoint, each step's loss) are small CPU tensors, over gloo.

A process that dies closes its connections: the others' next exchange — a gradient
all-reduce, a batch norm's statistics, the step's loss — fails at once, and
``peers_lost_as_team_error`` turns that failure into a ``TeamError`` of one line.
"""
from __future__ import annotations

import contextlib
import os
import re

import torch
import torch.distributed as dist

from ..team import Team, TeamError

# What a lost peer looks like in torch.distributed's errors (gloo names its transport, NCCL
# itself); torch.distributed.DistError covers the errors torch classifies.
_LOST_PEER = re.compile(r"gloo|nccl|connection (closed|reset) by peer|broken pipe", re.I)


class ProcessTeam(Team):
    def __init__(self):
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        with peers_lost_as_team_error():
            dist.init_process_group(backend)
        self.rank = dist.get_rank()
        self.size = dist.get_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))

    def all_sum(self, values: list[float]) -> list[float]:
        summed = torch.tensor(values, dtype=torch.float64)
        with peers_lost_as_team_error():
            dist.all_reduce(summed)
        return summed.tolist()

    def broadcast(self, data: bytes | None) -> bytes:
        """Process 0's bytes: their length first, then the bytes."""
        length = torch.tensor([len(data) if self.writes else 0], dtype=torch.int64)
        with peers_lost_as_team_error():
            dist.broadcast(length, src=0)
            if not length.item():
                return b""
            buffer = torch.frombuffer(bytearray(data), dtype=torch.uint8) if self.writes \
                else torch.empty(int(length.item()), dtype=torch.uint8)
            dist.broadcast(buffer, src=0)
        return buffer.numpy().tobytes()

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def join_team() -> ProcessTeam:
    """This process's team, from the environment torchrun set."""
    return ProcessTeam()


def lost_peer(error: BaseException) -> bool:
    return isinstance(error, dist.DistError) or (
        isinstance(error, RuntimeError) and bool(_LOST_PEER.search(str(error))))


@contextlib.contextmanager
def peers_lost_as_team_error():
    """torch.distributed's failure when another process is gone, as a ``TeamError``."""
    try:
        yield
    except TeamError:
        raise
    except RuntimeError as error:
        if not lost_peer(error):
            raise
        # "[/path/to/gloo/transport/tcp/pair.cc:553] Connection closed by peer [...]. This is
        # typically caused by...": the first sentence, without the source location.
        reason = re.sub(r"^\[[^\]]*\]\s*", "", str(error).strip().splitlines()[0])
        reason = reason.split(". ")[0].rstrip(".")
        raise TeamError(f"lost contact with another process of the run ({reason}): it was "
                        f"killed, crashed or its machine went away") from None
