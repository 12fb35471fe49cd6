"""Shuffled positions: every sample's positions reordered by one fixed permutation.

The MNIST-1D paper's test of locality (Greydanus 2020): draw one permutation of the 40
positions, apply it to every training and test signal, and train again.  A dense layer does
not care — permuting its inputs only permutes the columns of its weight matrix — so logistic
regression and the MLP keep their accuracy (32%, 68%); a convolution does, since its
neighbours ``x[t+τ]`` are no longer neighbours, and the CNN falls from 94% to 56%.

    perm = position_permutation((1, 40), seed=0)      # one permutation of 0..39
    x_shuffled = permute_positions(x, perm)           # out[n, c, i] = x[n, c, perm[i]]
    data = shuffle_positions(load_dataset("mnist1d"), seed=0)   # train and test alike

For images, the positions are the H·W pixels (flattened in row-major order; every channel
moves with its pixel).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .dataset import Dataset

# The permutation draws from its own stream of the seed, apart from the loader's shuffling
# (``seed``) and the augmentation's (``[seed, 1]``).
STREAM = 2


def position_permutation(input_shape: tuple, seed: int) -> np.ndarray:
    """One permutation of the positions of a sample of shape ``input_shape`` (channels
    first), drawn from ``seed``: the same seed gives the same permutation."""
    if len(input_shape) < 2:
        raise ValueError(f"position_permutation: input_shape must be (C, L) or (C, H, W), "
                         f"got {tuple(input_shape)}")
    positions = math.prod(input_shape[1:])
    return np.random.default_rng([int(seed), STREAM]).permutation(positions)


def permute_positions(x: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """``x`` (N, C, *spatial) with every sample's positions reordered:
    ``out[n, c, i] = x[n, c, permutation[i]]`` over the flattened spatial axes."""
    if not isinstance(x, np.ndarray) or x.ndim < 3:
        raise ValueError(f"permute_positions: expected a batch (N, C, L) or (N, C, H, W), got "
                         f"shape {getattr(x, 'shape', None)}")
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    positions = flat.shape[2]
    permutation = np.asarray(permutation)
    if not np.array_equal(np.sort(permutation), np.arange(positions)):
        raise ValueError(f"permute_positions: expected a permutation of the {positions} "
                         f"positions of {x.shape[2:]}, got {permutation.size} values that are "
                         f"not one")
    return flat[:, :, permutation].reshape(x.shape)


def shuffle_positions(data: Dataset, seed: int) -> Dataset:
    """``data`` with one permutation (drawn from ``seed``) applied to every training and test
    sample alike."""
    permutation = position_permutation(data.input_shape, seed)
    return dataclasses.replace(
        data, train_x=permute_positions(data.train_x, permutation),
        test_x=permute_positions(data.test_x, permutation),
        source=f"{data.source or data.name}, positions shuffled (seed {seed})")
