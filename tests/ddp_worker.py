"""One process of a data-parallel team, started by ``test_torch_ddp.py`` under torchrun:
the first steps of a config's run, each process training its shard of every batch.

    python -m torch.distributed.run --standalone --nproc-per-node 2 ddp_worker.py CONFIG OUT

``CONFIG`` is a TrainConfig as JSON; process 0 writes to ``OUT`` (JSON) the losses and
correct counts of the whole batches, in float64 and in float32, and the float64 run's
final weights and batch-norm statistics.  ``first_steps`` is also what the test runs in a
single process to compare.
"""
import json
import sys

import torch

from convgrad.data import DataLoader
from convgrad.train import TrainConfig
from convgrad.train.setup import load_data
from convgrad.train.team import ALONE, end_team_process
from convgrad.train.torch_backend import TorchBackend

EXACT_STEPS = 12       # in float64: the same computation as one process
ROUNDED_STEPS = 3      # in float32: before training amplifies the rounding


def first_steps(config: TrainConfig, steps: int, team=ALONE, dtype=torch.float64):
    """``([(loss, correct)] of the run's first ``steps`` batches, final state dict)``."""
    data = load_data(config)
    backend = TorchBackend(config, data.num_classes, config.steps, team, dtype=dtype)
    loader = DataLoader(data.train_x, data.train_y, config.batch_size, shuffle=True,
                        seed=config.seed, drop_last=True)
    taken = []
    for _, (x, y) in zip(range(steps), loader):
        loss, correct = backend.train_step(*team.shard(x, y))
        loss, correct, _ = team.combine(loss, correct, False)
        taken.append((loss, correct))
    return taken, {name: value.tolist() for name, value in backend.state().model.items()}


if __name__ == "__main__":
    from convgrad.train.torch_backend.team import join_team

    torch.set_num_threads(1)
    config, out = TrainConfig.from_json(sys.argv[1]), sys.argv[2]
    team = join_team()
    exact, weights = first_steps(config, EXACT_STEPS, team, torch.float64)
    rounded, _ = first_steps(config, ROUNDED_STEPS, team, torch.float32)
    if team.writes:
        with open(out, "w") as handle:
            json.dump({"float64": exact, "float32": rounded, "weights": weights,
                       "size": team.size}, handle)
    team.close()
    end_team_process(0)
