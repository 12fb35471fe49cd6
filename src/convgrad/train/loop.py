"""The training loop: mini-batches, cross-entropy, backward, optimizer and schedule steps,
with periodic evaluation, metrics, checkpoints and a progress bar.

    for step in 1..T:
        x, y = next batch (a new shuffled epoch when one runs out); augment if asked
        loss = cross_entropy(model(x), y);  backward;  optimizer.step();  scheduler.step()
        every eval_every steps (and at step 0 and T): evaluate on the test set, write a row
        every checkpoint_every steps (and at T): checkpoint

Reproducibility.  Everything random draws from generators seeded by ``config.seed``:
convgrad's global generator (initialisation, dropout), the DataLoader's own (shuffling), and
the augmentation's own.  A checkpoint saves all three states, the DataLoader's position in
its epoch, the optimizer's and the scheduler's state, and the running sums of the training
loss and accuracy since the last evaluation — everything the remaining steps depend on —
so a resumed run computes, bit for bit, what the uninterrupted run computes.

Speed.  The default run is 6000 steps, so the loop does as little Python per step as it
can: no per-step I/O, the progress bar advanced every ``BAR_EVERY`` steps, the training
accuracy counted from the logits already computed, evaluation only every 250 steps.
"""
from __future__ import annotations

import os
import platform
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import __version__
from .. import functional as F
from .. import random as cg_random
from ..creation import from_numpy
from ..data import DataLoader
from ..optim import join_state_dict, split_state_dict
from .atomic import remove_strays, replace_json
from .checkpoint import (CheckpointError, clean_checkpoints, latest_checkpoint,
                         load_checkpoint, load_model_weights, read_meta, save_checkpoint)
from .config import ConfigError, TrainConfig
from .evaluate import evaluate
from .metrics import MetricsLog
from .plot import save_curves
from .setup import (augmentation_generator, build_augmentation, build_model,
                    build_optimizer, build_scheduler, load_data)

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
CURVES_FILE = "curves.png"
LOCK_FILE = ".lock"
BAR_EVERY = 10          # steps between progress-bar updates
# Config fields that say where the data lives, not what the run computes: a resumed run may
# change them (the data moved).
RELOCATABLE = ("data_dir", "download")
PLOT_INTERVAL_S = 20.0  # at a checkpoint, redraw the curves if this long since the last


class RunError(Exception):
    """A problem with the run folder the user can fix (one line)."""


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
    interrupted: bool = False
    already_finished: bool = False
    rows: list = field(default_factory=list)

    @property
    def time_per_step_s(self) -> float | None:
        done = self.steps - self.start_step
        return self.session_time_s / done if done > 0 else None


# ---------------------------------------------------------------------------- run folders
def default_run_dir(config: TrainConfig, root: str | os.PathLike = "runs") -> Path:
    """``runs/<model>-<dataset>-<date>-<time>``, with a suffix if that exists already."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{config.model}-{config.dataset}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() or (path / "checkpoints").is_dir()


def check_new_run_dir(run_dir: Path) -> None:
    """A new run may go into a folder that does not exist yet, or an empty one, or one
    without a run in it; the folder is created only once the data has loaded."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"--out {run_dir}: exists and is not a folder")
    if run_dir.is_dir() and is_run_dir(run_dir):
        raise RunError(f"--out {run_dir}: already holds a run; continue it with --resume "
                       f"{run_dir}, or choose another --out")


def saved_config(run_dir: Path) -> TrainConfig:
    """The config a run folder was started with (its latest checkpoint's, else
    ``config.json``)."""
    if not run_dir.is_dir():
        raise RunError(f"--resume {run_dir}: no such folder")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is not None:
        return TrainConfig.from_dict(read_meta(checkpoint)["config"])
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RunError(f"--resume {run_dir}: no checkpoint to resume from (not a run folder: "
                       f"no checkpoints/ and no {CONFIG_FILE})")
    try:
        return TrainConfig.from_json(path.read_text(encoding="utf-8"))
    except ConfigError as error:
        raise RunError(f"{path}: {error}") from None


