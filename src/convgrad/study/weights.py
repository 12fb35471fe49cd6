"""A model's parameters as one flat vector θ, read and written in place.

    θ = concat(p.ravel() for p in model.parameters())        (named_parameters order)

A landscape moves the model to θ* + αδ + βη thousands of times: ``WeightSpace.set``
copies a vector into the parameters' own arrays (no new modules, no new arrays), so the
model object, its buffers (BatchNorm's running statistics) and its hooks stay as they are.
The vectors themselves are float64, whatever the model's dtype, so that sums of
directions do not round twice.

A parameter is a *filter* parameter when it has two or more dimensions (a convolution's
``(C_out, C_in, k…)`` weight, a Linear layer's ``(out, in)`` weight); its filters are
its slices along axis 0 — one output channel of a convolution, one output neuron (a row)
of a Linear layer — as in Li et al.'s code.  One-dimensional parameters are the biases
and BatchNorm's scale γ and shift β ("biasbn").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Block:
    """One parameter's place in the flat vector."""
    name: str
    shape: tuple
    start: int
    stop: int

    @property
    def is_filter(self) -> bool:
        """Two or more dimensions: filters along axis 0 (else a bias or BatchNorm's γ/β)."""
        return len(self.shape) >= 2

    @property
    def filters(self) -> int:
        return self.shape[0] if self.is_filter else 0


class WeightSpace:
    """The parameters of ``model`` as one float64 vector (see the module docstring)."""

    def __init__(self, model):
        self.model = model
        self.parameters = [p for _, p in model.named_parameters()]
        blocks, start = [], 0
        for name, parameter in model.named_parameters():
            size = int(parameter.data.size)
            blocks.append(Block(name, tuple(parameter.shape), start, start + size))
            start += size
        self.blocks = tuple(blocks)
        self.size = start

    def get(self) -> np.ndarray:
        """θ: a float64 copy of the parameters."""
        vector = np.empty(self.size, np.float64)
        for block, parameter in zip(self.blocks, self.parameters):
            vector[block.start:block.stop] = parameter.data.ravel()
        return vector

    def set(self, vector: np.ndarray) -> None:
        """Write ``vector`` into the parameters' arrays in place (cast to their dtype)."""
        if vector.shape != (self.size,):
            raise ValueError(f"a weight vector of this model has {self.size} entries, "
                             f"got shape {vector.shape}")
        for block, parameter in zip(self.blocks, self.parameters):
            np.copyto(parameter.data, vector[block.start:block.stop].reshape(block.shape),
                      casting="same_kind")

    def view(self, vector: np.ndarray, block: Block) -> np.ndarray:
        """``vector``'s entries of ``block``, in the parameter's shape (a view)."""
        return vector[block.start:block.stop].reshape(block.shape)

    def gradient(self) -> np.ndarray:
        """The parameters' ``.grad`` as one float64 vector (zeros where there is none)."""
        vector = np.zeros(self.size, np.float64)
        for block, parameter in zip(self.blocks, self.parameters):
            if parameter.grad is not None:
                vector[block.start:block.stop] = parameter.grad.data.ravel()
        return vector
