"""Measurements: numbers added to every metrics row, taken at each evaluation.

Every evaluation writes one row: the step, epoch, learning rate, the training window's
loss and accuracy, the test set's loss and accuracy, the training time.  A study that needs
more at the same moments (the loss on the whole training set, a norm per layer...) passes
``measurements`` to the ``Trainer``; each one adds its own columns to ``metrics.jsonl`` and
``metrics.csv``::

    class WeightNorms(Measurement):
        def columns(self, run):
            return [f"norm/{name}" for name, _ in run.backend.model.named_parameters()]

        def measure(self, run):
            return {f"norm/{name}": float(np.linalg.norm(p.data))
                    for name, p in run.backend.model.named_parameters()}

    Trainer(config, "runs/x", measurements=[TrainingSet(), WeightNorms()]).run()

``columns`` is asked once, after the model is built (so column names may depend on it);
``measure`` at every evaluation, after the test set's, with the model in training mode as
the loop left it.  A measurement must leave the run as it found it: the model's mode,
weights and buffers, and every random generator (so a resumed run still computes the same
bits); read-only work in ``no_grad`` and eval mode does (``Backend.evaluate`` switches the
mode and restores it).  Values are numbers or None; non-finite ones are written as null in
JSON (and as ``nan``/``inf`` in the CSV).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.dataset import Dataset
from .config import TrainConfig


@dataclass(frozen=True)
class RunView:
    """What a measurement may read: the run at the step being evaluated."""
    step: int
    config: TrainConfig
    data: Dataset
    backend: object           # a Backend (backend.py): .model, .evaluate(...)


class Measurement:
    """Columns of the metrics rows, measured at each evaluation (see the module docstring)."""

    def columns(self, run: RunView) -> list[str]:
        raise NotImplementedError

    def measure(self, run: RunView) -> dict[str, float | None]:
        raise NotImplementedError


class TrainingSet(Measurement):
    """Loss and accuracy on the whole training set, in eval mode, without augmentation —
    what He et al. (2016, Fig. 1) plot as training error, unlike the ``train_loss`` of a
    row, which averages the batches since the last row while the weights were changing."""

    def columns(self, run: RunView) -> list[str]:
        return ["train_set_loss", "train_set_acc"]

    def measure(self, run: RunView) -> dict[str, float | None]:
        result = run.backend.evaluate(run.data.train_x, run.data.train_y, run.data.classes,
                                      run.config.eval_batch_size)
        return {"train_set_loss": result.loss, "train_set_acc": result.accuracy}


class Measurements:
    """The measurements of one run, their columns fixed when it starts."""

    def __init__(self, measurements, run: RunView, taken: tuple[str, ...]):
        self.measurements = list(measurements)
        self.columns: list[str] = []
        for measurement in self.measurements:
            for name in measurement.columns(run):
                if not isinstance(name, str) or not name or name in taken \
                        or name in self.columns:
                    raise ValueError(f"{type(measurement).__name__}: column {name!r} is "
                                     f"empty or already taken")
                self.columns.append(name)

    def take(self, run: RunView) -> dict:
        """One evaluation's values of every measurement (ValueError for a value under a
        name its measurement did not declare)."""
        values = {}
        for measurement in self.measurements:
            for name, value in measurement.measure(run).items():
                if name not in self.columns:
                    raise ValueError(f"{type(measurement).__name__}: measured {name!r}, "
                                     f"which is not one of its columns")
                values[name] = None if value is None else _number(value)
        return values


def _number(value):
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    return float(value)
