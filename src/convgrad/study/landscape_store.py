"""A landscape's folder: its numbers, its settings, its pictures.

    <out>/<run name>/
        landscape.json   what was computed and how: the run, its checkpoint step and the
                         SHA-256 of its weights, the settings, the centre's loss and
                         accuracy, the Hessian's extremes, timings (strict JSON)
        landscape.npz    the numbers (NumPy arrays, no pickle):
                           x (nx,), y (ny,)                       grid coordinates α, β
                           loss, accuracy, done (ny, nx)          rows follow y
                           direction_alpha, _loss, _accuracy, _done   1-D along δ
                           line_t, line_loss, line_accuracy, line_done
                                                                  1-D from θ₀ (t=0) to θ* (t=1)
        contour.png  surface.png  profiles.png
        .lock            held while a process computes here

Every finished cell is saved at once: the whole ``landscape.npz`` is written to a
temporary file, flushed and renamed over the old one, so a process killed at any instant
(SIGKILL included) leaves the cells of the previous save or of this one, never a torn
file.  A cell whose ``done`` is false is computed again; one that is done never is.  The
same command resumes; a folder holding a landscape of another run, checkpoint or settings
is refused, never overwritten.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..data.errors import DataError, DataNotFoundError
from ..data.files import read_regular_file
from ..train.atomic import json_text, remove_strays, replace_file

FORMAT = "convgrad-landscape"
FORMAT_VERSION = 1
META_FILE = "landscape.json"
DATA_FILE = "landscape.npz"
CONTOUR_FILE = "contour.png"
SURFACE_FILE = "surface.png"
PROFILES_FILE = "profiles.png"
LOCK_FILE = ".lock"
MAX_META_BYTES = 1 << 20
MAX_DATA_BYTES = 64 << 20

# The arrays of a landscape: name -> (dtype kind, axes), axes named by their lengths.
ARRAYS = {
    "x": ("f", ("nx",)), "y": ("f", ("ny",)),
    "loss": ("f", ("ny", "nx")), "accuracy": ("f", ("ny", "nx")), "done": ("b", ("ny", "nx")),
    "direction_alpha": ("f", ("np",)), "direction_loss": ("f", ("np",)),
    "direction_accuracy": ("f", ("np",)), "direction_done": ("b", ("np",)),
    "line_t": ("f", ("np",)), "line_loss": ("f", ("np",)),
    "line_accuracy": ("f", ("np",)), "line_done": ("b", ("np",)),
}


class LandscapeError(Exception):
    """A landscape folder that cannot be used as asked (one line naming it and why)."""


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def check_arrays(arrays: dict, where: Path) -> dict[str, np.ndarray]:
    """The arrays of ``ARRAYS``, each of its kind, their lengths consistent
    (LandscapeError naming the first that is not)."""
    lengths: dict[str, int] = {}
    for name, (kind, axes) in ARRAYS.items():
        if name not in arrays:
            raise LandscapeError(f"{where}: no array {name!r}")
        array = arrays[name]
        if array.dtype.kind != kind or array.ndim != len(axes):
            raise LandscapeError(f"{where}: array {name!r} is {array.dtype} of shape "
                                 f"{array.shape}, not a {len(axes)}-D "
                                 f"{'float' if kind == 'f' else 'bool'} array")
        for axis, length in zip(axes, array.shape):
            if lengths.setdefault(axis, length) != length:
                raise LandscapeError(f"{where}: array {name!r} has shape {array.shape}, "
                                     f"which does not fit the others")
    return {name: arrays[name] for name in ARRAYS}


def read_meta(folder: Path, max_bytes: int = MAX_META_BYTES) -> dict:
    """``landscape.json``, read as an untrusted file (a regular file of at most
    ``max_bytes``) and checked to be a landscape's."""
    path = folder / META_FILE
    try:
        meta = json.loads(read_regular_file(path, max_bytes).decode("utf-8"))
    except DataNotFoundError:
        raise LandscapeError(f"{folder}: not a landscape (no {META_FILE})") from None
    except (DataError, UnicodeDecodeError, ValueError) as error:
        raise LandscapeError(f"{path}: unreadable ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise LandscapeError(f"{path}: not a convgrad landscape")
    if meta.get("format_version") != FORMAT_VERSION:
        raise LandscapeError(f"{path}: format version {meta.get('format_version')!r}, "
                             f"this convgrad reads {FORMAT_VERSION}")
    return meta


def read_arrays(folder: Path, max_bytes: int = MAX_DATA_BYTES) -> dict[str, np.ndarray]:
    """``landscape.npz``, read as an untrusted file: a regular file of at most
    ``max_bytes`` whose arrays, unpacked, hold at most ``max_bytes`` too (a zip member can
    promise gigabytes in a few bytes), no pickle, the arrays of ``ARRAYS``."""
    path = folder / DATA_FILE
    try:
        data = read_regular_file(path, max_bytes)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > max_bytes:
            raise LandscapeError(f"{path}: its arrays unpack to {unpacked} bytes, more than "
                                 f"the {max_bytes} bytes read here")
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except DataNotFoundError:
        raise LandscapeError(f"{folder}: no {DATA_FILE}") from None
    except (DataError, zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise LandscapeError(f"{path}: unreadable ({error})") from None
    return check_arrays(arrays, path)


def read_landscape(folder: str | os.PathLike, max_bytes: int = MAX_DATA_BYTES
                   ) -> tuple[dict, dict[str, np.ndarray]]:
    """A saved landscape's metadata and arrays, both checked (LandscapeError)."""
    folder = Path(folder)
    return read_meta(folder, min(max_bytes, MAX_META_BYTES)), read_arrays(folder, max_bytes)


class LandscapeStore:
    """The folder of one landscape, open for computing (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    @contextmanager
    def locked(self):
        """Create the folder and hold its lock: one process computes in it at a time."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LandscapeError(f"{self.folder}: cannot create the folder "
                                 f"({error.strerror})") from None
        try:
            import fcntl
        except ImportError:        # Windows: no advisory locks
            yield self
            return
        with open(self.folder / LOCK_FILE, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise LandscapeError(f"{self.folder}: another convgrad landscape is "
                                     f"computing in this folder") from None
            remove_strays(self.folder)      # a killed writer's temporary file
            yield self

    def open(self, identity: dict, fresh: dict[str, np.ndarray]) -> tuple[dict, dict]:
        """The folder's metadata and arrays when it holds this ``identity``'s landscape
        (the cells done so far); ``identity`` with ``fresh`` arrays when it holds none.
        A landscape of another identity is a LandscapeError that names the differences."""
        if not (self.folder / META_FILE).exists():
            meta = dict(identity)
            self.save_meta(meta)
            self.save_arrays(fresh)
            return meta, fresh
        meta = read_meta(self.folder)
        differing = [key for key in sorted(set(identity) | set(meta))
                     if key in identity and meta.get(key) != identity[key]]
        if differing:
            details = "; ".join(_difference(key, meta.get(key), identity[key])
                                for key in differing)
            raise LandscapeError(f"{self.folder}: holds a landscape of another run or other "
                                 f"settings ({details}); remove the folder or choose "
                                 f"another --out")
        if not (self.folder / DATA_FILE).exists():
            self.save_arrays(fresh)
            return meta, fresh
        arrays = read_arrays(self.folder)
        for name, array in fresh.items():
            if arrays[name].shape != array.shape:
                raise LandscapeError(f"{self.folder / DATA_FILE}: array {name!r} has shape "
                                     f"{arrays[name].shape}, its settings say {array.shape}")
        return meta, arrays

    def save_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        replace_file(self.folder / DATA_FILE, npz_bytes(arrays))

    def save_meta(self, meta: dict) -> None:
        replace_file(self.folder / META_FILE, (json_text(meta) + "\n").encode())


def _difference(key: str, saved, wanted) -> str:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        parts = [f"{name} {saved.get(name)!r}, not {wanted.get(name)!r}"
                 for name in sorted(set(saved) | set(wanted))
                 if saved.get(name) != wanted.get(name)]
        return ", ".join(parts)
    return f"{key} {saved!r}, not {wanted!r}"
