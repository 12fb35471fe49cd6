"""Where convgrad keeps data on disk, and how it writes there without ever leaving half a file.

The cache directory is, in order of precedence:

* ``$CONVGRAD_HOME`` when it is set (tests point it at a temporary folder);
* Linux and other Unix: ``$XDG_CACHE_HOME/convgrad``, else ``~/.cache/convgrad``;
* macOS: ``~/Library/Caches/convgrad``;
* Windows: ``%LOCALAPPDATA%\\convgrad\\Cache``.

Writes are atomic: the bytes go to a temporary file in the *same* folder (so that the final
``os.replace`` is a rename within one file system, which POSIX and Windows both make atomic),
are flushed to disk, and only then replace the destination.  A process killed at any moment
leaves either the old file or the new one, plus at worst a stray ``.tmp`` file, never a
truncated file under the real name.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterator, Mapping

import numpy as np


def cache_dir(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The folder convgrad caches data in (not created here; see ``ensure_dir``).

    ``environ`` and ``platform`` default to ``os.environ`` and ``sys.platform``; they are
    parameters so that every platform's rule can be tested on any machine.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    home = environ.get("CONVGRAD_HOME")
    if home:
        return Path(home).expanduser()
    if platform.startswith("win"):
        local = environ.get("LOCALAPPDATA") or str(Path("~").expanduser() / "AppData" / "Local")
        return Path(local) / "convgrad" / "Cache"
    if platform == "darwin":
        return Path("~").expanduser() / "Library" / "Caches" / "convgrad"
    xdg = environ.get("XDG_CACHE_HOME")
    # The XDG spec says a relative path in $XDG_CACHE_HOME is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "convgrad"
    return Path("~").expanduser() / ".cache" / "convgrad"


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and its parents) if needed; return it as a ``Path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_write(destination: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Open a temporary binary file beside ``destination``; on success, move it into place.

    If the body raises, the temporary file is deleted and ``destination`` is untouched.

    >>> with atomic_write(path) as f:   # doctest: +SKIP
    ...     f.write(b"all or nothing")
    """
    destination = Path(destination)
    ensure_dir(destination.parent)
    handle = tempfile.NamedTemporaryFile(dir=destination.parent, prefix=f".{destination.name}.",
                                         suffix=".tmp", delete=False)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise


def save_npz_atomic(destination: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` as an uncompressed ``.npz`` at ``destination``, atomically.

    Only plain numeric and string arrays are written, so the file loads back with
    ``allow_pickle=False``.
    """
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"save_npz_atomic: array {key!r} has dtype object, which would "
                            f"need pickle to load")
    with atomic_write(destination) as handle:
        np.savez(handle, **arrays)
    return Path(destination)
