"""Checkpoints: safetensors for the arrays, JSON for everything else, written atomically.

A run folder keeps its checkpoints under ``checkpoints/``::

    checkpoints/
        latest.json              {"name": "step-0006000", "step": 6000}
        step-0005000/
        step-0006000/
            model.safetensors    the model's state dict (PyTorch's keys and shapes)
            optimizer.safetensors the optimizer's arrays (Adam's moments, SGD's momentum)
            meta.json            step, config, every RNG state, the optimizer's and the
                                 scheduler's scalars, versions, and each file's SHA-256
        best/                    the best evaluation's checkpoint (highest test accuracy)
            latest.json          {"name": "step-0002000", "step": 2000}
            step-0002000/

Saving step ``s`` (in brackets: the points where the writer calls its hook, the seam the
crash tests use, see ``faults.py``):

1. write the three files into ``.tmp-step-…`` and fsync each     [checkpoint-begin,
                                                                  -model-file, -optimizer-file,
                                                                  -meta-file]
2. fsync the folder, rename it to ``step-…``, fsync ``checkpoints/`` [checkpoint-renamed]
3. write ``latest.json`` to a temporary, fsync, rename over the old one, fsync
                                                                   [checkpoint-latest]
4. remove checkpoints beyond the newest ``keep`` (renamed to ``.trash-…`` first, so a half
   deleted folder never carries a real name)                      [checkpoint-pruned]

A ``step-…`` folder only ever appears complete, and ``latest.json`` only ever names such a
folder, so a process killed at any instant leaves the previous checkpoint or the new one,
never a mix.  ``remove_strays`` deletes the temporaries on the next start.

Nothing is written over a checkpoint.  Saving a step at or before the one ``latest.json``
names is refused.  A folder past it was renamed into place by a process killed before step
3: never published; when the same step is saved again and its files are the same bytes,
that folder is published as it is, and only a differing one is replaced.

``best/`` keeps one checkpoint by the same protocol, with one difference: a run resumed
from before the best it had found may replace it by an earlier step (it finds the later
one again, as the runs are deterministic); the same step already there is kept as it is.

On load, ``meta.json`` is checked whole (``meta.py``), then each safetensors file's size
and SHA-256 against it, so a file edited or damaged later (truncated, overwritten) is
reported, not silently used.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.errors import DataError, DataNotFoundError
from ..data.files import file_size, open_regular_file, read_regular_file
from .atomic import TMP_PREFIX, fsync_dir, json_text, remove_strays, replace_json, write_file
from .faults import WriteHook
from .meta import (FORMAT, FORMAT_VERSION, MODEL_FILE, OPTIMIZER_FILE, MetaError, check_meta,
                   folder_step)

CHECKPOINTS = "checkpoints"
BEST = "best"
LATEST = "latest.json"
META_FILE = "meta.json"
# Bounds on what is read before it is trusted: meta.json and latest.json are a few KiB;
# a safetensors header lists names, dtypes, shapes and offsets (safetensors itself refuses
# headers above 100 MB).
JSON_MAX_BYTES = 16 * 1024 * 1024
SAFETENSORS_HEADER_MAX_BYTES = 100_000_000
_STEP_FOLDER = re.compile(r"^step-(\d+)$")


class CheckpointError(Exception):
    """A checkpoint that is missing, incomplete, corrupt or of the wrong kind (one line that
    names the file and what is wrong)."""


@dataclass
class Checkpoint:
    path: Path                     # the step folder, or the model file given on its own
    meta: dict                     # meta.json (for a lone model file: its header metadata)
    model_state: dict              # name -> np.ndarray, the model's state dict
    optimizer_arrays: dict | None  # name -> np.ndarray (None for a lone model file)

    @property
    def step(self) -> int:
        return int(self.meta.get("step", 0))

    @property
    def model(self) -> str | None:
        return self.meta.get("model")


def step_folder_name(step: int) -> str:
    return f"step-{step:07d}"


# ---------------------------------------------------------------------------- saving
METADATA_KEY = "convgrad"


def safetensors_bytes(arrays: dict, metadata: dict | None = None) -> bytes:
    """The safetensors encoding of ``arrays`` (name -> NumPy array).

    ``metadata`` goes into the header as one JSON string under the key ``"convgrad"``:
    safetensors keeps its string map in a hash map whose order changes from run to run,
    and one key keeps two saves of the same state byte-identical.
    """
    from safetensors.numpy import save

    # np.require, not np.ascontiguousarray: the latter turns 0-d arrays (BatchNorm's
    # num_batches_tracked) into shape (1,).
    arrays = {name: np.require(value, requirements="C") for name, value in arrays.items()}
    header = {METADATA_KEY: json_text(metadata or {}, indent=None)}
    return save(arrays, metadata=header)


def save_checkpoint(run_dir: str | os.PathLike, step: int, model_state: dict,
                    optimizer_arrays: dict, meta: dict, keep: int = 2,
                    hook: WriteHook | None = None, best: bool = False) -> Path:
    """Write checkpoint ``step`` of the run in ``run_dir`` atomically; returns its folder.

    ``model_state`` and ``optimizer_arrays`` map names to NumPy arrays; ``meta`` is
    JSON-serialisable and gets ``format``, ``step`` and the files' checksums added.  The
    model file's own header repeats the model's name and data set so that it can be
    evaluated on its own.  ``best``: the run's best checkpoint (``best/``, one kept).
    ``hook(point, step, path)`` is called after each stage.
    """
    def reached(point: str, path: Path) -> None:
        if hook is not None:
            hook(("best-" if best else "") + point, step, path)

    folder = Path(run_dir) / CHECKPOINTS / (BEST if best else "")
    folder.mkdir(parents=True, exist_ok=True)
    name = step_folder_name(step)
    final = folder / name
    published = _published_step(folder)
    if best:
        keep = 1
        if published == step:
            return final                         # already saved (see the module docstring)
    elif published is not None and step <= published:
        raise CheckpointError(f"{final}: not written: the run's latest checkpoint is step "
                              f"{published}, and a checkpoint is never written over or "
                              f"behind the latest")
    header = {"format": FORMAT, "step": step}
    for key in ("model", "dataset", "num_classes", "classes"):
        if key in meta:
            header[key] = meta[key]
    files = {MODEL_FILE: safetensors_bytes(model_state, header),
             OPTIMIZER_FILE: safetensors_bytes(optimizer_arrays, {"format": FORMAT,
                                                                  "step": step})}
    records = {file_name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
               for file_name, data in files.items()}
    if not (final.is_dir() and _recorded_files(final) == records):
        meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION, step=step,
                    files=records)
        _write_folder(final, files, meta, reached)
    fsync_dir(folder)
    reached("checkpoint-renamed", final)

    replace_json(folder / LATEST, {"name": name, "step": step})
    reached("checkpoint-latest", folder / LATEST)

    _prune(folder, step, keep)
    reached("checkpoint-pruned", folder)
    return final


def _write_folder(final: Path, files: dict, meta: dict, reached) -> None:
    """The checkpoint folder written under a temporary name, then renamed to ``final``."""
    temporary = final.with_name(f"{TMP_PREFIX}{final.name}.{os.getpid()}")
    if temporary.exists():
        shutil.rmtree(temporary)
    temporary.mkdir()
    reached("checkpoint-begin", temporary)
    for file_name, data in files.items():
        write_file(temporary / file_name, data)
        reached("checkpoint-" + file_name.split(".")[0] + "-file", temporary / file_name)
    write_file(temporary / META_FILE, (json_text(meta, indent=1) + "\n").encode())
    reached("checkpoint-meta-file", temporary / META_FILE)
    fsync_dir(temporary)
    if final.exists():
        # Never published (see the module docstring) and of other bytes: it goes, by a
        # rename first, so that no half-deleted folder ever carries a real name.
        _discard(final)
    os.rename(temporary, final)


def _published_step(folder: Path) -> int | None:
    pointer = folder / LATEST
    return _read_pointer(pointer)[1] if pointer.is_file() else None


def _recorded_files(folder: Path):
    try:
        return json.loads((folder / META_FILE).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return None


def _discard(path: Path) -> None:
    trash = path.with_name(f".trash-{path.name}.{os.getpid()}")
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def step_folders(checkpoints_dir: Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of every complete checkpoint folder, oldest first."""
    found = []
    if checkpoints_dir.is_dir():
        for entry in checkpoints_dir.iterdir():
            match = _STEP_FOLDER.match(entry.name)
            if match and entry.is_dir():
                found.append((int(match.group(1)), entry))
    return sorted(found)


