"""Li et al.'s (2018) filter-normalised random directions.

A direction δ is drawn from a standard Gaussian with the shape of every parameter, then
each filter is rescaled to the norm of the same filter of the trained weights θ*:

    δ_{i,j} ← δ_{i,j} / ‖δ_{i,j}‖ · ‖θ*_{i,j}‖        (filter j of layer i)

A filter is a slice along axis 0 of a parameter with two or more dimensions: one output
channel of a convolution (all its input channels and taps), one output neuron — a row —
of a Linear layer (``weights.py``).  Why: a ReLU network followed by BatchNorm computes the
same function when a filter is scaled, so a plain Gaussian direction would look "flat"
along big filters and "sharp" along small ones; normalising per filter makes a step of 1
along δ the size of the network's own filters everywhere, and two networks' plots
comparable.

One-dimensional parameters (biases, BatchNorm's γ and β) follow ``biasbn``:

    zero      δ = 0 there: they keep their trained values across the whole plot
              (Li et al.'s default, ``ignore='biasbn'``)
    weights   δ = θ* there: a step α scales each of them by (1 + α)
              (Li et al.'s code without ``ignore``)
"""
from __future__ import annotations

import numpy as np

from .weights import WeightSpace

BIASBN = {
    "zero": "directions are 0 in biases and BatchNorm's scale and shift, which keep their "
            "trained values across the plot (Li et al.'s default)",
    "weights": "the direction there is the trained value itself, so a step a scales each "
               "bias, scale and shift by (1 + a) (Li et al.'s code without ignore='biasbn')",
}


def filter_normalise(direction: np.ndarray, theta: np.ndarray, space: WeightSpace,
                     biasbn: str = "zero") -> np.ndarray:
    """A copy of ``direction`` with each filter rescaled to θ*'s filter norm and the
    one-dimensional parameters set as ``biasbn`` says (see the module docstring)."""
    if biasbn not in BIASBN:
        raise ValueError(f"biasbn must be one of {', '.join(BIASBN)}, got {biasbn!r}")
    normalised = np.empty_like(direction)
    for block in space.blocks:
        d = space.view(direction, block)
        w = space.view(theta, block)
        out = space.view(normalised, block)
        if not block.is_filter:
            out[...] = 0.0 if biasbn == "zero" else w
            continue
        d_rows = d.reshape(block.filters, -1)
        w_norms = np.linalg.norm(w.reshape(block.filters, -1), axis=1, keepdims=True)
        d_norms = np.linalg.norm(d_rows, axis=1, keepdims=True)
        # A filter of θ* that is all zeros gets a zero direction (0/0 is taken as 0).
        scale = np.divide(w_norms, d_norms, out=np.zeros_like(w_norms), where=d_norms > 0)
        out.reshape(block.filters, -1)[...] = d_rows * scale
    return normalised


def random_direction(space: WeightSpace, theta: np.ndarray, seed: int, index: int,
                     biasbn: str = "zero") -> np.ndarray:
    """Direction ``index`` (0 for the x axis, 1 for y) of ``seed``: a Gaussian draw from
    its own generator (``default_rng([seed, index])``), filter-normalised to ``theta``.
    Two networks with the same parameter shapes (plain and residual twins) draw the same
    Gaussian numbers; only the normalisation to their own filters differs."""
    raw = np.random.default_rng([seed, index]).standard_normal(space.size)
    return filter_normalise(raw, theta, space, biasbn)


def filter_norms(vector: np.ndarray, space: WeightSpace) -> dict[str, np.ndarray]:
    """``‖v_{i,j}‖`` of every filter j of every filter parameter i, by parameter name."""
    return {block.name: np.linalg.norm(space.view(vector, block).reshape(block.filters, -1),
                                       axis=1)
            for block in space.blocks if block.is_filter}
