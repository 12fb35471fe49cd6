"""Training throughput of the backends: images per second of a ResNet-20 step.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/backends.py \
        [--batch 128] [--steps 10] [--warmup 3] [--threads 2]

Rows (each in its own process or processes, benchmarks/harness.py):
* numpy     convgrad's NumPy engine (``--backend numpy``), one process, ``--threads``;
* torch     the torch backend (``--backend torch``), one process, ``--threads``;
* torch ×2  the torch backend on 2 processes started by torchrun (``--nproc 2``), gloo,
            each with ``--threads / 2`` threads and half of every batch: DistributedData-
            Parallel's gradient all-reduce, synced batch norm and the step's combined loss
            included — the cost of scaling out on one machine's cores;
* cuda      the torch backend on the GPU, one process, when PyTorch sees one (else
            skipped).

A step is what the training loop asks of the backend (``Backend.train_step`` on the
process's shard, then ``Team.combine``): forward, cross-entropy, backward, SGD with
momentum 0.9 and weight decay 1e-4 (He et al.'s recipe), on CIFAR-shaped random data;
data loading and augmentation, the same for every backend, are not in it.  Medians after
a warm-up; images/s = batch / median step time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import emit, engine_settings, median_ms, run_child  # noqa: E402


def _step(backend_name: str, batch: int, steps: int, warmup: int, team=None,
          device: str = "cpu") -> dict:
    """The median ms of a ResNet-20 step on ``backend_name`` (in this process)."""
    import numpy as np

    from convgrad.train import TrainConfig
    from convgrad.train.team import ALONE

    team = team or ALONE
    config = TrainConfig(model="resnet20", backend=backend_name, batch_size=batch,
                         steps=warmup + steps, device=device if backend_name == "torch"
                         else "auto", nproc=team.size)
    if backend_name == "torch":
        from convgrad.train.torch_backend import TorchBackend as Backend
    else:
        from convgrad.train.backend import NumpyBackend as Backend
    backend = Backend(config, 10, config.steps, team)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, batch)

    def step():
        loss, correct = backend.train_step(*team.shard(x, y))
        team.combine(loss, correct, False)

    with engine_settings("convgrad" if backend_name == "numpy" else "torch"):
        ms = median_ms(step, warmup, steps)
    return {"ms": ms, "images_per_s": batch / ms * 1e3}


def _worker(options) -> None:
    if options.worker == "ddp":
        import torch

        from convgrad.train.team import end_team_process
        from convgrad.train.torch_backend.team import join_team

        torch.set_num_threads(max(1, options.threads // 2))
        team = join_team()
        result = _step("torch", options.batch, options.steps, options.warmup, team)
        if team.writes:
            emit(result)
        team.close()
        end_team_process(0)     # as every process of a team ends (train/team.py)
    if options.worker in ("torch", "cuda"):
        import torch

        torch.set_num_threads(options.threads)
        if options.worker == "cuda" and not torch.cuda.is_available():
            emit(None)
            return
    emit(_step("numpy" if options.worker == "numpy" else "torch", options.batch,
               options.steps, options.warmup,
               device="cuda" if options.worker == "cuda" else "cpu"))


def _two_processes(options) -> dict:
    """The torch backend on 2 processes, started by torchrun as ``--nproc 2`` starts them."""
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, options.threads // 2)))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node=2", os.path.abspath(__file__), "--worker", "ddp",
               *_shared_arguments(options)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the 2-process benchmark failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _shared_arguments(options) -> list[str]:
    return ["--batch", str(options.batch), "--steps", str(options.steps), "--warmup",
            str(options.warmup), "--threads", str(options.threads)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", choices=("numpy", "torch", "ddp", "cuda"))
    options = parser.parse_args()
    if options.worker:
        _worker(options)
        return
    half = max(1, options.threads // 2)
    rows = [
        (f"numpy    1 process  × {options.threads} threads",
         run_child(__file__, options.threads, ["--worker", "numpy", *_shared_arguments(options)])),
        (f"torch    1 process  × {options.threads} threads",
         run_child(__file__, options.threads, ["--worker", "torch", *_shared_arguments(options)])),
        (f"torch    2 processes × {half} thread{'s' if half > 1 else ''} (DDP, gloo)",
         _two_processes(options)),
        ("torch    cuda, 1 process",
         run_child(__file__, options.threads, ["--worker", "cuda", *_shared_arguments(options)])),
    ]
    print(f"ResNet-20 training step, batch {options.batch}, CIFAR shape; median of "
          f"{options.steps} steps after {options.warmup}")
    print(f"{'backend':<44} {'ms/step':>9} {'images/s':>9} {'vs numpy':>9}")
    base = rows[0][1]["images_per_s"]
    for name, result in rows:
        if result is None:
            print(f"{name:<44} {'skipped: PyTorch sees no CUDA GPU here':>29}")
            continue
        print(f"{name:<44} {result['ms']:>9.1f} {result['images_per_s']:>9.0f} "
              f"{result['images_per_s'] / base:>8.2f}×")


if __name__ == "__main__":
    main()
