"""``load_run``: a run folder back in Python — the trained model, its config, its data.

    import convgrad as cg
    run = cg.load_run("runs/cnn-mnist1d-20250101-120000")            # the latest checkpoint
    run = cg.load_run("runs/cnn", checkpoint="best")                 # the best evaluation's
    run = cg.load_run("runs/cnn", checkpoint=2000)                   # or a kept step
    with cg.no_grad():
        logits = run.model(cg.from_numpy(run.data.test_x[:5]))

The checkpoint is verified (checksums, metadata) before anything is built; the model is a
fresh registry model with the checkpoint's weights, in eval mode; building it does not
disturb convgrad's random generator.  ``data=False`` skips loading the data set (for a
model alone), ``data_dir`` points at data that has moved since training.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from .. import random as cg_random
from ..data.dataset import Dataset
from .checkpoint import (Checkpoint, CheckpointError, load_checkpoint, load_model_weights,
                         select_checkpoint)
from .config import TrainConfig
from .runfolder import check_against_run_config
from .setup import build_model, load_data


@dataclass(frozen=True)
class LoadedRun:
    run_dir: Path
    config: TrainConfig
    model: object                 # a convgrad Module, in eval mode
    data: Dataset | None          # None when loaded with data=False
    checkpoint: Checkpoint        # the weights' step folder, its metadata and arrays

    @property
    def step(self) -> int:
        return self.checkpoint.step


def load_run(path: str | os.PathLike, checkpoint: str | int = "last", *, data: bool = True,
             data_dir: str | os.PathLike | None = None) -> LoadedRun:
    """Load run folder ``path`` at ``checkpoint`` (``"last"``, ``"best"``, or a kept step
    number).

    Raises ``CheckpointError`` (missing, corrupt or inconsistent checkpoint) and, when
    loading the data, ``DataError`` subclasses; each with a one-line message.
    """
    run_dir = Path(path).expanduser()
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run folder")
    loaded = load_checkpoint(select_checkpoint(run_dir, checkpoint), with_optimizer=False)
    check_against_run_config(run_dir, loaded)
    config = TrainConfig.from_dict(loaded.meta["config"])   # checked with the meta.json
    if data_dir is not None:
        config_for_data = dataclasses.replace(config, data_dir=os.fspath(data_dir))
    else:
        config_for_data = config
    dataset = load_data(config_for_data) if data else None
    generator = cg_random.get_rng_state()
    try:
        model = build_model(config.model, loaded.meta["num_classes"])
    finally:
        cg_random.set_rng_state(generator)   # initial weights are overwritten anyway
    load_model_weights(model, loaded, config.model)
    parameters = sum(p.numel() for p in model.parameters())
    if parameters != loaded.meta["parameters"]:
        raise CheckpointError(f"{loaded.path}: parameters {loaded.meta['parameters']}, but its "
                              f"weights make a model of {parameters}")
    model.eval()
    return LoadedRun(run_dir, config, model, dataset, loaded)
