"""What a run is doing: its plan, fixed when it starts, and its state, which every step
changes and every checkpoint saves.

    plan   total steps, batches per epoch, when to evaluate and to checkpoint
    state  step, training time, the training window (the batches since the last
           evaluation: their summed loss, correct predictions, samples, count), and the
           best evaluation so far (the step of ``checkpoints/best/``)

``train_loss`` and ``train_acc`` of a metrics row are the window's means; the window
restarts after each evaluation.  The engine's own state (weights, optimizer, schedule,
its random generator) belongs to the backend, the data order to the DataLoader.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .config import TrainConfig


@dataclass(frozen=True)
class RunPlan:
    total_steps: int
    batches_per_epoch: int
    eval_every: int            # 0 in the config (only at the end) is total_steps here
    checkpoint_every: int

    @classmethod
    def of(cls, config: TrainConfig, batches_per_epoch: int) -> "RunPlan":
        total = config.total_steps(batches_per_epoch)
        config.check_schedule(total)
        return cls(total, batches_per_epoch, config.eval_every or total,
                   config.checkpoint_every or total)

    def evaluates_at(self, step: int) -> bool:
        return step % self.eval_every == 0 or step == self.total_steps

    def checkpoints_at(self, step: int) -> bool:
        return step % self.checkpoint_every == 0 or step == self.total_steps

    def epoch(self, step: int) -> float:
        return step / self.batches_per_epoch


@dataclass
class Window:
    """The training batches since the last evaluation."""
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    batches: int = 0

    def add(self, loss: float, correct: int, samples: int) -> None:
        self.loss_sum += loss
        self.correct += correct
        self.seen += samples
        self.batches += 1

    @property
    def mean_loss(self) -> float | None:
        return self.loss_sum / self.batches if self.batches else None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.seen if self.seen else None

    def to_meta(self) -> dict:
        # A diverged run's sum is NaN or ±inf, which JSON cannot hold: saved as its name.
        loss_sum = self.loss_sum if math.isfinite(self.loss_sum) else str(self.loss_sum)
        return {"loss_sum": loss_sum, "correct": self.correct, "seen": self.seen,
                "batches": self.batches}

    @classmethod
    def from_meta(cls, meta: dict) -> "Window":
        return cls(float(meta["loss_sum"]), int(meta["correct"]), int(meta["seen"]),
                   int(meta["batches"]))


@dataclass(frozen=True)
class Best:
    """The evaluation with the highest test accuracy so far (the first, on a tie)."""
    step: int
    test_acc: float

    def beaten_by(self, test_acc: float) -> bool:
        return test_acc > self.test_acc

    def to_meta(self) -> dict:
        return {"step": self.step, "test_acc": self.test_acc}

    @classmethod
    def from_meta(cls, meta: dict | None) -> "Best | None":
        return None if meta is None else cls(int(meta["step"]), float(meta["test_acc"]))


@dataclass
class RunState:
    step: int = 0
    train_time: float = 0.0        # seconds of training, summed over every session
    window: Window = field(default_factory=Window)
    best: Best | None = None
