"""A checkpoint's ``meta.json``: every key, checked before any of it is used.

    format, format_version   "convgrad-checkpoint", 1
    step                     the optimizer steps done, 0 ≤ step ≤ total_steps; the folder's
                             name says the same step
    total_steps              the run's length
    model, dataset           registry names, the same as the config's
    num_classes, classes     the class count and one name per class
    input_shape              one sample's shape, the model's
    parameters               the model's parameter count
    config                   the run's TrainConfig (a valid one)
    epoch                    step / batches per epoch
    optimizer, scheduler     their JSON state (the arrays are in optimizer.safetensors)
    rng                      every generator's state: convgrad, loader, augment
    window                   loss_sum, correct, seen, batches since the last evaluation
    train_time_s             the run's training time so far
    best                     the best evaluation so far, {"step", "test_acc"}, or null
    files                    {"model.safetensors": {"bytes", "sha256"}, "optimizer...": …}
    versions, saved_at       what wrote it, and when (informative: never checked)

A checkpoint is only ever written whole by convgrad, so a key that is missing, of the
wrong type or out of range means the file was edited or damaged: ``check_meta`` refuses it
with one line naming the key, before a run resumes from it (which could then write over
good checkpoints) or ``eval`` trusts it.  ``files`` is mandatory: without it the arrays
could not be verified.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

from ..models import MODELS
from .config import DEFAULT_STEPS, ConfigError, TrainConfig

FORMAT = "convgrad-checkpoint"
FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
REQUIRED = ("step", "total_steps", "model", "dataset", "num_classes", "classes",
            "input_shape", "parameters", "config", "epoch", "optimizer", "scheduler", "rng",
            "window", "train_time_s", "files")
NON_FINITE = ("nan", "inf", "-inf")      # a diverged window's loss sum, saved by name
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class MetaError(ValueError):
    """What is wrong with a meta.json (the caller adds the file's name)."""


def check_meta(meta, folder_step: int | None = None) -> None:
    """Every key of ``meta`` (see the module docstring); ``folder_step`` is the step the
    checkpoint's folder is named after.  Raises MetaError."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise MetaError("not a convgrad checkpoint's metadata")
    if meta.get("format_version") != FORMAT_VERSION:
        raise MetaError(f"checkpoint format version {meta.get('format_version')!r}, this "
                        f"convgrad reads {FORMAT_VERSION}")
    missing = [key for key in REQUIRED if key not in meta]
    if missing:
        why = " (the list of its files and their checksums: it cannot be verified without " \
              "it)" if "files" in missing else ""
        raise MetaError(f"incomplete: no {', '.join(repr(k) for k in missing)}{why}; convgrad "
                        f"writes every key, so the file was edited or damaged")
    step, total = meta["step"], meta["total_steps"]
    _require(meta, "step", _is_int(step) and step >= 0, "an integer ≥ 0")
    _require(meta, "total_steps", _is_int(total) and total >= 1, "an integer ≥ 1")
    if step > total:
        raise MetaError(f"step {step} is past the run's last step (total_steps {total})")
    if folder_step is not None and step != folder_step:
        raise MetaError(f"says step {step}, but its folder is the checkpoint of step "
                        f"{folder_step}")
    model = meta["model"]
    _require(meta, "model", isinstance(model, str) and model in MODELS, "a registry model")
    config = _config(meta)
    for key in ("model", "dataset"):
        if meta[key] != getattr(config, key):
            raise MetaError(f"{key} {meta[key]!r}, but its config says "
                            f"{getattr(config, key)!r}")
    expected_total = config.steps if config.steps is not None else \
        DEFAULT_STEPS if config.epochs is None else None
    if expected_total is not None and total != expected_total:
        raise MetaError(f"total_steps {total}, but its config trains {expected_total} steps")
    classes = meta["classes"]
    _require(meta, "num_classes", _is_int(meta["num_classes"]) and meta["num_classes"] >= 1,
             "an integer ≥ 1")
    _require(meta, "classes", isinstance(classes, list) and len(classes) == meta["num_classes"]
             and all(isinstance(c, str) for c in classes), "num_classes names")
    _require(meta, "input_shape", meta["input_shape"] == list(MODELS[model].input_shape),
             f"model {model}'s input shape {list(MODELS[model].input_shape)}")
    _require(meta, "parameters", _is_int(meta["parameters"]) and meta["parameters"] >= 1,
             "an integer ≥ 1")
    _require(meta, "epoch", _is_number(meta["epoch"]) and meta["epoch"] >= 0, "a number ≥ 0")
    _require(meta, "train_time_s", _is_number(meta["train_time_s"])
             and meta["train_time_s"] >= 0, "a number ≥ 0")
    optimizer = meta["optimizer"]
    _require(meta, "optimizer", isinstance(optimizer, dict)
             and isinstance(optimizer.get("state"), dict)
             and isinstance(optimizer.get("param_groups"), list), "an optimizer's state")
    _require(meta, "scheduler", meta["scheduler"] is None or isinstance(meta["scheduler"], dict),
             "a schedule's state or null")
    rng = meta["rng"]
    _require(meta, "rng", isinstance(rng, dict) and all(
        isinstance(rng.get(name), dict) for name in ("convgrad", "loader", "augment")),
        "the convgrad, loader and augment generators' states")
    _check_window(meta["window"], step)
    _check_best(meta.get("best"), step)
    _check_files(meta["files"])


def _config(meta: dict) -> TrainConfig:
    try:
        return TrainConfig.from_dict(meta["config"])
    except ConfigError as error:
        raise MetaError(f"its config is not valid ({error})") from None


def _check_window(window, step: int) -> None:
    ok = isinstance(window, dict) and (
        _is_number(window.get("loss_sum")) or window.get("loss_sum") in NON_FINITE) and all(
        _is_int(window.get(key)) and window[key] >= 0 for key in ("correct", "seen", "batches"))
    if ok:
        ok = window["correct"] <= window["seen"] and window["batches"] <= step
    _require({"window": window}, "window", ok, "the counts of the batches since the last "
             "evaluation (loss_sum, correct ≤ seen, batches ≤ step)")


def _check_best(best, step: int) -> None:
    if best is None:
        return
    ok = isinstance(best, dict) and _is_int(best.get("step")) and 0 <= best["step"] <= step \
        and _is_number(best.get("test_acc")) and 0 <= best["test_acc"] <= 1
    _require({"best": best}, "best", ok, "null or the best evaluation so far "
             "({'step': ≤ step, 'test_acc': in [0, 1]})")


def _check_files(files) -> None:
    ok = isinstance(files, dict) and set(files) == {MODEL_FILE, OPTIMIZER_FILE} and all(
        isinstance(entry, dict) and _is_int(entry.get("bytes")) and entry["bytes"] >= 0
        and isinstance(entry.get("sha256"), str) and _SHA256.match(entry["sha256"])
        for entry in files.values())
    _require({"files": files}, "files", ok, f"the size and SHA-256 of {MODEL_FILE} and "
             f"{OPTIMIZER_FILE}")


def _require(meta: dict, key: str, ok: bool, wanted: str) -> None:
    if not ok:
        shown = repr(meta[key])
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise MetaError(f"{key} must be {wanted}, got {shown}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def folder_step(path: Path) -> int | None:
    """The step a ``step-0000300`` folder is named after (None for other names)."""
    match = re.fullmatch(r"step-(\d+)", Path(path).name)
    return int(match.group(1)) if match else None
