"""The explorer's landscape view: the landscapes ``convgrad landscape`` saved, read only
from the folder given on the command line (``convgrad explore --landscapes DIR``).

    GET /api/landscapes          the list: each landscape's name, run, centre and Hessian
    GET /api/landscapes/{name}   one landscape: the grid, the two 1-D profiles, the numbers

A request names a landscape by a name from the list — a folder directly inside DIR with a
plain name (letters, digits, ``.``, ``_``, ``-``, ``+``), not a symbolic link, holding a
readable ``landscape.json`` — and the name is looked up in that list, never joined onto a
path.  Files are read as untrusted (regular files only, bounded in size, arrays unpacked
within the bound, no pickle); a landscape larger than the page draws (``MAX_RESOLUTION``,
``MAX_POINTS``) is listed but not served.  Numbers are strict JSON: a cell not computed
(an interrupted landscape) or not finite is null.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..study.landscape_store import LandscapeError, read_arrays, read_meta

MAX_LISTED = 200                 # landscapes in the list (sorted by name)
MAX_RESOLUTION = 201             # grid points per axis the page draws
MAX_POINTS = 1001                # points of a 1-D profile
MAX_FILE_BYTES = 8 << 20         # landscape.npz (a 201 × 201 grid is about 1 MB)
MAX_META_BYTES = 256 << 10       # landscape.json
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


class NoLandscape(Exception):
    """A 404: no landscape of that name, or one that cannot be served (one line)."""


def _number(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _numbers(values: np.ndarray, done: np.ndarray | None = None) -> list:
    """A (nested) list of floats, None where not done or not finite."""
    values = np.asarray(values, dtype=np.float64)
    if done is not None:
        values = np.where(done, values, np.nan)
    if values.ndim == 1:
        return [_number(v) for v in values]
    return [_numbers(row) for row in values]


def _summary(name: str, meta: dict) -> dict:
    """What the list says of one landscape."""
    settings = meta.get("settings") if isinstance(meta.get("settings"), dict) else {}
    hessian = meta.get("hessian") if isinstance(meta.get("hessian"), dict) else None
    centre = meta.get("centre") if isinstance(meta.get("centre"), dict) else None

    def number(source, key):
        value = source.get(key) if source else None
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) else None

    def text(key):
        value = meta.get(key)
        return value if isinstance(value, str) else None

    resolution = settings.get("resolution")
    return {
        "name": name, "model": text("model"), "dataset": text("dataset"),
        "parameters": meta.get("parameters") if isinstance(meta.get("parameters"), int)
        else None,
        "checkpoint_step": meta.get("checkpoint_step")
        if isinstance(meta.get("checkpoint_step"), int) else None,
        "resolution": resolution if isinstance(resolution, int) else None,
        "settings": {key: value for key, value in settings.items()
                     if isinstance(value, (int, float, str)) and not isinstance(value, bool)},
        "centre": None if centre is None else {"loss": number(centre, "loss"),
                                               "accuracy": number(centre, "accuracy")},
        "hessian": None if hessian is None else {
            key: number(hessian, key) for key in ("lambda_max", "lambda_min", "ratio",
                                                  "residual_max", "residual_min")},
    }


class LandscapeFolder:
    """The folder of saved landscapes (None: the explorer was started without one)."""

    def __init__(self, root: str | Path | None):
        self.root = None if root is None else Path(root)

    def _entries(self) -> list[tuple[str, Path]]:
        if self.root is None:
            return []
        try:
            entries = sorted(self.root.iterdir())
        except OSError:
            return []
        return [(entry.name, entry) for entry in entries
                if PLAIN_NAME.match(entry.name) and not entry.is_symlink() and entry.is_dir()]

    def listing(self) -> dict:
        found = []
        for name, folder in self._entries():
            try:
                found.append(_summary(name, read_meta(folder, MAX_META_BYTES)))
            except LandscapeError:
                continue                  # not a landscape (another folder), or damaged
            if len(found) > MAX_LISTED:
                break
        return {"configured": self.root is not None, "landscapes": found[:MAX_LISTED],
                "truncated": len(found) > MAX_LISTED}

    def landscape(self, name: str) -> dict:
        """One landscape's answer (``NoLandscape`` naming why there is none)."""
        if self.root is None:
            raise NoLandscape("the explorer was started without a landscapes folder: start "
                              "it with convgrad explore --landscapes DIR")
        folder = dict(self._entries()).get(name)
        if folder is None:
            raise NoLandscape(f"no landscape named {name[:80]!r} (GET /api/landscapes "
                              f"lists them)")
        try:
            meta = read_meta(folder, MAX_META_BYTES)
            arrays = read_arrays(folder, MAX_FILE_BYTES)
        except LandscapeError as error:
            raise NoLandscape(f"landscape {name!r} cannot be read: "
                              f"{str(error).replace(str(self.root), '<landscapes>')}") \
                from None
        if len(arrays["x"]) > MAX_RESOLUTION or len(arrays["y"]) > MAX_RESOLUTION or \
                len(arrays["line_t"]) > MAX_POINTS:
            raise NoLandscape(f"landscape {name!r} is {len(arrays['y'])} × "
                              f"{len(arrays['x'])} with profiles of {len(arrays['line_t'])} "
                              f"points, more than the explorer draws ({MAX_RESOLUTION} per "
                              f"axis, {MAX_POINTS} per profile)")
        a = arrays
        return {
            **_summary(name, meta),
            "x": _numbers(a["x"]), "y": _numbers(a["y"]),
            "loss": _numbers(a["loss"], a["done"]),
            "accuracy": _numbers(a["accuracy"], a["done"]),
            "cells_done": int(a["done"].sum()),
            "direction": {"alpha": _numbers(a["direction_alpha"]),
                          "loss": _numbers(a["direction_loss"], a["direction_done"]),
                          "accuracy": _numbers(a["direction_accuracy"], a["direction_done"])},
            "line": {"t": _numbers(a["line_t"]),
                     "loss": _numbers(a["line_loss"], a["line_done"]),
                     "accuracy": _numbers(a["line_accuracy"], a["line_done"])},
        }
