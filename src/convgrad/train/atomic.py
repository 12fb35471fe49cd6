"""Writing files so that a crash at any instant leaves the old version or the new one.

The recipe (POSIX): write the bytes to a temporary name in the same folder, ``fsync`` the
file, ``rename`` it over the real name (atomic within one file system), then ``fsync`` the
folder so the rename itself is on disk.  A process killed at any point (even by SIGKILL)
leaves at worst a stray temporary, which the next run removes.

Every JSON file convgrad writes is strict JSON (RFC 8259): ``json_text`` writes a
non-finite float (a diverged run's loss) as null, never as the bare ``NaN`` or
``Infinity`` that other JSON readers reject.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

TMP_PREFIX = ".tmp-"


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (new names, renames) to disk; a no-op where folders cannot
    be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to disk (no rename: for files inside a
    folder that is itself renamed into place)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def replace_file(path: str | os.PathLike, data: bytes) -> None:
    """Atomically make ``path`` hold ``data``: temporary file, fsync, rename, fsync folder."""
    path = Path(path)
    temporary = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}")
    try:
        write_file(temporary, data)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def plain(value):
    """A JSON-ready copy: NumPy scalars and arrays as Python numbers and lists, non-finite
    floats as None, tuples as lists, keys as strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_text(value, indent: int | None = 2, sort_keys: bool = True) -> str:
    """``value`` as strict JSON (see the module docstring)."""
    return json.dumps(plain(value), indent=indent, sort_keys=sort_keys, allow_nan=False)


def replace_json(path: str | os.PathLike, value) -> None:
    replace_file(path, (json_text(value) + "\n").encode())


def remove_strays(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries a killed writer left in ``folder`` (files or folders whose
    names start with ``.tmp-`` or ``.trash-``); returns what was removed."""
    import shutil

    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if entry.name.startswith((TMP_PREFIX, ".trash-")):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                try:
                    entry.unlink()
                except FileNotFoundError:
                    pass
            removed.append(entry)
    return removed
