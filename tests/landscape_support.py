"""Saved landscapes for the explorer's tests (no tests of its own): two tiny runs, a plain
network and its residual twin, trained 40 steps, and their 9 × 9 landscapes."""
from __future__ import annotations

import os
from pathlib import Path

from convgrad.study.landscape import HessianSettings, Landscape, LandscapeSettings
from convgrad.train import TrainConfig, Trainer, load_run
from test_train_support import data_home

NAMES = ("plain1d", "resnet1d")


def make_landscapes(root: Path) -> Path:
    """``root/landscapes/{plain1d,resnet1d}``, as ``convgrad landscape`` saves them."""
    os.environ["CONVGRAD_HOME"] = str(data_home())
    settings = LandscapeSettings(resolution=9, profile_points=9, samples=200, batch_size=200)
    for name in NAMES:
        Trainer(TrainConfig(model=name, steps=40, eval_every=20, eval_samples=100),
                root / "runs" / name, quiet=True).run()
        landscape = Landscape(load_run(root / "runs" / name), settings,
                              root / "landscapes" / name, HessianSettings(max_iterations=10))
        with landscape.store.locked():
            landscape.open()
            landscape.compute()
    return root / "landscapes"