def _prune(folder: Path, current: int, keep: int) -> None:
    """Keep the ``keep`` newest checkpoints up to ``current``; folders past ``current`` are
    from an attempt that crashed and was resumed from earlier, and are stale."""
    kept = [path for step, path in step_folders(folder) if step <= current][-keep:]
    for step, path in step_folders(folder):
        if path not in kept:
            _discard(path)


def clean_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Remove what a killed save left behind (temporary and half-deleted folders)."""
    folder = Path(run_dir) / CHECKPOINTS
    return remove_strays(folder) + remove_strays(folder / BEST)


# ---------------------------------------------------------------------------- finding
def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The folder ``latest.json`` names; without it, the newest complete step folder
    (step folders only appear complete); None if the run has no checkpoint."""
    return _latest_in(Path(run_dir) / CHECKPOINTS)


def best_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The run's best checkpoint (``checkpoints/best/``); None if it has none."""
    return _latest_in(Path(run_dir) / CHECKPOINTS / BEST)


def _latest_in(folder: Path) -> Path | None:
    pointer = folder / LATEST
    if pointer.is_file():
        name, _ = _read_pointer(pointer)
        if not (folder / name).is_dir():
            raise CheckpointError(f"{pointer}: names checkpoint {name!r}, which is missing")
        return folder / name
    folders = step_folders(folder)
    return folders[-1][1] if folders else None


