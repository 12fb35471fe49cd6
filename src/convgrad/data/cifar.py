"""CIFAR-10 from its binary version (``cifar-10-binary.tar.gz``): fixed-size records, no pickle.

Each file of ``cifar-10-batches-bin/`` (``data_batch_1.bin`` … ``data_batch_5.bin``,
``test_batch.bin``) is a run of 3073-byte records: one label byte (0–9), then 3072 pixel
bytes, the 1024 red values of the 32×32 image row by row, then the 1024 green, then the
1024 blue.  That is already channel-first, so a record's pixels reshape straight to
``(3, 32, 32)``: the NCHW layout, no transpose needed.

Images become float32 ``(N, 3, 32, 32)`` in [0, 1]: 50000 train, 10000 test.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .dataset import Dataset
from .errors import DataNotFoundError, format_error
from .files import file_size, open_regular_file, read_into

FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
IMAGE_SHAPE = (3, 32, 32)
RECORD_SIZE = 1 + 3 * 32 * 32  # 3073: label byte + pixels
MAX_RECORDS = 10000  # each of the six official batch files holds exactly 10000
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file: uint8 images ``(N, 3, 32, 32)`` and int64 labels ``(N,)``.

    The file's size is checked (whole records, at most ``MAX_RECORDS``) before it is read,
    and no more than that size is read.
    """
    path = Path(path)
    with open_regular_file(path) as handle:
        size = file_size(handle)
        if not size:
            raise format_error(path, "is empty")
        count, left_over = divmod(size, RECORD_SIZE)
        if left_over:
            raise format_error(path, f"size {size} bytes is not a multiple of the "
                                     f"{RECORD_SIZE}-byte record (1 label + 3072 pixels): "
                                     f"{count} whole records and {left_over} bytes left over; "
                                     f"the file is truncated or not the CIFAR-10 binary version")
        if count > MAX_RECORDS:
            raise format_error(path, f"size {size} bytes is {count} records, more than the "
                                     f"{MAX_RECORDS} of a CIFAR-10 batch file; refusing to "
                                     f"read it")
        records = np.empty((count, RECORD_SIZE), dtype=np.uint8)
        found = read_into(handle, records)
        if found < size:
            raise format_error(path, f"shrank while being read: {found} of {size} bytes")
    labels = records[:, 0]
    bad = np.flatnonzero(labels >= len(CLASSES))
    if bad.size:
        raise format_error(path, f"record {bad[0]} has label {labels[bad[0]]}, outside "
                                 f"[0, {len(CLASSES)}) ({bad.size} bad records); the file is "
                                 f"corrupt or not CIFAR-10 (CIFAR-100's records are 3074 bytes)")
    images = records[:, 1:].reshape(-1, *IMAGE_SHAPE)
    return images, labels.astype(np.int64)


def find_batches_folder(root: str | Path) -> Path:
    """``root`` itself if it holds the batch files, else ``root/cifar-10-batches-bin``."""
    root = Path(root)
    for folder in (root, root / FOLDER):
        # lexists, not is_file: a folder, a device or a broken link under the name is found,
        # then refused with its reason by read_batch, instead of being reported missing.
        if any(os.path.lexists(folder / name) for name in (TRAIN_FILES[0], TEST_FILES[0])):
            return folder
    raise DataNotFoundError(f"{root}: CIFAR-10 binary files not found (looked for "
                            f"{TRAIN_FILES[0]} in {root} and in {root / FOLDER}); pass "
                            f"download=True (convgrad train --download) to fetch them")


def read_files(folder: Path, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    parts = [read_batch(folder / name) for name in names]
    images = np.concatenate([images for images, _ in parts])
    labels = np.concatenate([labels for _, labels in parts])
    # One float32 result, no float temporary: 50000 images are 614 MB as float32.
    return np.divide(images, np.float32(255.0), dtype=np.float32), labels


def load_cifar10(root: str | Path) -> Dataset:
    """CIFAR-10 from ``root`` (the ``cifar-10-batches-bin`` folder or the folder holding it)."""
    folder = find_batches_folder(root)
    train_x, train_y = read_files(folder, TRAIN_FILES)
    test_x, test_y = read_files(folder, TEST_FILES)
    return Dataset(name="cifar10", train_x=train_x, train_y=train_y, test_x=test_x,
                   test_y=test_y, classes=CLASSES, input_shape=IMAGE_SHAPE, source=str(folder))
