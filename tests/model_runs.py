"""Small trained runs for the tests of ``convgrad.inspect`` and the explorer's model view
(no tests of its own).

``runs_folder()`` trains, once per test process, a few short runs of different registry models
into one temporary folder — the MNIST-1D CNN (several kept checkpoints), LeNet-5 on the 8×8
digits, and the 1-D ResNet and its plain twin (residual blocks with and without skips) —
and returns it; the folder goes when the process ends.  ``data_environment()`` points
``CONVGRAD_HOME`` at the shared MNIST-1D cache for as long as a test module needs it.
"""
from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from test_train_support import data_home

RECIPES = {
    "cnn": dict(model="cnn", steps=60, eval_every=20, checkpoint_every=20, keep_checkpoints=5),
    "lenet": dict(model="lenet5-small", steps=40, eval_every=20, checkpoint_every=20,
                  keep_checkpoints=3),
    "resnet1d": dict(model="resnet1d", steps=6, eval_every=3, checkpoint_every=3,
                     batch_size=32, eval_samples=100),
    "plain1d": dict(model="plain1d", steps=3, eval_every=3, checkpoint_every=3, batch_size=32,
                    eval_samples=100),
}


@contextlib.contextmanager
def data_environment():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVGRAD_HOME", str(data_home()))
        yield


@functools.cache
def runs_folder() -> Path:
    from convgrad.train import TrainConfig, Trainer

    folder = Path(tempfile.mkdtemp(prefix="convgrad-model-runs-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    with data_environment():
        for name, recipe in RECIPES.items():
            Trainer(TrainConfig(**recipe), folder / name, quiet=True).run()
    return folder


def run_dir(name: str) -> Path:
    return runs_folder() / name


def copy_run(name: str, destination: Path) -> Path:
    """A copy of a trained run, to damage without touching the shared one."""
    target = destination / name
    shutil.copytree(run_dir(name), target, symlinks=True)
    os.utime(target)
    return target
