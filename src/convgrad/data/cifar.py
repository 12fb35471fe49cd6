"""CIFAR-10 from its binary version (``cifar-10-binary.tar.gz``): fixed-size records, no pickle.

Each file of ``cifar-10-batches-bin/`` (``data_batch_1.bin`` … ``data_batch_5.bin``,
``test_batch.bin``) is a run of 3073-byte records: one label byte (0–9), then 3072 pixel
bytes, the 1024 red values of the 32×32 image row by row, then the 1024 green, then the
1024 blue.  That is already channel-first, so a record's pixels reshape straight to
``(3, 32, 32)``: the NCHW layout, no transpose needed.

Images become float32 ``(N, 3, 32, 32)`` in [0, 1]: 50000 train, 10000 test.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import Dataset
from .errors import DataNotFoundError, format_error

FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
IMAGE_SHAPE = (3, 32, 32)
RECORD_SIZE = 1 + 3 * 32 * 32  # 3073: label byte + pixels
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file: uint8 images ``(N, 3, 32, 32)`` and int64 labels ``(N,)``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise DataNotFoundError(f"{path}: no such file") from error
    except OSError as error:
        raise format_error(path, f"cannot be read ({error.strerror or error})") from error
    if not raw:
        raise format_error(path, "is empty")
    if len(raw) % RECORD_SIZE:
        raise format_error(path, f"size {len(raw)} bytes is not a multiple of the "
                                 f"{RECORD_SIZE}-byte record (1 label + 3072 pixels): "
                                 f"{len(raw) // RECORD_SIZE} whole records and "
                                 f"{len(raw) % RECORD_SIZE} bytes left over; the file is "
                                 f"truncated or not the CIFAR-10 binary version")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_SIZE)
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
        if (folder / TRAIN_FILES[0]).is_file() or (folder / TEST_FILES[0]).is_file():
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
