"""Small trained runs for the tests of ``convgrad.inspect`` and the explorer's model view
(no tests of its own).

``runs_folder()`` trains, once per test process, a few short runs of different registry models
into one temporary folder — the MNIST-1D CNN (several kept checkpoints), LeNet-5 on the 8×8
digits, the 1-D ResNet and its plain twin (residual blocks with and without skips), and on
small random stand-ins for MNIST and CIFAR-10 (``data/``, beside the runs) LeNet-5 at 28×28
and ResNet-20, and a residual LeNet stack of the depth study (one pooling module run twice)
— and returns it; the folder goes when the process ends.  ``data_environment()`` points
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

from test_train_support import data_home, random_cifar_folder, random_mnist_folder

RECIPES = {
    "cnn": dict(model="cnn", steps=60, eval_every=20, checkpoint_every=20, keep_checkpoints=5),
    "lenet": dict(model="lenet5-small", steps=40, eval_every=20, checkpoint_every=20,
                  keep_checkpoints=3),
    "resnet1d": dict(model="resnet1d", steps=6, eval_every=3, checkpoint_every=3,
                     batch_size=32, eval_samples=100),
    "plain1d": dict(model="plain1d", steps=3, eval_every=3, checkpoint_every=3, batch_size=32,
                    eval_samples=100),
    "lenet-mnist": dict(model="lenet5", steps=4, batch_size=10, eval_every=2, checkpoint_every=2,
                        data_dir="data/mnist"),
    "resnet20": dict(model="resnet20", steps=2, batch_size=16, eval_every=0,
                     data_dir="data/cifar"),
    "reslenet": dict(model="reslenet-6", steps=2, batch_size=16, eval_every=0),
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
    data = Path(tempfile.mkdtemp(prefix="convgrad-model-data-"))   # not in the runs folder
    atexit.register(shutil.rmtree, data, ignore_errors=True)
    random_mnist_folder(data / "mnist", train=20, test=10)
    random_cifar_folder(data / "cifar", train_per_batch=8, test=6)
    with data_environment():
        for name, recipe in RECIPES.items():
            if "data_dir" in recipe:
                recipe = dict(recipe, data_dir=str(data / Path(recipe["data_dir"]).name))
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
