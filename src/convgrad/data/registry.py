"""``load_dataset(name)``: every data set convgrad knows, by name.

=================  ==============================  =================  ======================
name               source                          train / test       one sample
=================  ==============================  =================  ======================
``mnist1d``        generated (``mnist1d`` package)  4000 / 1000        ``(1, 40)``
``digits``         bundled with scikit-learn       1437 / 360         ``(1, 8, 8)``
``mnist``          IDX files in a folder           60000 / 10000      ``(1, 28, 28)``
``fashion-mnist``  IDX files in a folder           60000 / 10000      ``(1, 28, 28)``
``cifar10``        binary batches in a folder      50000 / 10000      ``(3, 32, 32)``
=================  ==============================  =================  ======================

``root`` is the folder holding a data set's files (for ``mnist1d``, the folder of its
cache); by default ``cache_dir()/<name>`` (``cache_dir()`` itself for ``mnist1d``).
``download=True`` fetches missing MNIST, Fashion-MNIST or CIFAR-10 files into ``root``;
the other two never need the network.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Sequence

from .cache import cache_dir
from .cifar import load_cifar10
from .dataset import Dataset
from .digits import load_digits
from .download import Progress, fetch
from .errors import DataNotFoundError, UnknownDatasetError
from .idx import load_idx_dataset
from .mnist1d import load_mnist1d

DEFAULT_DATASET = "mnist1d"
DATASETS = ("mnist1d", "digits", "mnist", "fashion-mnist", "cifar10")
ALIASES = {"mnist-1d": "mnist1d", "mnist_1d": "mnist1d", "fashion_mnist": "fashion-mnist",
           "fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar_10": "cifar10"}
FOLDER_DATASETS = {  # name -> loader of a local folder
    "mnist": lambda root: load_idx_dataset(root, "mnist"),
    "fashion-mnist": lambda root: load_idx_dataset(root, "fashion-mnist"),
    "cifar10": load_cifar10,
}


def available_datasets() -> tuple[str, ...]:
    return DATASETS


def canonical_name(name: str) -> str:
    """The registry's spelling of ``name`` (case and a few aliases forgiven), or an
    ``UnknownDatasetError`` that lists the known names."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key in DATASETS:
        return key
    close = difflib.get_close_matches(key, DATASETS + tuple(ALIASES), n=1)
    hint = f" (did you mean {ALIASES.get(close[0], close[0])!r}?)" if close else ""
    raise UnknownDatasetError(f"unknown dataset {name!r}{hint}; known datasets: "
                              f"{', '.join(DATASETS)}")


def default_root(name: str) -> Path:
    name = canonical_name(name)
    return cache_dir() if name == "mnist1d" else cache_dir() / name


def load_dataset(name: str = DEFAULT_DATASET, root: str | os.PathLike | None = None,
                 download: bool = False, *, base_urls: Sequence[str] | None = None,
                 progress: Progress | None = None) -> Dataset:
    """Load data set ``name`` as a ``Dataset`` of float32 NCL/NCHW inputs and int64 labels.

    Args:
        name: one of ``available_datasets()`` (default ``"mnist1d"``).
        root: the folder of the data set's files; default ``default_root(name)``.
        download: fetch the official files into ``root`` if they are missing, verifying
            their published MD5 checksums.
        base_urls: mirrors to download from instead of the official ones.
        progress: ``progress(url, received, total)`` called while downloading.

    Raises ``DataError`` subclasses with one-line messages: ``UnknownDatasetError``,
    ``DataNotFoundError`` (files missing and ``download`` off), ``DataFormatError``
    (a truncated or corrupt file, named), ``DownloadError`` / ``ChecksumError``.
    """
    name = canonical_name(name)
    root = Path(root).expanduser() if root is not None else default_root(name)
    if name == "mnist1d":
        return load_mnist1d(root)
    if name == "digits":
        return load_digits()
    if root.exists() and not root.is_dir():
        raise DataNotFoundError(f"{root}: not a folder (the {name} data set's root must be "
                                f"the folder that holds its files)")
    load = FOLDER_DATASETS[name]
    try:
        return load(root)
    except DataNotFoundError:
        if not download:
            raise
    fetch(name, root, base_urls, progress=progress)
    return load(root)
