"""Batch transforms for data augmentation and normalisation, vectorised over the batch.

Each transform takes a whole batch, ``(N, C, L)`` signals or ``(N, C, H, W)`` images, and
draws its randomness from a ``numpy.random.Generator`` passed in by the caller, one draw
per sample, so that a seeded generator reproduces the same augmentations.  No transform
loops over samples in Python: per-sample crops are one fancy-indexing gather into a strided
view of all windows, per-sample flips one masked assignment.

    augment = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(),
                       Normalize(mean, std)])
    x_batch = augment(x_batch, rng)

The spatial axes are the ones after the channel axis; "horizontal" is the last axis (W, or
L for signals), as in torchvision.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _check_batch(x: np.ndarray, name: str) -> None:
    if not isinstance(x, np.ndarray) or x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a batch (N, C, L) or (N, C, H, W), got "
                         f"{type(x).__name__} of shape {getattr(x, 'shape', None)}")


def _need_generator(rng, name: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name}: pass a numpy.random.Generator as rng (e.g. "
                        f"numpy.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) standard deviation over every axis but axis 1."""
    axes = tuple(axis for axis in range(x.ndim) if axis != 1)
    return x.mean(axis=axes, dtype=np.float64), x.std(axis=axes, dtype=np.float64)


def normalize(x: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """``(x[:, c] − mean[c]) / std[c]`` for every channel ``c``; keeps a float ``x``'s dtype
    (an integer ``x`` gives float32)."""
    _check_batch(x, "normalize")
    channels = x.shape[1]
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
    mean = np.asarray(mean, dtype=dtype).reshape(-1)
    std = np.asarray(std, dtype=dtype).reshape(-1)
    for label, values in (("mean", mean), ("std", std)):
        if values.size not in (1, channels):
            raise ValueError(f"normalize: {label} has {values.size} values, x has "
                             f"{channels} channels (shape {x.shape})")
    if np.any(std == 0):
        raise ValueError(f"normalize: std has a zero entry ({std.tolist()}); division by zero")
    shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcast along the channel axis
    return (x.astype(dtype, copy=False) - mean.reshape(shape)) / std.reshape(shape)


def crop_at(x: np.ndarray, offsets: np.ndarray, size: Sequence[int], padding: int = 0
            ) -> np.ndarray:
    """Crop sample ``n`` of the zero-padded batch at ``offsets[n]``; a copy of shape
    ``(N, C, *size)``.

    ``offsets`` is ``(N, d)`` for ``d`` spatial axes: the window's first index along each
    axis of the *padded* sample, in ``[0, padded_size − size]``.  The gather reads from a
    strided view of every window (no copy) with one fancy index per spatial axis.
    """
    _check_batch(x, "crop_at")
    spatial = x.ndim - 2
    size = tuple(int(s) for s in size)
    offsets = np.asarray(offsets)
    if offsets.shape != (len(x), spatial):
        raise ValueError(f"crop_at: offsets must have shape {(len(x), spatial)}, "
                         f"got {offsets.shape}")
    padded = x if padding == 0 else np.pad(
        x, [(0, 0), (0, 0)] + [(padding, padding)] * spatial)
    windows = sliding_window_view(padded, size, axis=tuple(range(2, x.ndim)))
    # windows: (N, C, *positions, *size).  Indexing N and the positions with arrays,
    # the channel axis with a slice, puts the broadcast index axis first: (N, C, *size).
    index = (np.arange(len(x)), slice(None)) + tuple(offsets[:, axis] for axis in range(spatial))
    return windows[index]


def random_crop(x: np.ndarray, rng: np.random.Generator,
                size: int | Sequence[int] | None = None, padding: int = 0) -> np.ndarray:
    """Pad every spatial side with ``padding`` zeros, then crop ``size`` at a random offset
    drawn independently for each sample (``size=None`` keeps the input's size).

    Offsets are drawn with ``rng.integers(0, padded − size + 1, size=(N, d))``.
    """
    _check_batch(x, "random_crop")
    rng = _need_generator(rng, "random_crop")
    spatial = x.ndim - 2
    if padding < 0:
        raise ValueError(f"random_crop: padding must be non-negative, got {padding}")
    if size is None:
        size = x.shape[2:]
    size = (size,) * spatial if np.isscalar(size) else tuple(size)
    padded = tuple(n + 2 * padding for n in x.shape[2:])
    if len(size) != spatial or any(s <= 0 or s > p for s, p in zip(size, padded)):
        raise ValueError(f"random_crop: crop size {size} does not fit in the padded sample "
                         f"{padded} (input {x.shape[2:]} + 2·padding {padding})")
    high = np.array([p - s + 1 for p, s in zip(padded, size)])
    offsets = rng.integers(0, high, size=(len(x), spatial))
    return crop_at(x, offsets, size, padding)


def random_horizontal_flip(x: np.ndarray, rng: np.random.Generator, p: float = 0.5
                           ) -> np.ndarray:
    """Reverse the last axis of each sample with probability ``p``, chosen per sample
    (``rng.random(N) < p``); returns a new array."""
    _check_batch(x, "random_horizontal_flip")
    rng = _need_generator(rng, "random_horizontal_flip")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random_horizontal_flip: p must be in [0, 1], got {p}")
    flip = rng.random(len(x)) < p
    out = x.copy()
    out[flip] = x[flip, ..., ::-1]
    return out


class Normalize:
    """``(x − mean) / std`` per channel (see ``normalize``)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean, self.std = np.asarray(mean, np.float64), np.asarray(std, np.float64)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return normalize(x, self.mean, self.std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class RandomCrop:
    """Zero-pad by ``padding`` and crop ``size`` at a per-sample random offset."""

    def __init__(self, size: int | Sequence[int] | None = None, padding: int = 0):
        self.size, self.padding = size, padding

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return random_crop(x, rng, self.size, self.padding)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Flip each sample's last axis with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return random_horizontal_flip(x, rng, self.p)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class Compose:
    """Apply transforms in order, all drawing from the one generator passed in."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        for transform in self.transforms:
            x = transform(x, rng)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(map(repr, self.transforms)) + "])"
