"""``convgrad.train``: the training loop, checkpoints, metrics, plots, ``load_run`` and the
``train``, ``eval``, ``compare`` and ``summary`` commands.

    from convgrad.train import TrainConfig, train, load_run
    result = train(TrainConfig(model="cnn", steps=6000), "runs/cnn")
    result.test_accuracy
    run = load_run("runs/cnn")          # run.model, run.config, run.data

One concern per module: ``config`` (the frozen, validated recipe), ``setup`` (data, model,
optimizer, schedule from a config), ``state`` (the run's plan and state), ``backend`` (the
engine: model, optimizer, one training step, its checkpointed state), ``loop`` (the
``Trainer`` and its loop), ``measurements`` (columns added at each evaluation),
``runfolder`` (the run folder's files and lock), ``checkpoint`` (safetensors + JSON,
atomic), ``metrics`` (JSON lines + CSV), ``report`` (what a run prints), ``plot`` (the
curves PNG), ``evaluate`` (accuracy, per-class accuracy, confusion matrix), ``load``
(``load_run``), ``compare`` (the paper's three models side by side), ``faults`` (the crash
tests' seam), ``cli`` (the commands).
"""
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .config import ConfigError, TrainConfig
from .evaluate import Evaluation, evaluate, format_evaluation
from .load import LoadedRun, load_run
from .loop import RunResult, Trainer, train
from .measurements import Measurement, RunView, TrainingSet
from .runfolder import RunError

__all__ = ["Checkpoint", "CheckpointError", "ConfigError", "Evaluation", "LoadedRun",
           "Measurement", "RunError", "RunResult", "RunView", "TrainConfig", "Trainer",
           "TrainingSet", "evaluate", "format_evaluation", "load_checkpoint", "load_run",
           "save_checkpoint", "train"]
