"""The errors the data package raises, each a one-line message the user can act on.

Every message names the file (or URL) involved and what is wrong with it, so that
``convgrad train`` can print ``str(error)`` as a single line instead of a traceback:

    DataFormatError: /data/mnist/train-labels-idx1-ubyte.gz: truncated: the header
    promises 60000 bytes of data, the file holds 1200
"""
from __future__ import annotations

import os


class DataError(Exception):
    """Base class: something is wrong with a data set, its files or their download."""


class UnknownDatasetError(DataError, ValueError):
    """A data set name that is not in the registry (the message lists the known ones)."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A file a data set needs is missing (the message says where it looked)."""


class DataFormatError(DataError, ValueError):
    """A file is present but truncated, corrupt or not in the expected format."""


class DownloadError(DataError, OSError):
    """A download failed: HTTP error, network error, or a transfer cut short."""


class ChecksumError(DownloadError):
    """A downloaded file's MD5 differs from the published one (expected and actual named)."""


def format_error(path: str | os.PathLike, problem: str) -> DataFormatError:
    """``DataFormatError('<path>: <problem>')``: the one shape every format error takes."""
    return DataFormatError(f"{os.fspath(path)}: {problem}")
