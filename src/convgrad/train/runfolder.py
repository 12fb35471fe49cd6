"""The run folder: where a run's files go, who may write into it, and what it was started
with.

    runs/<model>-<dataset>-<date>-<time>/
        config.json      the TrainConfig the run started with
        metrics.jsonl    one row per evaluation (metrics.py), and metrics.csv
        curves.png       loss and accuracy (plot.py)
        summary.json     the numbers of the finished run
        checkpoints/     checkpoint.py
        .lock            held while a process trains here

A new run goes into a folder that does not exist yet, an empty one, or one without a run in
it; it is created only once the data has loaded, so a missing data set leaves nothing.
"""
from __future__ import annotations

import os
import platform
from datetime import datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from .checkpoint import CHECKPOINTS, META_FILE, CheckpointError, latest_checkpoint, read_meta
from .config import ConfigError, TrainConfig

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
CURVES_FILE = "curves.png"
LOCK_FILE = ".lock"
# Config fields that say where the data lives or where the run computes, not what it
# computes: a resumed run may change them (the data moved; the run moves to PyTorch, to a
# GPU, to more processes).
RELOCATABLE = ("data_dir", "download", "backend", "device", "nproc")


class RunError(Exception):
    """A problem with the run folder the user can fix (one line)."""


def default_run_dir(config: TrainConfig, root: str | os.PathLike = "runs") -> Path:
    """``runs/<model>-<dataset>-<date>-<time>``, with a suffix if that exists already."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{config.model}-{config.dataset}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() or (path / CHECKPOINTS).is_dir()


def check_new_run_dir(run_dir: Path) -> None:
    """Refuse a folder that is not a folder, or already holds a run."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"--out {run_dir}: exists and is not a folder")
    if run_dir.is_dir() and is_run_dir(run_dir):
        raise RunError(f"--out {run_dir}: already holds a run; continue it with --resume "
                       f"{run_dir}, or choose another --out")


def make_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"{run_dir}: cannot create the run folder ({error.strerror})") from None


def saved_config(run_dir: Path) -> TrainConfig:
    """The config a run folder was started with (its latest checkpoint's, else
    ``config.json``)."""
    if not run_dir.is_dir():
        raise RunError(f"--resume {run_dir}: no such folder")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is not None:
        return TrainConfig.from_dict(read_meta(checkpoint)["config"])
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RunError(f"--resume {run_dir}: no checkpoint to resume from (not a run folder: "
                       f"no checkpoints/ and no {CONFIG_FILE})")
    try:
        return TrainConfig.from_json(path.read_text(encoding="utf-8"))
    except ConfigError as error:
        raise RunError(f"{path}: {error}") from None


def recipe_differences(saved: TrainConfig, mine: TrainConfig, words=("", ", not")) -> str:
    """The recipe fields in which two configs differ, as ``lr 0.01, not 0.1, ...`` (empty
    if none; where the data lives does not count); ``words`` follow each value."""
    return ", ".join(f"{name} {getattr(saved, name)!r}{words[0]}{words[1]} "
                     f"{getattr(mine, name)!r}"
                     for name in saved.to_dict()
                     if name not in RELOCATABLE and getattr(saved, name) != getattr(mine, name))


def check_against_run_config(run_dir: Path, checkpoint) -> None:
    """A checkpoint's config must be the recipe its run folder's ``config.json`` started
    (CheckpointError otherwise; nothing to compare when there is no config.json, as for
    a checkpoint folder copied elsewhere)."""
    started = _started_config(run_dir)
    if started is None:
        return
    differing = recipe_differences(started, TrainConfig.from_dict(checkpoint.meta["config"]),
                                   (f" in {CONFIG_FILE}", ", in its meta.json"))
    if differing:
        raise CheckpointError(f"{checkpoint.path / META_FILE}: saved with another recipe "
                              f"than its run folder's ({differing})")


def check_restart(run_dir: Path, config: TrainConfig) -> None:
    """A run resumed before its first checkpoint starts again from scratch: with the
    recipe its ``config.json`` says, or not at all (RunError)."""
    started = _started_config(run_dir)
    differing = None if started is None else recipe_differences(started, config)
    if differing:
        raise RunError(f"{run_dir / CONFIG_FILE}: the run was started with another recipe "
                       f"({differing})")


def _started_config(run_dir: Path) -> TrainConfig | None:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return TrainConfig.from_json(path.read_text(encoding="utf-8"))
    except (ConfigError, OSError, UnicodeDecodeError) as error:
        raise RunError(f"{path}: {error}") from None


class RunLock:
    """An exclusive lock on the run folder, so two processes never train into one."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK_FILE
        self.handle = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:       # Windows: no advisory locks; trust the user
            return self
        self.handle = open(self.path, "a")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise RunError(f"{self.path.parent}: another convgrad train is running in this "
                           f"folder") from None
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            self.handle.close()   # closing releases the lock


def versions() -> dict:
    """The versions a checkpoint records (what computed it; informative only).  Read from
    the installed packages' metadata: importing the ``convgrad`` package itself from here
    would close an import cycle (it exports ``load_run``)."""
    found = {"numpy": np.__version__, "python": platform.python_version()}
    for package in ("convgrad", "safetensors"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found