def _read_pointer(pointer: Path) -> tuple[str, int]:
    """``latest.json``'s folder name and step, checked to agree."""
    try:
        value = json.loads(_read_bounded(pointer, JSON_MAX_BYTES))
        name, step = value["name"], value["step"]
    except (CheckpointError, OSError, ValueError, KeyError, TypeError):
        raise CheckpointError(f"{pointer}: unreadable (not the JSON convgrad writes)") \
            from None
    if not isinstance(name, str) or not _STEP_FOLDER.match(name):
        raise CheckpointError(f"{pointer}: names checkpoint {name!r}, which is missing")
    if step != folder_step(Path(name)) or isinstance(step, bool):
        raise CheckpointError(f"{pointer}: says step {step!r} but names {name}")
    return name, step


def find_checkpoint(path: str | os.PathLike) -> Path:
    """Resolve what the user named — a run folder, its ``checkpoints/`` folder, a step
    folder, or a model ``.safetensors`` file — to a step folder or a model file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    if path.is_file():
        if path.name in (META_FILE, OPTIMIZER_FILE, MODEL_FILE) and \
                (path.parent / META_FILE).is_file():
            return path.parent          # a file of a checkpoint folder: load it verified
        return path
    if (path / META_FILE).is_file():
        return path
    if path.name == BEST and path.parent.name == CHECKPOINTS:
        return select_checkpoint(path.parent.parent, "best")
    for run_dir in (path, path.parent if path.name == CHECKPOINTS else None):
        if run_dir is not None and (run_dir / CHECKPOINTS).is_dir():
            found = latest_checkpoint(run_dir)
            if found is None:
                raise CheckpointError(f"{run_dir}: the run has no checkpoint yet (it stopped "
                                      f"before its first one)")
            return found
    raise CheckpointError(f"{path}: not a checkpoint or a run folder (no {META_FILE} and no "
                          f"{CHECKPOINTS}/ folder)")


def select_checkpoint(run_dir: str | os.PathLike, which: str | int = "last") -> Path:
    """The step folder of run ``run_dir`` that ``which`` names: ``"last"`` (the latest),
    ``"best"`` (the best evaluation's) or a step number (a kept checkpoint, or the best's);
    a CheckpointError listing what there is otherwise."""
    run_dir = Path(run_dir).expanduser()
    folder = run_dir / CHECKPOINTS
    if not folder.is_dir():
        raise CheckpointError(f"{run_dir}: not a run folder (no {CHECKPOINTS}/ folder)")
    if which in ("last", "best"):
        found = latest_checkpoint(run_dir) if which == "last" else best_checkpoint(run_dir)
        if found is None:
            raise CheckpointError(f"{run_dir}: the run has no {which} checkpoint yet (it "
                                  f"stopped before its first "
                                  f"{'one' if which == 'last' else 'evaluation'})")
        return found
    step = _step_number(which)
    kept = step_folders(folder) + step_folders(folder / BEST)
    for kept_step, path in kept:
        if kept_step == step:
            return path
    best = best_checkpoint(run_dir)
    listed = ", ".join(str(s) for s, _ in step_folders(folder)) or "none"
    listed += f"; best: {folder_step(best)}" if best is not None else ""
    raise CheckpointError(f"{run_dir}: no checkpoint of step {step} (kept: {listed})")


def run_folder_of(step_folder: Path) -> Path | None:
    """The run folder a step folder belongs to (``checkpoints/`` or ``checkpoints/best/``
    above it), or None for a checkpoint folder on its own."""
    parent = step_folder.parent
    if parent.name == BEST:
        parent = parent.parent
    return parent.parent if parent.name == CHECKPOINTS else None


def _step_number(which) -> int:
    text = str(which).strip()
    if isinstance(which, bool) or not text.isdigit():
        raise CheckpointError(f"a checkpoint is last, best or a step number, got {which!r}")
    return int(text)


# ---------------------------------------------------------------------------- loading
def _read_bounded(path: Path, max_bytes: int, expected: str = "that may be read here") -> bytes:
    """The bytes of regular file ``path``, refused (before reading) past ``max_bytes``; a
    FIFO, a device or a folder under the name is refused before a byte is read."""
    try:
        return read_regular_file(path, max_bytes, expected)
    except DataNotFoundError:
        raise CheckpointError(f"{path}: missing from the checkpoint") from None
    except DataError as error:
        raise CheckpointError(str(error)) from None


def _read_as_promised(path: Path) -> bytes:
    """A safetensors file no larger than its own header promises: 8 bytes of header length,
    the JSON header, then the tensors' bytes up to the largest ``data_offsets`` end.

    Used where no ``meta.json`` records the size (a bare model file).  What is malformed is
    returned as read, for :func:`read_safetensors` to word the error; only a file larger
    than its promise is refused here, before its body is read.
    """
    try:
        with open_regular_file(path) as handle:
            size = file_size(handle)
            head = handle.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else None
            if length is None or length > min(size - 8, SAFETENSORS_HEADER_MAX_BYTES):
                return head
            header_bytes = handle.read(length)
            try:
                header = json.loads(header_bytes)
                end = max((entry["data_offsets"][1] for key, entry in header.items()
                           if key != "__metadata__"), default=0)
            except (ValueError, UnicodeDecodeError, TypeError, KeyError, IndexError,
                    AttributeError):
                return head + header_bytes
            promised = 8 + length + int(end)
            if size > promised:
                raise CheckpointError(f"{path}: {size} bytes, but its header promises "
                                      f"8 + {length} + {end} = {promised}; refusing to read it")
            return head + header_bytes + handle.read(size - 8 - length)
    except DataNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except DataError as error:
        raise CheckpointError(str(error)) from None


def read_safetensors(path: Path, data: bytes | None = None) -> tuple[dict, dict]:
    """``(arrays, header metadata)`` of a safetensors file, or a ``CheckpointError`` saying
    what is wrong with it."""
    from safetensors.numpy import load

    if data is None:
        data = _read_as_promised(path)
    if len(data) < 8:
        raise CheckpointError(f"{path}: not a safetensors file ({len(data)} bytes, shorter "
                              f"than its 8-byte header length)")
    header_length = int.from_bytes(data[:8], "little")
    if header_length > len(data) - 8:
        raise CheckpointError(f"{path}: not a safetensors file, or truncated (its header "
                              f"claims {header_length} bytes, the file has {len(data) - 8} "
                              f"after the length)")
    try:
        header = json.loads(data[8:8 + header_length])
        if not isinstance(header, dict):
            raise ValueError("header is not an object")
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not a safetensors file (its header is not JSON)") \
            from None
    try:
        arrays = load(data)
    except Exception as error:  # safetensors raises its own SafetensorsError
        raise CheckpointError(f"{path}: corrupt safetensors file "
                              f"({str(error).splitlines()[0]})") from None
    metadata = header.get("__metadata__") or {}
    if isinstance(metadata.get(METADATA_KEY), str):     # written by convgrad
        try:
            decoded = json.loads(metadata[METADATA_KEY])
        except ValueError:
            raise CheckpointError(f"{path}: its convgrad metadata is not JSON") from None
        if isinstance(decoded, dict):
            metadata = decoded
    return arrays, metadata


def _read_verified(folder: Path, file_name: str, meta: dict) -> tuple[dict, dict]:
    path = folder / file_name
    expected = meta["files"][file_name]           # check_meta made sure it is there
    data = _read_bounded(path, expected["bytes"], f"{META_FILE} recorded")
    if len(data) != expected["bytes"]:
        raise CheckpointError(f"{path}: {len(data)} bytes, but {META_FILE} recorded "
                              f"{expected['bytes']} (truncated or overwritten)")
    if hashlib.sha256(data).hexdigest() != expected["sha256"]:
        raise CheckpointError(f"{path}: corrupt (its SHA-256 differs from the one "
                              f"{META_FILE} recorded)")
    return read_safetensors(path, data)


def read_meta(folder: Path) -> dict:
    path = folder / META_FILE
    try:
        meta = json.loads(_read_bounded(path, JSON_MAX_BYTES).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not valid JSON (truncated or corrupt)") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror})") from None
    try:
        check_meta(meta, folder_step(folder))
    except MetaError as error:
        raise CheckpointError(f"{path}: {error}") from None
    return meta


def load_checkpoint(path: str | os.PathLike, with_optimizer: bool = True) -> Checkpoint:
    """Load the checkpoint ``path`` names (see ``find_checkpoint``), verifying its files."""
    path = find_checkpoint(path)
    if path.is_file():
        arrays, header = read_safetensors(path)
        meta = dict(header)
        for key, kind in (("step", int), ("num_classes", int), ("model", str),
                          ("dataset", str), ("classes", list)):
            if key in meta and not isinstance(meta[key], kind):
                meta.pop(key)              # a foreign file's metadata: ignore what is odd
        return Checkpoint(path, meta, arrays, None)
    meta = read_meta(path)
    model_state, _ = _read_verified(path, MODEL_FILE, meta)
    optimizer_arrays = None
    if with_optimizer:
        optimizer_arrays, _ = _read_verified(path, OPTIMIZER_FILE, meta)
    return Checkpoint(path, meta, model_state, optimizer_arrays)


# ---------------------------------------------------------------------------- sharing
def pack_checkpoint(checkpoint: Checkpoint | None) -> bytes:
    """A loaded checkpoint as one safetensors blob (the arrays under ``model/`` and
    ``optimizer/``, the metadata and the folder's name in its header), for the processes
    of a team (``team.py``); no checkpoint packs to no bytes."""
    if checkpoint is None:
        return b""
    arrays = {f"model/{name}": value for name, value in checkpoint.model_state.items()}
    arrays.update({f"optimizer/{name}": value
                   for name, value in (checkpoint.optimizer_arrays or {}).items()})
    return safetensors_bytes(arrays, {"path": str(checkpoint.path), "meta": checkpoint.meta})


def unpack_checkpoint(data: bytes) -> Checkpoint | None:
    """The inverse of ``pack_checkpoint``."""
    if not data:
        return None
    arrays, header = read_safetensors(Path("<the checkpoint shared by process 0>"), data)
    parts = {"model": {}, "optimizer": {}}
    for key, value in arrays.items():
        part, _, name = key.partition("/")
        parts[part][name] = value
    return Checkpoint(Path(header["path"]), header["meta"], parts["model"], parts["optimizer"])


def load_model_weights(model, checkpoint: Checkpoint, model_name: str) -> None:
    """``model.load_state_dict`` of the checkpoint's weights; a mismatch (missing or
    unexpected keys, other shapes) is a CheckpointError naming the file and the model."""
    try:
        model.load_state_dict(checkpoint.model_state)
    except RuntimeError as error:
        raise weights_error(checkpoint.path, model_name, error) from None


def weights_error(path: Path, model_name: str, error: RuntimeError) -> CheckpointError:
    """``load_state_dict``'s RuntimeError as one line naming the file and the model."""
    # load_state_dict's first line is a header; the lines after it name the keys
    detail = " ".join(" ".join(str(error).split("\n")[1:]).split()) or str(error)
    return CheckpointError(f"{path}: its weights do not fit model {model_name} — a checkpoint "
                           f"from another model? ({detail[:300]})")
