"""A study's cost, estimated before it starts by timing each network here and now.

    run ≈ (steps left) × t_step                                 training
        + (evaluations left) × (n_train + n_test) × t_sample    test set and TrainingSet
        + (evaluations left) × t_step                           gradient norms, one batch

``t_step``: the median of three training steps (after one to warm up) on a random batch of
the recipe's size; ``t_sample``: one evaluation pass over up to 1,000 random samples, per
sample.  A figure to plan by: other programs sharing the cores slow the real run down.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import random as cg_random
from ..data.dataset import Dataset
from ..train.backend import NumpyBackend
from ..train.checkpoint import latest_checkpoint
from ..train.config import TrainConfig
from ..train.meta import folder_step
from .depth import Network, StudyPlan, is_finished

CALIBRATION_SAMPLES = 1000


@dataclass(frozen=True)
class RunCost:
    network: Network
    steps_left: int
    seconds: float


def time_network(config: TrainConfig, data: Dataset) -> tuple[float, float]:
    """``(t_step, t_sample)`` of ``config``'s model, in seconds; convgrad's generator is
    left as it was."""
    generator = cg_random.get_rng_state()
    try:
        backend = NumpyBackend(config, data.num_classes, total_steps=10)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((config.batch_size, *data.input_shape)).astype(np.float32)
        y = rng.integers(0, data.num_classes, config.batch_size)
        times = []
        for _ in range(4):
            start = time.perf_counter()
            backend.train_step(x, y)
            times.append(time.perf_counter() - start)
        n = min(CALIBRATION_SAMPLES, data.num_train)
        samples = rng.standard_normal((n, *data.input_shape)).astype(np.float32)
        start = time.perf_counter()
        backend.evaluate(samples, rng.integers(0, data.num_classes, n), data.classes,
                         config.eval_batch_size)
        return statistics.median(times[1:]), (time.perf_counter() - start) / n
    finally:
        cg_random.set_rng_state(generator)


def steps_done(run_dir: Path) -> int:
    checkpoint = latest_checkpoint(run_dir) if run_dir.is_dir() else None
    return (folder_step(checkpoint) or 0) if checkpoint is not None else 0


def estimate(plan: StudyPlan, study_dir: Path, data: Dataset) -> list[RunCost]:
    """The cost of every run the study has left to train (none for finished runs)."""
    costs = []
    for network in plan.networks:
        run_dir = study_dir / network.model
        config = plan.config_of(network)
        total = config.total_steps(data.num_train // config.batch_size)
        left = 0 if is_finished(run_dir) else total - steps_done(run_dir)
        if left <= 0:
            costs.append(RunCost(network, 0, 0.0))
            continue
        t_step, t_sample = time_network(config, data)
        every = config.eval_every or total
        evaluations = math.ceil(left / every) + 1
        seconds = left * t_step + evaluations * ((data.num_train + data.num_test) * t_sample
                                                 + t_step)
        costs.append(RunCost(network, left, seconds))
    return costs


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
