"""The training loop: mini-batches, one optimizer step each, with periodic evaluation,
metrics, checkpoints and a progress bar.

    for step in 1..T:
        x, y = next batch (a new shuffled epoch when one runs out); augment if asked
        loss = cross_entropy(model(x), y);  backward;  optimizer.step();  scheduler.step()
        every eval_every steps (and at step 0 and T): evaluate, write a metrics row;
            a new best test accuracy: checkpoint it in checkpoints/best/
        every checkpoint_every steps (and at T): checkpoint

``Trainer`` holds what the caller chose (config, run folder, resume, output); ``run()``
loads the data, locks the folder and hands over to a ``_Session``, which builds every
object of the run in its ``__init__`` — the backend (model, optimizer, schedule: the
engine), the DataLoader, the run state, the metrics log — and runs ``_train``, the loop.

Reproducibility.  Everything random draws from generators seeded by ``config.seed``:
the engine's (initialisation, dropout), the DataLoader's own (shuffling), and the
augmentation's own.  A checkpoint saves all three states, the DataLoader's position in
its epoch, the optimizer's and the scheduler's state, and the run state (step, training
time, the window of batches since the last evaluation) — everything the remaining steps
depend on — so a resumed run computes, bit for bit, what the uninterrupted run computes.

Divergence.  A loss that is NaN or infinite stops the run at once (unless
``allow_nonfinite``): nothing of that step is saved, so the latest checkpoint stays the last
good one, and the result says where it happened.  NumPy's floating-point warnings
(overflow, invalid values) are off while a run computes: a diverging run would print them
by the hundred, and the non-finite loss they lead to is what the run reports.

Speed.  The default run is 6000 steps, so the loop does as little Python per step as it
can: no per-step I/O, the progress bar advanced every ``BAR_EVERY`` steps, the training
accuracy counted from the logits already computed, evaluation only every 250 steps.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..data import DataLoader
from ..data.dataset import Dataset
from .atomic import plain, remove_strays, replace_json
from .backend import EngineState, NumpyBackend
from .checkpoint import (CheckpointError, best_checkpoint, clean_checkpoints,
                         latest_checkpoint, load_checkpoint, save_checkpoint, weights_error)
from .config import TrainConfig
from .faults import WriteHook
from .interrupt import StopRequest
from .measurements import Measurements, RunView
from .metrics import FIELDS, MetricsLog, damage_report
from .plot import save_curves
from .report import Reporter
from .runfolder import (CONFIG_FILE, CURVES_FILE, SUMMARY_FILE, RunLock,
                        check_against_run_config, check_new_run_dir, check_restart,
                        make_run_dir, recipe_differences, versions)
from .setup import augmentation_generator, build_augmentation, load_data
from .state import Best, RunPlan, RunState, Window

PLOT_INTERVAL_S = 20.0  # at a checkpoint, redraw the curves if this long since the last


@dataclass(frozen=True)
class Divergence:
    """Where a run stopped on a non-finite loss."""
    step: int
    loss: float
    lr: float                       # the learning rate of that step


@dataclass
class RunResult:
    run_dir: Path
    config: TrainConfig
    parameters: int
    steps: int                      # steps done (the run's total unless interrupted)
    total_steps: int
    start_step: int                 # where this session started (0, or the resumed step)
    test_accuracy: float | None     # on the whole test set at the last step
    test_loss: float | None
    best_test_accuracy: float | None
    best_step: int | None
    train_time_s: float             # training time of the whole run (across resumes)
    session_time_s: float           # this session's loop time
    wall_time_s: float              # this session, data loading and plotting included
    checkpoint: Path | None
    best_checkpoint: Path | None = None
    interrupted: bool = False
    already_finished: bool = False
    rows: list = field(default_factory=list)
    diverged: Divergence | None = None

    @property
    def time_per_step_s(self) -> float | None:
        done = self.steps - self.start_step
        return self.session_time_s / done if done > 0 else None


class Trainer:
    """One training run in ``run_dir``; ``run()`` trains to the end (or to a stop request)
    and returns a ``RunResult``.

    ``measurements`` add columns to the metrics rows (see ``measurements.py``);
    ``allow_nonfinite`` trains on through NaN or infinite losses instead of stopping;
    ``note`` is a line printed before the header (what the command line chose);
    ``write_hook`` is the crash tests' seam (``faults.py``).
    """

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike, resume: bool = False,
                 quiet: bool = False, out=None, download_progress=None,
                 report_rows: bool = True, measurements=(), allow_nonfinite: bool = False,
                 note: str | None = None, write_hook: WriteHook | None = None):
        if not isinstance(config, TrainConfig):
            raise TypeError(f"Trainer: config must be a TrainConfig, got "
                            f"{type(config).__name__}")
        self.config = config
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.download_progress = download_progress
        self.measurements = tuple(measurements)
        self.allow_nonfinite = allow_nonfinite
        self.note = note
        self.write_hook = write_hook
        self.reporter = Reporter(quiet, out, report_rows)

    def run(self) -> RunResult:
        wall_start = time.perf_counter()
        if not self.resume:
            check_new_run_dir(self.run_dir)   # never train over another run's files
        # The data first: a missing or corrupt data set must not leave an empty run folder.
        data = load_data(self.config, self.download_progress)
        make_run_dir(self.run_dir)
        with RunLock(self.run_dir):
            remove_strays(self.run_dir)          # metrics/config temporaries of a killed run
            clean_checkpoints(self.run_dir)
            checkpoint = latest_checkpoint(self.run_dir) if self.resume else None
            if self.resume and checkpoint is None:
                check_restart(self.run_dir, self.config)
            return _Session(self, data, checkpoint).run(wall_start)


class _Session:
    """Everything of one process's share of a run, built in ``__init__``."""

    def __init__(self, trainer: Trainer, data: Dataset, checkpoint: Path | None):
        config = self.config = trainer.config
        self.run_dir, self.data, self.reporter = trainer.run_dir, data, trainer.reporter
        self.write_hook, self.allow_nonfinite = trainer.write_hook, trainer.allow_nonfinite
        self.note = trainer.note
        self.loader = DataLoader(data.train_x, data.train_y, config.batch_size, shuffle=True,
                                 seed=config.seed, drop_last=True)
        self.plan = RunPlan.of(config, len(self.loader))
        self.backend = NumpyBackend(config, data.num_classes, self.plan.total_steps)
        self.augment = build_augmentation(config)
        self.augment_rng = augmentation_generator(config.seed)
        n = config.eval_samples
        self.eval_x, self.eval_y = data.test_x[:n], data.test_y[:n]   # [:None]: all
        self.resumed = checkpoint is not None
        self.state = self._restore(checkpoint) if self.resumed else RunState()
        if not self.resumed:
            replace_json(self.run_dir / CONFIG_FILE, config.to_dict())
        self.start_step = self.state.step
        self.measurements = Measurements(trainer.measurements, self._view(), FIELDS)
        self.metrics = MetricsLog(self.run_dir, self.measurements.columns, self.write_hook)
        self.last_test_acc: float | None = None
        self.last_plot = time.perf_counter()
        self.divergence: Divergence | None = None

    # -- the loop ---------------------------------------------------------------------
    def run(self, wall_start: float) -> RunResult:
        rows = self.metrics.start(self.state.step if self.resumed else None)
        if self.state.best is None:          # a checkpoint from before best/ existed
            self.state.best = best_row(rows)
        if self.metrics.damaged:
            self.reporter.warn(damage_report(self.metrics.jsonl_path, self.metrics.damaged))
        if self.note:
            self.reporter.header(self.note + ".")
        self.reporter.header(self._header())
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            try:
                if self.state.step >= self.plan.total_steps:
                    ending, session_time = "already finished", 0.0
                else:
                    with StopRequest() as stop:
                        ending, session_time = self._train(stop)
            finally:
                self.metrics.close()
            return self._finish(ending, session_time, wall_start)

    def _train(self, stop: StopRequest) -> tuple[str, float]:
        """Train to the last step or a stop request; returns how it ended and its time."""
        state, plan, backend, reporter = self.state, self.plan, self.backend, self.reporter
        reporter.open_bar(plan.total_steps, state.step, f"{self.config.model}/{self.data.name}")
        started, time_before = time.perf_counter(), state.train_time
        if state.step == 0 and self.config.eval_every:
            self._evaluate()
        batches = self._batches()
        checkpointed = None
        try:
            while state.step < plan.total_steps:
                x, y = next(batches)
                lr = backend.learning_rate
                loss, correct = backend.train_step(x, y)
                state.step += 1
                state.window.add(loss, correct, len(y))
                state.train_time = time_before + (time.perf_counter() - started)
                if not math.isfinite(loss) and not self.allow_nonfinite:
                    self.divergence = Divergence(state.step, loss, lr)
                    return "diverged", time.perf_counter() - started
                if plan.evaluates_at(state.step):
                    self._evaluate()
                if plan.checkpoints_at(state.step):
                    checkpointed = self._checkpoint()
                reporter.stepped(state.window, self.last_test_acc)
                if stop.requested and state.step < plan.total_steps:  # not on the last step
                    if checkpointed != state.step:
                        self._checkpoint()
                    return "interrupted", time.perf_counter() - started
        finally:
            reporter.close_bar()
        return "finished", time.perf_counter() - started

    def _batches(self):
        """Training batches without end (a new shuffled epoch when one runs out), augmented
        if asked.  A batch counts as handed out (for the DataLoader's state) once the loop
        has it."""
        while True:
            for x, y in self.loader:
                yield (x if self.augment is None else self.augment(x, self.augment_rng)), y

    def _view(self) -> RunView:
        return RunView(self.state.step, self.config, self.data, self.backend)

    def _evaluate(self) -> None:
        """A metrics row: the window's means, the test set, the measurements."""
        state, window = self.state, self.state.window
        result = self.backend.evaluate(self.eval_x, self.eval_y, self.data.classes,
                                       self.config.eval_batch_size)
        row = {"step": state.step, "epoch": round(self.plan.epoch(state.step), 6),
               "lr": self.backend.learning_rate, "train_loss": window.mean_loss,
               "train_acc": window.accuracy, "test_loss": result.loss,
               "test_acc": result.accuracy, "time_s": round(state.train_time, 3)}
        row.update(self.measurements.take(self._view()))
        state.window = Window()
        self.last_test_acc = result.accuracy
        if state.best is None or state.best.beaten_by(result.accuracy):
            state.best = Best(state.step, result.accuracy)
            self._checkpoint(best=True)
        self.metrics.append(row)
        self.reporter.row(row, self.plan.total_steps)

    def _header(self) -> str:
        c, data = self.config, self.data
        verb = f"resuming from step {self.state.step}:" if self.resumed else "training"
        recipe = [c.optimizer, f"lr {c.lr:g}"]
        recipe += [f"momentum {c.momentum:g}"] if c.momentum else []
        recipe += [f"weight decay {c.weight_decay:g}"] if c.weight_decay else []
        recipe += [f"warm-up {c.warmup_steps} steps"] if c.warmup_steps else []
        recipe += [f"{c.schedule} schedule"] if c.schedule != "constant" else []
        recipe += [f"batch {c.batch_size}", f"{self.plan.total_steps} steps"]
        recipe += ["augmented"] if c.augment else []
        recipe += ["positions shuffled"] if c.shuffle_positions else []
        return (f"{verb} {c.model} on {data.name} ({data.num_train} train / {data.num_test} "
                f"test samples) in {self.run_dir}/  {', '.join(recipe)}, seed {c.seed}")

    # -- checkpoints --------------------------------------------------------------------
    def _checkpoint(self, best: bool = False) -> int:
        """Save the run at this step, as the best checkpoint if ``best`` (and redraw the
        curves now and then); returns the step."""
        state, engine = self.state, self.backend.state()
        meta = {
            "model": self.config.model, "dataset": self.data.name,
            "num_classes": self.data.num_classes, "classes": list(self.data.classes),
            "input_shape": list(self.data.input_shape),
            "parameters": self.backend.parameters, "config": self.config.to_dict(),
            "total_steps": self.plan.total_steps, "epoch": self.plan.epoch(state.step),
            "optimizer": engine.optimizer, "scheduler": engine.scheduler,
            "rng": dict(engine.rng, loader=self.loader.get_state(),
                        augment=self.augment_rng.bit_generator.state),
            "window": state.window.to_meta(), "train_time_s": state.train_time,
            "best": None if state.best is None else state.best.to_meta(),
            "versions": versions(),
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        save_checkpoint(self.run_dir, state.step, engine.model, engine.optimizer_arrays,
                        plain(meta), keep=self.config.keep_checkpoints,
                        hook=self.write_hook, best=best)
        if not best and time.perf_counter() - self.last_plot > PLOT_INTERVAL_S:
            self._plot()
        return state.step

    def _restore(self, path: Path) -> RunState:
        """The run state of checkpoint ``path``, with the engine, the DataLoader and the
        augmentation's generator set to it."""
        checkpoint = load_checkpoint(path)           # its meta.json checked whole
        meta, config = checkpoint.meta, self.config
        if meta["model"] != config.model:
            raise CheckpointError(f"{checkpoint.path}: a checkpoint of model "
                                  f"{meta['model']!r}, this run trains {config.model!r}")
        differing = recipe_differences(TrainConfig.from_dict(meta["config"]), config)
        if differing:
            raise CheckpointError(f"{checkpoint.path}: saved with a different recipe "
                                  f"({differing})")
        check_against_run_config(self.run_dir, checkpoint)
        for key, mine in (("total_steps", self.plan.total_steps),
                          ("parameters", self.backend.parameters)):
            if meta[key] != mine:
                raise CheckpointError(f"{checkpoint.path}: {key} {meta[key]}, but this run "
                                      f"has {mine}")
        try:
            self.backend.load_state(EngineState(
                checkpoint.model_state, checkpoint.optimizer_arrays, meta["optimizer"],
                meta["scheduler"], meta["rng"]))
            self.loader.set_state(meta["rng"]["loader"])
            self.augment_rng.bit_generator.state = meta["rng"]["augment"]
            return RunState(checkpoint.step, float(meta["train_time_s"]),
                            Window.from_meta(meta["window"]), Best.from_meta(meta.get("best")))
        except RuntimeError as error:      # load_state_dict: the weights do not fit
            raise weights_error(checkpoint.path, config.model, error) from None
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            raise CheckpointError(f"{checkpoint.path}: its training state does not fit this "
                                  f"run ({type(error).__name__}: {error})") from None

    # -- the end ----------------------------------------------------------------------
    def _plot(self) -> None:
        save_curves(self.metrics.rows, self.run_dir / CURVES_FILE,
                    f"{self.config.model} on {self.data.name}")
        self.last_plot = time.perf_counter()

    def _finish(self, ending: str, session_time: float, wall_start: float) -> RunResult:
        rows, state = self.metrics.rows, self.state
        finished = ending in ("finished", "already finished")
        test_acc = test_loss = None
        if finished:
            last = rows[-1] if rows else None
            if last is not None and last["step"] == state.step and \
                    len(self.eval_y) == self.data.num_test:
                test_acc, test_loss = last["test_acc"], last["test_loss"]
            else:   # periodic evaluations used a subset (or none ran): the whole test set
                result = self.backend.evaluate(self.data.test_x, self.data.test_y,
                                               self.data.classes, self.config.eval_batch_size)
                test_acc, test_loss = result.accuracy, result.loss
        best = state.best
        if rows:
            self._plot()
        result = RunResult(
            run_dir=self.run_dir, config=self.config, parameters=self.backend.parameters,
            steps=state.step, total_steps=self.plan.total_steps, start_step=self.start_step,
            test_accuracy=test_acc, test_loss=test_loss,
            best_test_accuracy=best.test_acc if best else None,
            best_step=best.step if best else None,
            best_checkpoint=best_checkpoint(self.run_dir),
            train_time_s=state.train_time, session_time_s=session_time,
            wall_time_s=time.perf_counter() - wall_start,
            checkpoint=latest_checkpoint(self.run_dir), interrupted=ending == "interrupted",
            already_finished=ending == "already finished", rows=list(rows),
            diverged=self.divergence)
        if finished:
            replace_json(self.run_dir / SUMMARY_FILE, summary_record(result, self.data.name))
        return result


def best_row(rows: list[dict]) -> Best | None:
    """The row with the highest test accuracy (the first of equals), as a ``Best``."""
    scored = [r for r in rows if isinstance(r.get("test_acc"), float)]
    best = max(scored, key=lambda r: r["test_acc"]) if scored else None
    return None if best is None else Best(best["step"], best["test_acc"])


def summary_record(result: RunResult, dataset: str) -> dict:
    """The numbers of a finished run, as ``summary.json`` holds them."""
    return {
        "model": result.config.model, "dataset": dataset, "parameters": result.parameters,
        "steps": result.steps, "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss, "best_test_accuracy": result.best_test_accuracy,
        "best_step": result.best_step, "train_time_s": round(result.train_time_s, 3),
        "wall_time_s": round(result.wall_time_s, 3),
        "time_per_step_ms": None if result.time_per_step_s is None
        else round(1e3 * result.time_per_step_s, 4),
        "checkpoint": None if result.checkpoint is None else str(result.checkpoint),
        "best_checkpoint": None if result.best_checkpoint is None
        else str(result.best_checkpoint),
        "seed": result.config.seed,
    }


def train(config: TrainConfig, run_dir: str | os.PathLike, resume: bool = False,
          quiet: bool = False, out=None, **options) -> RunResult:
    """Train ``config`` in ``run_dir`` (continuing its latest checkpoint if ``resume``);
    ``options`` are the ``Trainer``'s other keywords."""
    return Trainer(config, run_dir, resume=resume, quiet=quiet, out=out, **options).run()
