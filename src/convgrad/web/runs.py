"""The run folders the explorer may show: those given on the command line, by name.

``convgrad explore --run RUN`` serves that one run folder; ``--runs DIR`` every run folder in
DIR (and one level below, as ``convgrad compare`` nests them: ``compare-…/cnn``).  A request
names a run by its **name in the listing** — ``RunFolders.listing()`` is made afresh from
the folders on disk, and a name is looked up in it, never joined onto a path — so nothing
outside those folders can be asked for.

Symbolic links may not lead out: a run folder is listed only if its real path lies inside
the root (``DIR``, or the ``--run`` folder itself), and every file the explorer then reads of
it (``config.json``, ``metrics.jsonl``, the checkpoint's folder, ``meta.json`` and model
file) is checked to resolve inside that root too, just before it is read.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..train.checkpoint import (BEST, CHECKPOINTS, META_FILE, CheckpointError, best_checkpoint,
                                select_checkpoint, step_folders)
from ..train.meta import MODEL_FILE

MAX_RUNS = 500            # listed at most (a runs folder is read afresh on every listing)
MAX_NAME = 300            # characters of a run's name


class RunUnavailable(Exception):
    """A listed run that cannot be shown (no checkpoint yet, a link out, ...): one line."""


@dataclass(frozen=True)
class RunFolder:
    name: str         # as listed and requested
    path: Path        # the folder (as found: not resolved)
    root: Path        # the real path it must stay inside


def _is_run(path: Path) -> bool:
    return (path / CHECKPOINTS).is_dir()


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):       # a loop of links, say
        return False


class RunFolders:
    def __init__(self, runs_dir: str | os.PathLike | None = None,
                 run: str | os.PathLike | None = None):
        self.runs_dir = None if runs_dir is None else Path(runs_dir).expanduser()
        self.run = None if run is None else Path(run).expanduser()

    @property
    def initial(self) -> str | None:
        """The run the page opens with: ``--run``'s, else none."""
        return self._single().name if self.run is not None else None

    def _single(self) -> RunFolder:
        name = self.run.resolve().name or "run"
        return RunFolder(name, self.run, self.run.resolve())

    def listing(self) -> dict:
        """``{name: RunFolder}``, made afresh (module docstring)."""
        found = {}
        if self.run is not None and self.run.is_dir():
            single = self._single()
            found[single.name] = single
        if self.runs_dir is not None and self.runs_dir.is_dir():
            root = self.runs_dir.resolve()
            for child in sorted(self.runs_dir.iterdir()):
                if len(found) >= MAX_RUNS:
                    break
                if not child.is_dir() or not _inside(child, root):
                    continue
                candidates = [child] if _is_run(child) else sorted(
                    c for c in child.iterdir() if c.is_dir() and _inside(c, root))
                for folder in candidates:
                    if not _is_run(folder) or len(found) >= MAX_RUNS:
                        continue
                    name = folder.relative_to(self.runs_dir).as_posix()
                    if len(name) <= MAX_NAME and name not in found:
                        found[name] = RunFolder(name, folder, root)
        return found

    def get(self, name: str) -> RunFolder | None:
        return self.listing().get(name)


def checked(folder: RunFolder, *relative) -> Path:
    """``folder.path / relative``, refused (``RunUnavailable``) if it resolves outside the
    run's root."""
    path = folder.path.joinpath(*relative)
    if not _inside(path, folder.root):
        raise RunUnavailable(f"run {folder.name}: {'/'.join(map(str, relative)) or 'its folder'}"
                             f" leads outside the folder given to convgrad explore; not read")
    return path


def checkpoint_folder(folder: RunFolder, which: str) -> Path:
    """The step folder ``which`` names (last, best, a step), its files checked to lie inside
    the root."""
    checked(folder, CHECKPOINTS)
    step_folder = select_checkpoint(folder.path, which)
    relative = step_folder.relative_to(folder.path)
    for parts in ((relative,), (relative, META_FILE), (relative, MODEL_FILE)):
        checked(folder, *parts)
    return step_folder


def kept_checkpoints(folder: RunFolder) -> list:
    """``[{"step", "best"}]`` of every kept checkpoint, oldest first (the best one once,
    marked, when it is also a kept step)."""
    root = folder.path / CHECKPOINTS
    steps = {step: False for step, _ in step_folders(root)}
    try:
        best = best_checkpoint(folder.path) if (root / BEST).is_dir() else None
    except CheckpointError:         # a damaged best/ pointer: the kept steps still show
        best = None
    if best is not None:
        steps[int(best.name.split("-")[1])] = True
    return [{"step": step, "best": steps[step]} for step in sorted(steps)]