class _RunLock:
    """An exclusive lock on the run folder, so two processes never train into one."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK_FILE
        self.handle = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:       # Windows: no advisory locks; trust the user
            return self
        self.handle = open(self.path, "a")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise RunError(f"{self.path.parent}: another convgrad train is running in this "
                           f"folder") from None
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            self.handle.close()   # closing releases the lock


class _StopRequest:
    """Ctrl-C / SIGTERM during training: finish the current step, save a checkpoint, stop.
    A second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested = False
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _plain(value):
    """JSON-ready copy (NumPy scalars and arrays to Python)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _versions() -> dict:
    versions = {"convgrad": __version__, "numpy": np.__version__,
                "python": platform.python_version()}
    try:
        import safetensors
        versions["safetensors"] = safetensors.__version__
    except ImportError:
        pass
    return versions


# ---------------------------------------------------------------------------- the run
class Trainer:
    """One training run in ``run_dir``; ``run()`` trains to the end (or to a stop request)
    and returns a ``RunResult``."""

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike, resume: bool = False,
                 quiet: bool = False, out=None, download_progress=None,
                 report_rows: bool = True):
        self.config = config.validated()
        self.report_rows = report_rows
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.quiet = quiet
        self.out = out if out is not None else sys.stdout
        self.download_progress = download_progress

    # -- output ---------------------------------------------------------------------
    def _say(self, text: str) -> None:
        if self.quiet:
            return
        if getattr(self, "bar", None) is not None:
            self.bar.write(text, file=self.out)
        else:
            print(text, file=self.out, flush=True)

    # -- setup ------------------------------------------------------------------------
    def _build(self) -> None:
        config = self.config
        cg_random.manual_seed(config.seed)
        self.model = build_model(config.model, self.data.num_classes)
        self.parameters = sum(p.numel() for p in self.model.parameters())
        self.optimizer = build_optimizer(config, self.model)
        self.loader = DataLoader(self.data.train_x, self.data.train_y, config.batch_size,
                                 shuffle=True, seed=config.seed, drop_last=True)
        self.total = config.total_steps(len(self.loader))
        self.scheduler = build_scheduler(config, self.optimizer, self.total)
        self.augment = build_augmentation(config)
        self.augment_rng = augmentation_generator(config.seed)
        test_x, test_y = self.data.test_x, self.data.test_y
        if config.eval_samples is not None:
            test_x, test_y = test_x[:config.eval_samples], test_y[:config.eval_samples]
        self.eval_x, self.eval_y = test_x, test_y
        self.step = 0
        self.train_time = 0.0
        self.window = {"loss_sum": 0.0, "correct": 0, "seen": 0, "batches": 0}

    def _restore(self, checkpoint_path: Path) -> None:
        checkpoint = load_checkpoint(checkpoint_path)
        meta = checkpoint.meta
        if meta.get("model") != self.config.model:
            raise CheckpointError(f"{checkpoint.path}: a checkpoint of model "
                                  f"{meta.get('model')!r}, this run trains "
                                  f"{self.config.model!r}")
        saved = meta.get("config") or {}
        differing = [name for name, value in self.config.to_dict().items()
                     if name not in RELOCATABLE and saved.get(name, value) != value]
        if differing:
            raise CheckpointError(
                f"{checkpoint.path}: saved with a different recipe ("
                + ", ".join(f"{name} {saved[name]!r}, not {getattr(self.config, name)!r}"
                            for name in differing) + ")")
        load_model_weights(self.model, checkpoint, self.config.model)
        try:
            self.optimizer.load_state_dict(join_state_dict(checkpoint.optimizer_arrays,
                                                           meta["optimizer"]))
            if self.scheduler is not None:
                self.scheduler.load_state_dict(meta["scheduler"])
            rng = meta["rng"]
            cg_random.set_rng_state(rng["convgrad"])
            self.loader.set_state(rng["loader"])
            self.augment_rng.bit_generator.state = rng["augment"]
            self.window = dict(meta["window"])
            self.train_time = float(meta["train_time_s"])
        except (KeyError, ValueError, TypeError) as error:
            raise CheckpointError(f"{checkpoint.path}: its training state does not fit this "
                                  f"run ({type(error).__name__}: {error})") from None
        self.step = checkpoint.step

    def _checkpoint(self) -> Path:
        model_state = {name: tensor.data for name, tensor in self.model.state_dict().items()}
        optimizer_arrays, optimizer_meta = split_state_dict(self.optimizer.state_dict())
        meta = {
            "model": self.config.model, "dataset": self.data.name,
            "num_classes": self.data.num_classes, "classes": list(self.data.classes),
            "input_shape": list(self.data.input_shape), "parameters": self.parameters,
            "config": self.config.to_dict(), "total_steps": self.total,
            "epoch": self.step / len(self.loader),
            "optimizer": optimizer_meta,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": {"convgrad": cg_random.get_rng_state(), "loader": self.loader.get_state(),
                    "augment": self.augment_rng.bit_generator.state},
            "window": dict(self.window), "train_time_s": self.train_time,
            "versions": _versions(),
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        return save_checkpoint(self.run_dir, self.step, model_state, optimizer_arrays,
                               _plain(meta), keep=self.config.keep_checkpoints)

    # -- evaluation -------------------------------------------------------------------
    def _evaluate_row(self) -> dict:
        result = evaluate(self.model, self.eval_x, self.eval_y, self.data.classes,
                          self.config.eval_batch_size)
        window = self.window
        seen = window["seen"]
        row = {
            "step": self.step,
            "epoch": round(self.step / len(self.loader), 6),
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "train_loss": window["loss_sum"] / window["batches"] if window["batches"] else None,
            "train_acc": window["correct"] / seen if seen else None,
            "test_loss": result.loss,
            "test_acc": result.accuracy,
            "time_s": round(self.train_time, 3),
        }
        self.window = {"loss_sum": 0.0, "correct": 0, "seen": 0, "batches": 0}
        self.last_test_acc = result.accuracy
        return row

    def _report_row(self, row: dict) -> None:
        width = len(str(self.total))
        train = ""
        if row["train_loss"] is not None:
            train = f"train loss {row['train_loss']:.4f} acc {row['train_acc']:6.2%}   "
        self._say(f"step {row['step']:>{width}}/{self.total}  {train}"
                  f"test loss {row['test_loss']:.4f} acc {row['test_acc']:6.2%}   "
                  f"lr {row['lr']:.3g}")

    def _plot(self) -> None:
        save_curves(self.metrics.rows, self.run_dir / CURVES_FILE,
                    f"{self.config.model} on {self.data.name}")
        self.last_plot = time.perf_counter()

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> RunResult:
        self.wall_start = time.perf_counter()
        if not self.resume:
            check_new_run_dir(self.run_dir)   # never train over another run's files
        # The data first: a missing or corrupt data set must not leave an empty run folder.
        self.data = load_data(self.config, self.download_progress)
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunError(f"{self.run_dir}: cannot create the run folder "
                           f"({error.strerror})") from None
        with _RunLock(self.run_dir):
            return self._run_locked()

    def _run_locked(self) -> RunResult:
        config = self.config
        remove_strays(self.run_dir)          # metrics/config temporaries of a killed run
        clean_checkpoints(self.run_dir)
        checkpoint_path = latest_checkpoint(self.run_dir) if self.resume else None
        self._build()
        if checkpoint_path is not None:
            self._restore(checkpoint_path)
        else:
            replace_json(self.run_dir / CONFIG_FILE, config.to_dict())
        self.metrics = MetricsLog(self.run_dir)
        self.metrics.start(self.step if checkpoint_path is not None else None)
        self.start_step = self.step
        self.last_test_acc = None
        if self.report_rows:
            c = config
            verb = f"resuming from step {self.step}:" if checkpoint_path is not None else \
                "training"
            self._say(f"{verb} {c.model} on {self.data.name} ({self.data.num_train} train / "
                      f"{self.data.num_test} test samples) in {self.run_dir}/  "
                      f"{c.optimizer}, lr {c.lr:g}, batch {c.batch_size}, {self.total} steps, "
                      f"seed {c.seed}")
        self.last_plot = time.perf_counter()
        if self.step >= self.total:
            self.metrics.close()
            return self._finish(interrupted=False, session_time=0.0, already_finished=True)
        try:
            with _StopRequest() as stop:
                session_time, interrupted = self._loop(stop)
        finally:
            self.metrics.close()
        return self._finish(interrupted, session_time)

    def _loop(self, stop: _StopRequest) -> tuple[float, bool]:
        config, model, optimizer, scheduler = (self.config, self.model, self.optimizer,
                                               self.scheduler)
        augment, augment_rng = self.augment, self.augment_rng
        total = self.total
        eval_every = config.eval_every or total
        checkpoint_every = config.checkpoint_every or total
        self.bar = None
        if not self.quiet:
            from tqdm import tqdm
            # disable=None: no bar when stderr is not a terminal (a log file, CI), where
            # its redraws would be noise; the evaluation lines still show the progress.
            self.bar = tqdm(total=total, initial=self.step, unit="step", dynamic_ncols=True,
                            mininterval=0.5, file=sys.stderr, leave=False, disable=None,
                            desc=f"{config.model}/{self.data.name}")
            if self.bar.disable:
                self.bar = None
        started = time.perf_counter()
        time_base = self.train_time
        if self.step == 0 and config.eval_every:
            self._log_row()
        batches = iter(self.loader)
        bar_pending = 0
        saved_at = None
        try:
            while self.step < total:
                try:
                    x, y = next(batches)
                except StopIteration:            # a new epoch, a new permutation
                    batches = iter(self.loader)
                    x, y = next(batches)
                if augment is not None:
                    x = augment(x, augment_rng)
                logits = model(from_numpy(x))
                loss = F.cross_entropy(logits, from_numpy(y))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                self.step += 1
                window = self.window
                window["loss_sum"] += loss.item()
                window["correct"] += int(np.count_nonzero(logits.data.argmax(axis=1) == y))
                window["seen"] += len(y)
                window["batches"] += 1
                step = self.step
                self.train_time = time_base + (time.perf_counter() - started)
                if step % eval_every == 0 or step == total:
                    self._log_row()
                if step % checkpoint_every == 0 or step == total:
                    self._checkpoint()
                    saved_at = step
                    if time.perf_counter() - self.last_plot > PLOT_INTERVAL_S:
                        self._plot()
                bar_pending += 1
                if bar_pending == BAR_EVERY and self.bar is not None:
                    self._advance_bar(bar_pending)
                    bar_pending = 0
                if stop.requested and step < total:   # a stop on the last step is no stop
                    if saved_at != step:
                        self._checkpoint()
                    return time.perf_counter() - started, True
        finally:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
        return time.perf_counter() - started, False

    def _advance_bar(self, count: int) -> None:
        window = self.window
        postfix = ""
        if window["batches"]:
            postfix = (f"loss {window['loss_sum'] / window['batches']:.3f} "
                       f"acc {window['correct'] / window['seen']:.1%}")
        if self.last_test_acc is not None:
            postfix += f" test {self.last_test_acc:.1%}"
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update(count)

    def _log_row(self) -> None:
        row = self._evaluate_row()
        self.metrics.append(row)
        if self.report_rows:
            self._report_row(row)

    # -- the end ----------------------------------------------------------------------
    def _finish(self, interrupted: bool, session_time: float,
                already_finished: bool = False) -> RunResult:
        rows = self.metrics.rows
        test_acc = test_loss = None
        if not interrupted:
            last = rows[-1] if rows else None
            if last is not None and last["step"] == self.step and \
                    len(self.eval_y) == self.data.num_test:
                test_acc, test_loss = last["test_acc"], last["test_loss"]
            else:   # periodic evaluations used a subset (or none ran): the whole test set
                result = evaluate(self.model, self.data.test_x, self.data.test_y,
                                  self.data.classes, self.config.eval_batch_size)
                test_acc, test_loss = result.accuracy, result.loss
        scored = [r for r in rows if isinstance(r.get("test_acc"), float)]
        best = max(scored, key=lambda r: r["test_acc"]) if scored else None
        if rows:
            self._plot()
        result = RunResult(
            run_dir=self.run_dir, config=self.config, parameters=self.parameters,
            steps=self.step, total_steps=self.total, start_step=self.start_step,
            test_accuracy=test_acc, test_loss=test_loss,
            best_test_accuracy=best["test_acc"] if best else None,
            best_step=best["step"] if best else None,
            train_time_s=self.train_time, session_time_s=session_time,
            wall_time_s=time.perf_counter() - self.wall_start,
            checkpoint=latest_checkpoint(self.run_dir), interrupted=interrupted,
            already_finished=already_finished, rows=list(rows))
        if not interrupted:
            replace_json(self.run_dir / SUMMARY_FILE, summary_record(result, self.data.name))
        return result


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
        "seed": result.config.seed,
    }


def train(config: TrainConfig, run_dir: str | os.PathLike, resume: bool = False,
          quiet: bool = False, out=None) -> RunResult:
    """Train ``config`` in ``run_dir`` (continuing its latest checkpoint if ``resume``)."""
    return Trainer(config, run_dir, resume=resume, quiet=quiet, out=out).run()

