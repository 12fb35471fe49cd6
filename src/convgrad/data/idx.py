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
import io
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .dataset import Dataset
from .errors import DataNotFoundError, format_error
from .files import file_size, open_regular_file, read_into

# element-type code -> big-endian NumPy dtype
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"
# The most data one IDX file may promise: MNIST's largest file holds 47 MB; a header that
# promises more is refused before anything is read (or inflated).
MAX_DATA_BYTES = 1 << 30
MAX_NDIM = 32            # what every NumPy version can make an array of
GZIP_OVERHEAD = 1 << 16  # gzip header (file name, comment, extra field) and trailer
TRAILING_PROBE = 1 << 16  # how far past the promised data we read to count trailing bytes

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


def read_idx(path: str | Path, max_bytes: int = MAX_DATA_BYTES) -> np.ndarray:
    """Read one IDX file, raw or gzip (recognised by its magic, not its name), into an array.

    The header is read first; the data it promises is checked against ``max_bytes`` and, for
    a raw file, against the file's size, before any of it is read.  Gzip data is inflated
    only as far as the header promises (plus a little, to name trailing bytes), so a gzip
    bomb costs no more memory than the array it claims to hold.
    """
    path = Path(path)
    with open_regular_file(path) as handle:
        size = file_size(handle)
        if handle.read(2) != GZIP_MAGIC:
            if path.suffix == ".gz":
                raise format_error(path, "is named .gz but is not gzip data (no 1f 8b magic)")
            handle.seek(0)
            return read_idx_stream(handle, path, max_bytes, raw_size=size)
        if size > gzip_size_bound(4 + 4 * MAX_NDIM + max_bytes):
            raise format_error(path, f"{size} bytes of gzip, more than any IDX file of at most "
                                     f"{max_bytes} bytes of data compresses to; refusing to "
                                     f"read it")
        handle.seek(0)
        try:
            with gzip.GzipFile(fileobj=handle, mode="rb") as stream:
                return read_idx_stream(stream, path, max_bytes, gzip_size=size)
        except EOFError as error:
            raise format_error(path, "truncated gzip stream (the download or copy was cut "
                                     "short)") from error
        except (OSError, zlib.error) as error:
            raise format_error(path, f"corrupt gzip data ({error})") from error


def parse_idx(data: bytes, path: str | Path = "<bytes>",
              max_bytes: int = MAX_DATA_BYTES) -> np.ndarray:
    """Parse IDX bytes into an array of native byte order; ``path`` is used in messages."""
    return read_idx_stream(io.BytesIO(data), path, max_bytes, raw_size=len(data))


def gzip_size_bound(content_bytes: int) -> int:
    """The most bytes a gzip file of ``content_bytes`` bytes of content can take: deflate
    stores incompressible data in blocks of at most 65535 bytes with 5 bytes of overhead
    each; the gzip header (with a file name or comment) and trailer get 64 KiB."""
    return content_bytes + 5 * (content_bytes // 65535 + 1) + GZIP_OVERHEAD


def read_idx_stream(stream: BinaryIO, path: str | Path, max_bytes: int, *,
                    raw_size: int | None = None, gzip_size: int | None = None) -> np.ndarray:
    """Read an IDX header, then exactly the data it promises, from ``stream``.

    ``raw_size`` is the size of a raw file (the data's size is then checked before it is
    read); ``gzip_size`` that of a gzip file (it must be a size the promised content could
    compress to: a 1 KiB header cannot come with gigabytes of gzip).
    """
    magic = stream.read(4)
    if len(magic) < 4:
        raise format_error(path, f"truncated: {len(magic)} bytes, too short for the 4-byte IDX "
                                 f"magic number")
    if magic[0] != 0 or magic[1] != 0:
        raise format_error(path, f"bad magic number 0x{magic.hex()}: an IDX file starts with "
                                 f"two zero bytes (MNIST images: 0x00000803, labels: 0x00000801)")
    type_code, ndim = magic[2], magic[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise format_error(path, f"bad magic number 0x{magic.hex()}: unknown element type "
                                 f"0x{type_code:02X} (known: {known})")
    if not 1 <= ndim <= MAX_NDIM:
        raise format_error(path, f"bad magic number 0x{magic.hex()}: {ndim} dimensions (an IDX "
                                 f"array here has 1 to {MAX_NDIM})")
    header_size = 4 + 4 * ndim
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise format_error(path, f"truncated: the header needs {header_size} bytes for "
                                 f"{ndim} dimension sizes, the file holds {4 + len(sizes)}")
    shape = tuple(int.from_bytes(sizes[i:i + 4], "big") for i in range(0, 4 * ndim, 4))
    dtype = np.dtype(IDX_DTYPES[type_code])
    # Python integers: (2**32 - 1) ** 3 * 8 bytes does not wrap around as an int64 would.
    expected = math.prod(shape) * dtype.itemsize
    promise = f"the header promises shape {shape} ({expected} bytes of {dtype.name})"
    if expected > max_bytes:
        raise format_error(path, f"{promise}, more than the {max_bytes} bytes read from one "
                                 f"IDX file; refusing to read it")
    if raw_size is not None and raw_size - header_size != expected:
        found = raw_size - header_size
        if found < expected:
            raise format_error(path, f"truncated: {promise}, the file holds {found} bytes "
                                     f"after the header")
        raise format_error(path, f"{found - expected} unexpected bytes after the {expected} "
                                 f"bytes of data that the header's shape {shape} describes")
    if gzip_size is not None and gzip_size > gzip_size_bound(header_size + expected):
        raise format_error(path, f"{gzip_size} bytes of gzip, but {promise}: no gzip of "
                                 f"{header_size + expected} bytes takes more than "
                                 f"{gzip_size_bound(header_size + expected)}")
    values = np.empty(shape, dtype=dtype.newbyteorder("="))
    found = read_into(stream, values)
    if found < expected:
        raise format_error(path, f"truncated: {promise}, the file holds {found} bytes after "
                                 f"the header")
    extra = len(stream.read(TRAILING_PROBE + 1))
    if extra > TRAILING_PROBE:
        raise format_error(path, f"more than {TRAILING_PROBE} unexpected bytes after the "
                                 f"{expected} bytes of data that the header's shape {shape} "
                                 f"describes (stopped reading there)")
    if extra:
        raise format_error(path, f"{extra} unexpected bytes after the {expected} bytes of data "
                                 f"that the header's shape {shape} describes")
    if not dtype.isnative:
        values.byteswap(inplace=True)   # the file's big-endian bytes, as native numbers
    return values


def find_folder_files(root: str | Path, name: str = "mnist") -> dict[str, Path]:
    """The four IDX files under ``root`` (each raw or .gz); ``DataNotFoundError`` lists any
    that are missing and where we looked."""
    root = Path(root)
    folders = [root, root / "raw", root / TORCHVISION_FOLDERS.get(name, "MNIST") / "raw"]
    found, missing = {}, []
    for role, base in FILES.items():
        candidates = [folder / f"{base}{suffix}" for folder in folders for suffix in ("", ".gz")]
        # A regular file first; failing that, anything under the name (a folder, a FIFO, a
        # broken link), so that the reader says what is wrong with it instead of "not found".
        present = [path for path in candidates if os.path.lexists(path)]
        hit = next((path for path in present if path.is_file()), present[0] if present else None)
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
