"""The loss landscape around a trained network (Li et al. 2018), resumable.

With θ* the trained weights, δ and η two filter-normalised random directions
(``directions.py``) and θ₀ the run's initial weights, three sweeps of ``L`` and the
accuracy on a fixed training subset (``evaluation.py``):

    grid        L(θ* + αδ + βη)          α = x[j], β = y[i] on an n × n grid over
                                         [−span, span]² (default 31 × 31 over [−1, 1]²)
    direction   L(θ* + αδ)               α over [−span, span], the 1-D profile
    line        L(θ₀ + t(θ* − θ₀))       t over [−0.5, 1.5]: θ₀ at t = 0, θ* at t = 1
                                         (Goodfellow et al. 2015; every parameter moves)

and, at θ*, the Hessian's λ_max and λ_min (``hessian.py``, in float64 on a copy of the
model).  The initial weights are not stored in a run: they are made again as the training
made them — convgrad's generator seeded with the run's seed, then the registry model built
(``NumpyBackend.__init__``) — which reproduces step 0 bit for bit.

Speed: one evaluation is a no-grad forward pass over the subset in batches; between two,
the weights are written in place into the same arrays (``WeightSpace.set``), the point
θ* + αδ + βη computed into two preallocated buffers.  Every finished cell is saved
(``landscape_store.py``), so an interrupted landscape resumes where it stopped.
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import random as cg_random
from ..train.atomic import json_text
from ..train.load import LoadedRun
from ..train.setup import build_model
from .directions import BIASBN, random_direction
from .evaluation import MODES, SubsetLoss
from .hessian import METHODS, HessianExtremes, extreme_eigenvalues
from .landscape_store import FORMAT, FORMAT_VERSION, LandscapeError, LandscapeStore
from .weights import WeightSpace

SWEEPS = ("direction", "line", "grid")


@dataclass(frozen=True)
class LandscapeSettings:
    """What a landscape computes; two landscapes of equal settings on the same weights
    hold the same numbers."""
    resolution: int = 31            # grid points per axis
    span: float = 1.0               # the grid and the 1-D profile cover [−span, span]
    profile_points: int = 51        # points of each 1-D profile
    line_from: float = -0.5         # the line θ₀ + t(θ* − θ₀) over [line_from, line_to]
    line_to: float = 1.5
    samples: int = 1000             # the first N training samples
    batch_size: int = 1000          # samples per forward pass (at most ``samples``)
    mode: str = "eval"              # BatchNorm's mode (evaluation.MODES)
    biasbn: str = "zero"            # directions in biases and BatchNorm γ/β (BIASBN)
    seed: int = 0                   # the directions' generator

    def __post_init__(self):
        for name, low in (("resolution", 2), ("profile_points", 2), ("samples", 1),
                          ("batch_size", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise LandscapeError(f"--{name.replace('_', '-')} must be an integer of at "
                                     f"least {low}, got {value!r}")
        for name in ("span", "line_from", "line_to"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise LandscapeError(f"--{name.replace('_', '-')} must be a finite number, "
                                     f"got {value!r}")
        if self.span <= 0:
            raise LandscapeError(f"--span must be greater than 0, got {self.span:g}")
        if self.line_from >= self.line_to:
            raise LandscapeError(f"--line {self.line_from:g} {self.line_to:g}: the first "
                                 f"end must be below the second")
        if self.mode not in MODES:
            raise LandscapeError(f"--mode must be one of {', '.join(MODES)}, got "
                                 f"{self.mode!r}")
        if self.biasbn not in BIASBN:
            raise LandscapeError(f"--biasbn must be one of {', '.join(BIASBN)}, got "
                                 f"{self.biasbn!r}")
        # A batch larger than the subset is the subset: one setting, one identity.
        object.__setattr__(self, "batch_size", min(self.batch_size, self.samples))

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def evaluations(self) -> int:
        return self.resolution ** 2 + 2 * self.profile_points


@dataclass(frozen=True)
class HessianSettings:
    max_iterations: int = 40        # Hessian-vector products (per run, for power); 0: none
    tol: float = 1e-2               # stop when each residual is ≤ tol·|its λ|
    eps: float = 1e-8               # the central difference's step along a unit vector
    method: str = "lanczos"         # or "power" (hessian.py says why Lanczos)

    def __post_init__(self):
        if self.method not in METHODS:
            raise LandscapeError(f"--hessian-method must be one of {', '.join(METHODS)}, "
                                 f"got {self.method!r}")
        if isinstance(self.max_iterations, bool) or not isinstance(self.max_iterations, int) \
                or self.max_iterations < 0:
            raise LandscapeError(f"--hessian-iterations must be an integer of at least 0, "
                                 f"got {self.max_iterations!r}")
        for name in ("tol", "eps"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise LandscapeError(f"--hessian-{name} must be a number greater than 0, "
                                     f"got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def initial_weights(run: LoadedRun) -> WeightSpace:
    """The run's step-0 model, made again from its seed (see the module docstring); the
    caller's random generator is left as it was."""
    saved = cg_random.get_rng_state()
    try:
        cg_random.manual_seed(run.config.seed)
        return WeightSpace(build_model(run.config.model, run.checkpoint.meta["num_classes"]))
    finally:
        cg_random.set_rng_state(saved)


