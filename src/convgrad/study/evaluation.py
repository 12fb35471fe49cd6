"""The loss, accuracy and gradient of a network on a fixed training subset.

    L(θ) = (1/N) Σ_n CE(f_θ(x_n), y_n),   accuracy = (1/N) Σ_n [argmax f_θ(x_n) = y_n]

over the first N training samples, in batches of ``batch_size`` (the same batches every
time).  Values run under ``no_grad``; ``gradient`` builds the graph and returns ∇L(θ).

BatchNorm's mode (``MODES``) decides what function of θ the landscape plots:

    eval   BatchNorm normalises with the running statistics of the trained point, at every
           θ.  L is a fixed function of θ, per sample, whatever the batch size, and at θ*
           it is the trained network's own loss (what ``convgrad eval`` and the training
           set's measurement report).  Away from θ* the statistics no longer fit the
           perturbed activations, so the rise of the loss also measures how much the
           network relies on them.  Li et al.'s code evaluates this way.
    train  BatchNorm normalises each batch with that batch's statistics, as during
           training: scaling a filter that feeds a BatchNorm changes nothing, and at θ* the
           loss is the training-mode loss (not the eval loss).  It depends on the batch
           size and on which samples share a batch.  The running statistics it updates are
           restored after every evaluation.

Dropout, if a model has any, is off in both.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .. import functional as F
from ..autograd import enable_grad, no_grad
from ..creation import from_numpy
from ..nn import BatchNorm1d, BatchNorm2d
from .weights import WeightSpace

MODES = {
    "eval": "BatchNorm uses the trained point's running statistics at every point: the "
            "centre is the trained network's own (eval) loss, and away from it the fixed "
            "statistics no longer fit the perturbed activations, which adds to the rise "
            "(Li et al.'s choice)",
    "train": "BatchNorm normalises each batch of --batch-size with its own statistics, as "
             "in training: filter scale does not matter, the centre is the training-mode "
             "loss, and values depend on the batch size",
}


class SubsetLoss:
    """``L`` and the accuracy of ``model`` on ``(x, y)`` (see the module docstring)."""

    def __init__(self, model, x: np.ndarray, y: np.ndarray, batch_size: int,
                 mode: str = "eval"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if len(y) == 0:
            raise ValueError("the training subset is empty")
        self.model, self.mode, self.batch_size = model, mode, int(batch_size)
        self.space = WeightSpace(model)
        dtype = self.space.parameters[0].data.dtype
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.y = np.ascontiguousarray(y, dtype=np.int64)

    @property
    def samples(self) -> int:
        return len(self.y)

    def _batches(self):
        for start in range(0, self.samples, self.batch_size):
            stop = start + self.batch_size
            yield from_numpy(self.x[start:stop]), self.y[start:stop]

    @contextmanager
    def _mode(self):
        """The model in this evaluation's mode; afterwards every module's mode and every
        buffer (BatchNorm's running statistics) as they were."""
        modules = list(self.model.modules())
        modes = [m.training for m in modules]
        buffers = [(b, b.data.copy()) for b in self.model.buffers()]
        self.model.eval()
        if self.mode == "train":
            for module in modules:
                if isinstance(module, (BatchNorm1d, BatchNorm2d)):
                    module.train()
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                yield
        finally:
            for module, training in zip(modules, modes):
                module.training = training
            for buffer, saved in buffers:
                np.copyto(buffer.data, saved)

    def __call__(self) -> tuple[float, float]:
        """(L, accuracy) at the model's current weights."""
        loss_sum, correct = 0.0, 0
        with self._mode(), no_grad():
            for x, y in self._batches():
                out = self.model(x)
                loss_sum += float(F.cross_entropy(out, from_numpy(y), reduction="sum").item())
                correct += int(np.count_nonzero(out.data.argmax(axis=1) == y))
        return loss_sum / self.samples, correct / self.samples

    def gradient(self) -> tuple[float, np.ndarray]:
        """(L, ∇L) at the model's current weights, ∇L as one float64 vector
        (``WeightSpace`` order); each batch adds ∇ of its summed loss / N."""
        loss_sum = 0.0
        self.model.zero_grad()
        with self._mode(), enable_grad():
            for x, y in self._batches():
                loss = F.cross_entropy(self.model(x), from_numpy(y), reduction="sum")
                (loss * (1.0 / self.samples)).backward()
                loss_sum += float(loss.item())
        gradient = self.space.gradient()
        self.model.zero_grad()
        return loss_sum / self.samples, gradient
