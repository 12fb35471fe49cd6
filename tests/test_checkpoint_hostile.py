"""Checkpoint files that are not what their names say are refused before they are read.

A checkpoint's ``model.safetensors`` that is a link to /dev/zero, a FIFO, or a (sparse) file
far larger than ``meta.json`` recorded — or, for a model file loaded on its own, than its own
header promises — gets one ``CheckpointError`` line, in a child process whose address space is
bounded, so that reading it whole would show up as a MemoryError or a hang instead.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from convgrad.train.checkpoint import load_checkpoint, read_safetensors, save_checkpoint
from convgrad.train.config import TrainConfig
from test_data_hostile import run_bounded

GIB = 1 << 30


def _meta():
    return {"model": "logistic", "dataset": "mnist1d", "num_classes": 10,
            "classes": [str(i) for i in range(10)], "input_shape": [1, 40], "parameters": 410,
            "config": TrainConfig(model="logistic", steps=100).to_dict(), "total_steps": 100,
            "epoch": 0.0, "optimizer": {"state": {}, "param_groups": []}, "scheduler": None,
            "rng": {"convgrad": {}, "loader": {}, "augment": {}}, "train_time_s": 0.0,
            "window": {"loss_sum": 0.0, "correct": 0, "seen": 0, "batches": 0}}


def _checkpoint(run_dir):
    weights = {"linear.weight": np.ones((10, 40), np.float32),
               "linear.bias": np.zeros(10, np.float32)}
    return save_checkpoint(run_dir, 5, weights, {}, _meta(), keep=2)


def _link_to_dev_zero(path):
    path.unlink()
    path.symlink_to("/dev/zero")


def _fifo(path):
    path.unlink()
    os.mkfifo(path)


def _sparse_gib(path):
    with open(path, "r+b") as handle:
        handle.truncate(GIB)


@pytest.mark.parametrize("damage, fragment", [
    (_link_to_dev_zero, "is a symbolic link to /dev/zero, which is a character device"),
    (_fifo, "is a FIFO (named pipe), not a regular file"),
    (_sparse_gib, f"{GIB} bytes, more than the"),
])
def test_a_hostile_model_file_in_a_checkpoint_is_refused_unread(tmp_path, damage, fragment):
    folder = _checkpoint(tmp_path)
    damage(folder / "model.safetensors")
    outcome = run_bounded(lambda path: load_checkpoint(path).step, tmp_path)
    assert outcome.get("error") == "convgrad.train.checkpoint.CheckpointError", outcome
    assert "model.safetensors" in outcome["message"] and fragment in outcome["message"]
    assert "\n" not in outcome["message"]


@pytest.mark.parametrize("damage, fragment", [
    (_link_to_dev_zero, "which is a character device"),
    (_fifo, "is a FIFO (named pipe)"),
    (_sparse_gib, "but its header promises"),
])
def test_a_hostile_model_file_alone_is_refused_unread(tmp_path, damage, fragment):
    model = _checkpoint(tmp_path) / "model.safetensors"
    alone = tmp_path / "alone.safetensors"
    alone.write_bytes(model.read_bytes())
    damage(alone)
    outcome = run_bounded(lambda path: len(read_safetensors(path)[0]), alone)
    assert outcome.get("error") == "convgrad.train.checkpoint.CheckpointError", outcome
    assert fragment in outcome["message"]


def test_checkpoint_meta_json_that_is_a_device_is_refused_unread(tmp_path):
    _link_to_dev_zero(_checkpoint(tmp_path) / "meta.json")
    outcome = run_bounded(lambda run: load_checkpoint(run).step, tmp_path)
    assert outcome.get("error") == "convgrad.train.checkpoint.CheckpointError", outcome
    assert "meta.json" in outcome["message"] and "character device" in outcome["message"]


def test_a_latest_json_that_is_a_device_is_passed_over_unread(tmp_path):
    """latest.json is only a pointer: unreadable, the newest complete folder counts."""
    _checkpoint(tmp_path)
    _link_to_dev_zero(tmp_path / "checkpoints" / "latest.json")
    assert run_bounded(lambda run: load_checkpoint(run).step, tmp_path) == {"returned": 5}