class Landscape:
    """The landscape of one loaded run (its model is moved and put back at θ*)."""

    def __init__(self, run: LoadedRun, settings: LandscapeSettings,
                 folder: str | Path, hessian: HessianSettings = HessianSettings()):
        if run.data is None:
            raise ValueError("Landscape needs the run's data (load_run(..., data=True))")
        available = len(run.data.train_y)
        if settings.samples > available:
            raise LandscapeError(f"--samples {settings.samples}: {run.run_dir} trained on "
                                 f"{available} samples")
        self.run, self.settings, self.hessian_settings = run, settings, hessian
        self.store = LandscapeStore(folder)
        self.space = WeightSpace(run.model)
        self.theta = self.space.get()
        self.x_train = run.data.train_x[:settings.samples]
        self.y_train = run.data.train_y[:settings.samples]
        self.loss = SubsetLoss(run.model, self.x_train, self.y_train, settings.batch_size,
                               settings.mode)
        self.delta = random_direction(self.space, self.theta, settings.seed, 0,
                                      settings.biasbn)
        self.eta = random_direction(self.space, self.theta, settings.seed, 1,
                                    settings.biasbn)
        self.theta0 = initial_weights(run).get()
        self._point = np.empty_like(self.theta)
        self._term = np.empty_like(self.theta)
        self.meta: dict = {}
        self.arrays: dict[str, np.ndarray] = {}

    # -- what it is ----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.store.folder.name

    def identity(self) -> dict:
        """What must match for a saved landscape to be continued (JSON-plain)."""
        meta = self.run.checkpoint.meta
        return json.loads(json_text({
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "model": self.run.config.model, "dataset": meta.get("dataset"),
            "parameters": self.space.size, "checkpoint_step": self.run.step,
            "weights_sha256": meta["files"]["model.safetensors"]["sha256"],
            "settings": self.settings.to_dict(),
        }))

    def fresh_arrays(self) -> dict[str, np.ndarray]:
        s = self.settings
        x = np.linspace(-s.span, s.span, s.resolution)
        grid, profile = (s.resolution, s.resolution), (s.profile_points,)
        return {
            "x": x, "y": x.copy(),
            "loss": np.full(grid, np.nan), "accuracy": np.full(grid, np.nan),
            "done": np.zeros(grid, bool),
            "direction_alpha": np.linspace(-s.span, s.span, s.profile_points),
            "direction_loss": np.full(profile, np.nan),
            "direction_accuracy": np.full(profile, np.nan),
            "direction_done": np.zeros(profile, bool),
            "line_t": np.linspace(s.line_from, s.line_to, s.profile_points),
            "line_loss": np.full(profile, np.nan), "line_accuracy": np.full(profile, np.nan),
            "line_done": np.zeros(profile, bool),
        }

    def remaining(self) -> int:
        """Evaluations not yet saved (every one before ``open``)."""
        if not self.arrays:
            return self.settings.evaluations
        return int(sum(np.count_nonzero(~self.arrays[key])
                       for key in ("done", "direction_done", "line_done")))

    def hessian_needed(self) -> bool:
        done = self.meta.get("hessian")
        return self.hessian_settings.max_iterations > 0 and not (
            isinstance(done, dict) and done.get("settings") == self.hessian_settings.to_dict())

    # -- computing -----------------------------------------------------------------
    def open(self) -> None:
        """Read what the folder holds of this landscape (call under ``store.locked()``)."""
        self.meta, self.arrays = self.store.open(self.identity(), self.fresh_arrays())

    def evaluate(self, vector: np.ndarray) -> tuple[float, float]:
        """(L, accuracy) at weights ``vector``."""
        self.space.set(vector)
        return self.loss()

    def centre(self) -> tuple[float, float, float]:
        """(L, accuracy, seconds) at θ*: the trained network's own values, and the
        measured cost of one evaluation."""
        started = time.perf_counter()
        loss, accuracy = self.evaluate(self.theta)
        return loss, accuracy, time.perf_counter() - started

    def gradient_seconds(self) -> float:
        """The measured cost of one float64 gradient (for the Hessian's estimate)."""
        loss, _ = self._float64_loss()
        started = time.perf_counter()
        loss.gradient()
        return time.perf_counter() - started

    def compute(self, on_evaluation: Callable[[], None] = lambda: None,
                on_hessian_step: Callable[[int, float], None] | None = None) -> None:
        """Every sweep's remaining cells, then the Hessian; the model is left at θ*."""
        loss, accuracy, seconds = self.centre()
        self.meta["centre"] = {"loss": loss, "accuracy": accuracy}
        self.meta["seconds_per_evaluation"] = seconds
        self.meta["run"] = str(self.run.run_dir)
        self.meta["direction_cosine"] = float(
            self.delta @ self.eta / (np.linalg.norm(self.delta) * np.linalg.norm(self.eta)))
        try:
            for sweep in SWEEPS:
                self._sweep(sweep, on_evaluation)
        finally:
            self.space.set(self.theta)
            self.store.save_meta(self.meta)
        if self.hessian_needed():
            result = self.hessian(on_hessian_step)
            self.meta["hessian"] = dict(result.to_dict(),
                                        settings=self.hessian_settings.to_dict())
            self.store.save_meta(self.meta)

    def _sweep(self, sweep: str, on_evaluation: Callable[[], None]) -> None:
        a = self.arrays
        prefix = "" if sweep == "grid" else sweep + "_"
        done = a[prefix + "done"]
        started, seconds = time.perf_counter(), self.meta.setdefault("seconds", {})
        try:
            for index in zip(*np.nonzero(~done)):
                a[prefix + "loss"][index], a[prefix + "accuracy"][index] = \
                    self.evaluate(self._weights(sweep, index))
                done[index] = True
                self.store.save_arrays(a)
                on_evaluation()
        finally:
            seconds[sweep] = seconds.get(sweep, 0.0) + time.perf_counter() - started

    def _weights(self, sweep: str, index: tuple) -> np.ndarray:
        """θ* + αδ + βη (grid), θ* + αδ (direction) or θ₀ + t(θ* − θ₀) (line), computed
        into the preallocated buffer."""
        a, point, term = self.arrays, self._point, self._term
        if sweep == "grid":
            i, j = index
            np.multiply(self.delta, a["x"][j], out=point)
            np.multiply(self.eta, a["y"][i], out=term)
            point += term
            point += self.theta
        elif sweep == "direction":
            np.multiply(self.delta, a["direction_alpha"][index], out=point)
            point += self.theta
        else:
            t = a["line_t"][index]
            np.subtract(self.theta, self.theta0, out=term)
            np.multiply(term, t, out=point)
            point += self.theta0
        return point

    def _float64_loss(self) -> tuple[SubsetLoss, WeightSpace]:
        """``L`` on a float64 copy of the trained model (the Hessian's differences of
        gradients need the digits float32 does not have)."""
        model = copy.deepcopy(self.run.model).double()
        loss = SubsetLoss(model, self.x_train, self.y_train, self.loss.batch_size,
                          self.settings.mode)
        return loss, loss.space

    def hessian(self, on_step: Callable[[int, float], None] | None = None) -> HessianExtremes:
        """λ_max and λ_min of the Hessian of L at θ* (``hessian.py``)."""
        loss, space = self._float64_loss()
        theta = space.get()

        def gradient(vector: np.ndarray) -> np.ndarray:
            space.set(vector)
            return loss.gradient()[1]

        h = self.hessian_settings
        return extreme_eigenvalues(gradient, theta, seed=self.settings.seed, tol=h.tol,
                                   max_iterations=h.max_iterations, eps=h.eps,
                                   method=h.method, on_step=on_step)
