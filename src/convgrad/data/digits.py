"""scikit-learn's bundled 8×8 handwritten digits (UCI optdigits test set): no download.

1797 grey images of the digits 0–9, each 8×8 with integer intensities 0–16.  We scale them
to [0, 1] (divide by 16) and lay them out as float32 ``(N, 1, 8, 8)`` (NCHW).

scikit-learn ships no train/test split, so we make one that never changes: a permutation
drawn from ``numpy.random.default_rng(SPLIT_SEED)``, its first 1437 samples for training and
the last 360 (20%) for testing.
"""
from __future__ import annotations

import numpy as np

from .dataset import Dataset
from .errors import DataError

SPLIT_SEED = 0
NUM_TEST = 360  # 20% of 1797; the other 1437 train
CLASSES = tuple(str(digit) for digit in range(10))


def load_digits() -> Dataset:
    """The 8×8 digits as a Dataset: 1437 train / 360 test, float32 ``(N, 1, 8, 8)`` in [0, 1]."""
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as error:
        raise DataError(f"the 'digits' data set comes with scikit-learn, which could not be "
                        f"imported ({error}); install it with: pip install 'convgrad[train]'"
                        ) from error
    bunch = sklearn_load_digits()
    images = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0))[:, None, :, :]
    labels = np.asarray(bunch.target, dtype=np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    train, test = order[:-NUM_TEST], order[-NUM_TEST:]
    return Dataset(name="digits", train_x=images[train], train_y=labels[train],
                   test_x=images[test], test_y=labels[test], classes=CLASSES,
                   input_shape=images.shape[1:], source="sklearn.datasets.load_digits")
