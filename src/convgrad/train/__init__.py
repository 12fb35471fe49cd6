"""``convgrad.train``: the training loop, checkpoints, metrics, plots and the ``train``,
``eval``, ``compare`` and ``summary`` commands.

    from convgrad.train import TrainConfig, train
    result = train(TrainConfig(model="cnn", steps=6000), "runs/cnn")
    result.test_accuracy

One concern per module: ``config`` (the validated recipe), ``setup`` (data, model,
optimizer, schedule from a config), ``loop`` (the loop and the run folder), ``checkpoint``
(safetensors + JSON, atomic), ``metrics`` (JSON lines + CSV), ``plot`` (the curves PNG),
``evaluate`` (accuracy, per-class accuracy, confusion matrix), ``compare`` (the paper's
three models side by side), ``cli`` (the commands).
"""
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .config import ConfigError, TrainConfig
from .evaluate import Evaluation, evaluate, format_evaluation
from .loop import RunError, RunResult, Trainer, train

__all__ = ["Checkpoint", "CheckpointError", "ConfigError", "Evaluation", "RunError",
           "RunResult", "TrainConfig", "Trainer", "evaluate", "format_evaluation",
           "load_checkpoint", "save_checkpoint", "train"]
