"""convgrad.data: data sets, a DataLoader and batch transforms, NumPy in and NumPy out.

Nothing here imports the Tensor: every function takes and returns ``numpy.ndarray``, so the
package is usable (and testable) on its own.

>>> from convgrad.data import load_dataset, DataLoader
>>> data = load_dataset("mnist1d")            # doctest: +SKIP
>>> data.train_x.shape, data.train_y.dtype    # doctest: +SKIP
((4000, 1, 40), dtype('int64'))
>>> for x, y in DataLoader(data.train_x, data.train_y, 100, shuffle=True, seed=0):
...     pass                                  # doctest: +SKIP
"""
from .cache import atomic_write, cache_dir, save_npz_atomic
from .cifar import load_cifar10, read_batch as read_cifar_batch
from .dataset import Dataset
from .digits import load_digits
from .download import download_file, fetch, safe_extract
from .errors import (ChecksumError, DataError, DataFormatError, DataNotFoundError,
                     DownloadError, UnknownDatasetError)
from .files import open_regular_file, read_regular_file
from .idx import load_idx_dataset, read_idx
from .loader import DataLoader
from .permutation import permute_positions, position_permutation, shuffle_positions
from .mnist1d import load_mnist1d
from .registry import DATASETS, DEFAULT_DATASET, available_datasets, load_dataset
from .transforms import (Compose, Normalize, RandomCrop, RandomHorizontalFlip, channel_stats,
                         crop_at, normalize, random_crop, random_horizontal_flip)

__all__ = [
    "ChecksumError", "Compose", "DATASETS", "DEFAULT_DATASET", "DataError", "DataFormatError",
    "DataLoader", "DataNotFoundError", "Dataset", "DownloadError", "Normalize", "RandomCrop",
    "RandomHorizontalFlip", "UnknownDatasetError", "atomic_write", "available_datasets",
    "cache_dir", "channel_stats", "crop_at", "download_file", "fetch", "load_cifar10",
    "load_dataset", "load_digits", "load_idx_dataset", "load_mnist1d", "normalize",
    "open_regular_file", "permute_positions", "position_permutation", "random_crop",
    "random_horizontal_flip", "read_cifar_batch", "read_idx", "read_regular_file",
    "safe_extract", "save_npz_atomic", "shuffle_positions",
]
