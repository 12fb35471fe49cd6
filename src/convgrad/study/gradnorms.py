"""Per-layer gradient norms: how much of the loss's gradient reaches each weighted layer.

On one fixed batch B of the training set (its first ``samples`` signals, no augmentation):

    L   = cross_entropy(model(x_B), y_B)                  the batch's mean loss
    g_l = ‖∂L/∂W_l‖ = sqrt(Σ_ij (∂L/∂W_l)_ij²)             for each convolution and linear
                                                           weight W_l, in forward order

A depth-D network of the study has exactly D such layers (``weight_layers``).  Gradients
that shrink towards the input (g_1 ≪ g_D) are the "vanishing gradients" a deep plain
network is said to suffer; ones that grow are exploding.  Measured at every evaluation of a
run (``GradientNorms``, a ``Measurement``), step 0 included, so the metrics hold them at
initialisation and during training.

The batch goes through the network in training mode — BatchNorm normalising with the
batch's own statistics, as every training step does; eval mode would use the running
statistics, which at initialisation are still (0, 1) — but through a copy of the network:
the run's weights, BatchNorm running statistics and gradients are never touched, and
convgrad's generator (which dropout draws from) is put back as it was, so a run measured
or not computes the same bits.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import functional as F
from .. import random as cg_random
from ..autograd import enable_grad
from ..creation import from_numpy
from ..train.measurements import Measurement, RunView

PREFIX = "grad_norm/"


def weight_layers(model) -> list[tuple[str, object]]:
    """The weights of the convolutions and linear layers (every parameter of two or more
    dimensions: biases and BatchNorm's scale and shift are vectors), in forward order."""
    return [(name, p) for name, p in model.named_parameters() if p.ndim >= 2]


def gradient_norms(model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """``‖∂L/∂W‖`` for each weight layer of ``model`` (see the module docstring) with
    ``L = cross_entropy(model(x), y)`` in training mode, computed on a copy of ``model``."""
    generator = cg_random.get_rng_state()
    twin = copy.deepcopy(model)       # BatchNorm's running statistics change in train mode
    try:
        twin.train()
        twin.zero_grad()
        with enable_grad():
            F.cross_entropy(twin(from_numpy(x)), from_numpy(y)).backward()
        return {name: float(np.linalg.norm(p.grad.data.astype(np.float64).ravel()))
                for name, p in weight_layers(twin)}
    finally:
        cg_random.set_rng_state(generator)


class GradientNorms(Measurement):
    """Columns ``grad_norm/<weight name>``: ``gradient_norms`` on the first ``samples``
    training samples (default: one training batch, ``config.batch_size``)."""

    def __init__(self, samples: int | None = None):
        self.samples = samples

    def columns(self, run: RunView) -> list[str]:
        return [PREFIX + name for name, _ in weight_layers(run.backend.model)]

    def measure(self, run: RunView) -> dict[str, float]:
        n = self.samples or run.config.batch_size
        norms = gradient_norms(run.backend.model, run.data.train_x[:n], run.data.train_y[:n])
        return {PREFIX + name: value for name, value in norms.items()}


def layer_norms(row: dict) -> list[float]:
    """A metrics row's gradient norms, in forward order (the order of its columns)."""
    return [value for key, value in row.items() if key.startswith(PREFIX)]
