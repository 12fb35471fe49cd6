"""The ``Dataset`` record every loader returns: NumPy arrays plus what they mean.

Inputs are float32 in PyTorch's layouts, one sample per row of the first axis:

* signals: ``(N, C, L)`` (NCL), e.g. MNIST-1D ``(4000, 1, 40)``;
* images: ``(N, C, H, W)`` (NCHW), e.g. CIFAR-10 ``(50000, 3, 32, 32)``.

Labels are int64 class indices in ``[0, num_classes)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test pair of arrays.

    Attributes:
        name: the registry name (``"mnist1d"``, ``"cifar10"``...).
        train_x, test_x: float32 inputs, ``(N, *input_shape)``.
        train_y, test_y: int64 labels, ``(N,)``.
        classes: one human-readable name per class index.
        input_shape: the shape of one sample, e.g. ``(1, 40)`` or ``(3, 32, 32)``.
        source: where the arrays came from (a cache file or a folder), for messages.
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: tuple[str, ...]
    input_shape: tuple[int, ...]
    source: str = ""

    def __post_init__(self):
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        for split in ("train", "test"):
            x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
            if not isinstance(x, np.ndarray) or x.dtype != np.float32:
                raise TypeError(f"Dataset {self.name!r}: {split}_x must be a float32 ndarray, "
                                f"got {getattr(x, 'dtype', type(x).__name__)}")
            if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
                raise TypeError(f"Dataset {self.name!r}: {split}_y must be a 1-D int64 ndarray, "
                                f"got {getattr(y, 'dtype', type(y).__name__)} with shape "
                                f"{getattr(y, 'shape', None)}")
            if x.shape[1:] != self.input_shape:
                raise ValueError(f"Dataset {self.name!r}: {split}_x has samples of shape "
                                 f"{x.shape[1:]}, but input_shape is {self.input_shape}")
            if len(x) != len(y):
                raise ValueError(f"Dataset {self.name!r}: {split}_x has {len(x)} samples but "
                                 f"{split}_y has {len(y)} labels")
            if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
                raise ValueError(f"Dataset {self.name!r}: {split}_y holds labels in "
                                 f"[{y.min()}, {y.max()}], outside [0, {len(self.classes)})")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_train(self) -> int:
        return len(self.train_y)

    @property
    def num_test(self) -> int:
        return len(self.test_y)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, train={self.num_train}, test={self.num_test}, "
                f"input_shape={self.input_shape}, classes={self.num_classes}"
                + (f", source={self.source!r})" if self.source else ")"))
