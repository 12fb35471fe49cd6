"""MNIST and Fashion-MNIST from their IDX files, raw or gzipped.

The IDX format (LeCun et al.) is a 4-byte magic number, then one big-endian uint32 per
dimension, then the values in row-major order, big-endian:

    byte 0, 1   always 0
    byte 2      element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte 3      number of dimensions d
    4 · d bytes the size of each dimension (big-endian uint32)
    the data    ∏ sizes · itemsize bytes

so MNIST's image files start ``00 00 08 03`` (uint8, 3 dims: N, 28, 28) and its label files
``00 00 08 01`` (uint8, 1 dim: N).  Every check names the file and what is wrong with it.

A folder holds the four files under their original names, each either raw or with ``.gz``:
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``.  We also look in ``raw/`` and in torchvision's layout
(``MNIST/raw/``, ``FashionMNIST/raw/``).  Images become float32 ``(N, 1, H, W)`` in [0, 1].
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .dataset import Dataset
from .errors import DataNotFoundError, format_error

# element-type code -> big-endian NumPy dtype
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"

FILES = {  # role -> base file name
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CLASSES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
}
TORCHVISION_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, decompressed if it is gzip (recognised by its magic, not its name)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError as error:
        raise DataNotFoundError(f"{path}: no such file") from error
    except OSError as error:
        raise format_error(path, f"cannot be read ({error.strerror or error})") from error
    if raw[:2] != GZIP_MAGIC:
        if path.suffix == ".gz":
            raise format_error(path, "is named .gz but is not gzip data (no 1f 8b magic)")
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as error:
        raise format_error(path, "truncated gzip stream (the download or copy was cut short)"
                           ) from error
    except (OSError, zlib.error) as error:
        raise format_error(path, f"corrupt gzip data ({error})") from error


def parse_idx(data: bytes, path: str | Path = "<bytes>") -> np.ndarray:
    """Parse IDX bytes into an array of native byte order; ``path`` is used in messages."""
    if len(data) < 4:
        raise format_error(path, f"truncated: {len(data)} bytes, too short for the 4-byte IDX "
                                 f"magic number")
    if data[0] != 0 or data[1] != 0:
        raise format_error(path, f"bad magic number 0x{data[:4].hex()}: an IDX file starts with "
                                 f"two zero bytes (MNIST images: 0x00000803, labels: 0x00000801)")
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise format_error(path, f"bad magic number 0x{data[:4].hex()}: unknown element type "
                                 f"0x{type_code:02X} (known: {known})")
    if ndim == 0:
        raise format_error(path, f"bad magic number 0x{data[:4].hex()}: zero dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise format_error(path, f"truncated: the header needs {header_size} bytes for "
                                 f"{ndim} dimension sizes, the file holds {len(data)}")
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_size
    if found < expected:
        raise format_error(path, f"truncated: the header promises shape {shape} "
                                 f"({expected} bytes of {dtype.name}), the file holds "
                                 f"{found} bytes after the header")
    if found > expected:
        raise format_error(path, f"{found - expected} unexpected bytes after the {expected} "
                                 f"bytes of data that the header's shape {shape} describes")
    values = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (raw or .gz) into an array."""
    return parse_idx(read_bytes(path), path)


def find_folder_files(root: str | Path, name: str = "mnist") -> dict[str, Path]:
    """The four IDX files under ``root`` (each raw or .gz); ``DataNotFoundError`` lists any
    that are missing and where we looked."""
    root = Path(root)
    folders = [root, root / "raw", root / TORCHVISION_FOLDERS.get(name, "MNIST") / "raw"]
    found, missing = {}, []
    for role, base in FILES.items():
        candidates = [folder / f"{base}{suffix}" for folder in folders for suffix in ("", ".gz")]
        hit = next((path for path in candidates if path.is_file()), None)
        if hit is None:
            missing.append(f"{base}[.gz]")
        else:
            found[role] = hit
    if missing:
        raise DataNotFoundError(f"{root}: {name} files not found: {', '.join(missing)} (looked in "
                                f"{', '.join(str(f) for f in folders)}); pass download=True "
                                f"(convgrad train --download) to fetch them")
    return found


def read_split(images_path: Path, labels_path: Path, num_classes: int) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """One split's images (float32 ``(N, 1, H, W)`` in [0, 1]) and labels (int64 ``(N,)``)."""
    images = read_idx(images_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise format_error(images_path, f"expected uint8 images of 3 dimensions (N, H, W), "
                                        f"found {images.dtype} of shape {images.shape}")
    labels = read_idx(labels_path)
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise format_error(labels_path, f"expected uint8 labels of 1 dimension (N,), "
                                        f"found {labels.dtype} of shape {labels.shape}")
    if len(images) != len(labels):
        raise format_error(labels_path, f"holds {len(labels)} labels but {images_path} holds "
                                        f"{len(images)} images")
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        raise format_error(labels_path, f"label {labels[bad[0]]} at index {bad[0]} is out of "
                                        f"range [0, {num_classes}) ({bad.size} bad labels)")
    x = np.divide(images, np.float32(255.0), dtype=np.float32)[:, None, :, :]
    return x, labels.astype(np.int64)


def load_idx_dataset(root: str | Path, name: str = "mnist") -> Dataset:
    """MNIST (``name="mnist"``) or Fashion-MNIST (``"fashion-mnist"``) from a local folder."""
    classes = CLASSES[name]
    files = find_folder_files(root, name)
    train_x, train_y = read_split(files["train_images"], files["train_labels"], len(classes))
    test_x, test_y = read_split(files["test_images"], files["test_labels"], len(classes))
    if train_x.shape[1:] != test_x.shape[1:]:
        raise format_error(files["test_images"], f"images are {test_x.shape[2:]} but the "
                                                 f"training images are {train_x.shape[2:]}")
    return Dataset(name=name, train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y,
                   classes=classes, input_shape=train_x.shape[1:], source=str(Path(root)))
