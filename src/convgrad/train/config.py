"""``TrainConfig``: everything that decides a training run's result, validated, as JSON.

The defaults are the MNIST-1D paper's recipe for its CNN (Greydanus 2020): Adam, learning
rate 1e-2, no weight decay, batch 100, 6000 steps, an evaluation every 250 steps.

Two runs with equal configs (seed included) produce the same weights bit for bit, so the
config is saved with every checkpoint and ``--resume`` refuses options that contradict it.
Where the run's files go (``--out``) and how it reports (``--quiet``) are not part of it.

Every check raises ``ConfigError`` with one line that names the option and the value.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from dataclasses import dataclass, field

from ..data.registry import canonical_name
from ..data.errors import UnknownDatasetError
from ..models import MODELS

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "multistep", "cosine")
DEFAULT_STEPS = 6000

# One sample's shape for each data set, known before loading it (to fail fast on a model
# that cannot take it, before a download); checked again against the loaded arrays.
DATASET_INPUT_SHAPES = {
    "mnist1d": (1, 40),
    "digits": (1, 8, 8),
    "mnist": (1, 28, 28),
    "fashion-mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
}
# The model `convgrad train --dataset X` trains when no --model is given.
DEFAULT_MODEL_FOR_DATASET = {
    "mnist1d": "cnn",
    "digits": "lenet5-small",
    "mnist": "lenet5",
    "fashion-mnist": "lenet5",
    "cifar10": "resnet20",
}


class ConfigError(ValueError):
    """An invalid training option (the message names it and its value)."""


@dataclass
class TrainConfig:
    model: str = "cnn"
    dataset: str = "mnist1d"
    data_dir: str | None = None        # the data set's folder (default: the cache folder)
    download: bool = False             # fetch MNIST / Fashion-MNIST / CIFAR-10 if missing
    optimizer: str = "adam"
    lr: float = 1e-2
    momentum: float = 0.0              # SGD only
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0              # linear warm-up before the schedule
    step_size: int | None = None       # 'step': decay every step_size steps (default steps/3)
    milestones: list[int] | None = None  # 'multistep' (default: at 50% and 75% of the run)
    gamma: float = 0.1                 # 'step' / 'multistep' decay factor
    batch_size: int = 100
    steps: int | None = None           # optimizer steps; or give epochs (not both)
    epochs: int | None = None
    seed: int = 0
    eval_every: int = 250              # steps between evaluations (0: only at the end)
    eval_batch_size: int = 1000
    eval_samples: int | None = None    # periodic evaluations use the first N test samples
    checkpoint_every: int = 1000       # steps between checkpoints (0: only at the end)
    keep_checkpoints: int = 2
    augment: bool = False              # random crop (+ flip) for image data sets
    extra: dict = field(default_factory=dict)  # reserved for options added later

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """A validated config from plain data (unknown keys are an error, missing keys take
        their defaults)."""
        if not isinstance(values, dict):
            raise ConfigError(f"a run configuration must be a JSON object, got "
                              f"{type(values).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown configuration key(s): {', '.join(unknown)}")
        return cls(**values).validated()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"the run configuration is not valid JSON ({error})") from None
        return cls.from_dict(values)

    # ------------------------------------------------------------------ validation
    def validated(self) -> "TrainConfig":
        """Normalise names (dataset aliases, case) and check every value; returns self."""
        try:
            self.dataset = canonical_name(self.dataset)
        except UnknownDatasetError as error:
            raise ConfigError(str(error)) from None
        self.model = model_name(self.model)
        self.optimizer = _choice("optimizer", self.optimizer, OPTIMIZERS)
        self.schedule = _choice("schedule", self.schedule, SCHEDULES)
        self.lr = _positive_float("lr", self.lr)
        self.momentum = _float_in("momentum", self.momentum, 0.0, 1.0, high_open=True)
        self.weight_decay = _float_in("weight-decay", self.weight_decay, 0.0, math.inf)
        self.gamma = _float_in("gamma", self.gamma, 0.0, 1.0, low_open=True)
        if self.momentum and self.optimizer != "sgd":
            raise ConfigError(f"--momentum applies to --optimizer sgd only (Adam keeps its own "
                              f"moments), got --momentum {self.momentum} with "
                              f"--optimizer {self.optimizer}")
        self.batch_size = _integer("batch-size", self.batch_size, 1)
        if self.steps is not None and self.epochs is not None:
            raise ConfigError(f"give --steps or --epochs, not both (got --steps {self.steps} "
                              f"and --epochs {self.epochs})")
        if self.steps is not None:
            self.steps = _integer("steps", self.steps, 1)
        if self.epochs is not None:
            self.epochs = _integer("epochs", self.epochs, 1)
        self.seed = _integer("seed", self.seed, 0)
        self.warmup_steps = _integer("warmup-steps", self.warmup_steps, 0)
        self.eval_every = _integer("eval-every", self.eval_every, 0)
        self.eval_batch_size = _integer("eval-batch-size", self.eval_batch_size, 1)
        if self.eval_samples is not None:
            self.eval_samples = _integer("eval-samples", self.eval_samples, 1)
        self.checkpoint_every = _integer("checkpoint-every", self.checkpoint_every, 0)
        self.keep_checkpoints = _integer("keep-checkpoints", self.keep_checkpoints, 1)
        if self.step_size is not None:
            self.step_size = _integer("step-size", self.step_size, 1)
        if self.milestones is not None:
            if not isinstance(self.milestones, (list, tuple)) or not self.milestones:
                raise ConfigError(f"--milestones must be a list of step numbers, got "
                                  f"{self.milestones!r}")
            self.milestones = sorted(_integer("milestones", m, 1) for m in self.milestones)
        for name in ("download", "augment"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if isinstance(self.data_dir, os.PathLike):
            self.data_dir = os.fspath(self.data_dir)   # stored as text in config.json
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ConfigError(f"data_dir must be a path, got {self.data_dir!r}")
        if not isinstance(self.extra, dict):
            raise ConfigError(f"extra must be an object, got {self.extra!r}")
        if self.augment and self.dataset not in AUGMENTABLE:
            raise ConfigError(f"--augment (random crop and flip) is for image data sets "
                              f"({', '.join(AUGMENTABLE)}), not {self.dataset}")
        self.check_model_fits_dataset()
        return self

    def check_model_fits_dataset(self) -> None:
        """A model takes one input shape; the data set must have it."""
        spec = MODELS[self.model]
        wanted = tuple(spec.input_shape)
        have = DATASET_INPUT_SHAPES[self.dataset]
        if wanted != have:
            fitting = [name for name, s in MODELS.items() if tuple(s.input_shape) == have]
            raise ConfigError(
                f"model {self.model} takes inputs of shape {_shape(wanted)} but {self.dataset} "
                f"samples are {_shape(have)}; models for {self.dataset}: {', '.join(fitting)}")

    # ------------------------------------------------------------------ derived values
    def total_steps(self, batches_per_epoch: int) -> int:
        """Optimizer steps of the whole run (``epochs`` × batches per epoch, if given)."""
        if self.epochs is not None:
            return self.epochs * batches_per_epoch
        return self.steps if self.steps is not None else DEFAULT_STEPS

    def check_schedule(self, total: int) -> None:
        """Schedule options that only make sense against the run's length."""
        if self.warmup_steps >= total:
            raise ConfigError(f"--warmup-steps {self.warmup_steps} leaves no steps for the "
                              f"schedule: the run has {total} steps")
        if self.milestones and self.milestones[-1] >= total:
            raise ConfigError(f"--milestones {self.milestones} goes past the run's last step "
                              f"({total - 1})")


# Random crop (padding) and horizontal flip per image data set.  Digits are not flipped:
# a mirrored 2 is not a 2.
AUGMENTATIONS = {
    "digits": {"padding": 1, "flip": False},
    "mnist": {"padding": 2, "flip": False},
    "fashion-mnist": {"padding": 2, "flip": True},
    "cifar10": {"padding": 4, "flip": True},
}
AUGMENTABLE = tuple(AUGMENTATIONS)


def _shape(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def model_name(name) -> str:
    """A registry model's name, forgiving case and spaces; ConfigError naming the models."""
    key = str(name).strip().lower()
    if key in MODELS:
        return key
    close = difflib.get_close_matches(key, MODELS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"unknown model {name!r}{hint}; models: {', '.join(MODELS)}")


def _choice(option: str, value, choices: tuple) -> str:
    key = str(value).strip().lower()
    if key not in choices:
        raise ConfigError(f"--{option} must be one of {', '.join(choices)}, got {value!r}")
    return key


def _number(option: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"--{option} must be a number, got {value!r}") from None
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"--{option} must be a finite number, got {value}")
    return value


def _positive_float(option: str, value) -> float:
    value = _number(option, value)
    if value <= 0:
        raise ConfigError(f"--{option} must be greater than 0, got {value:g}")
    return value


def _float_in(option: str, value, low: float, high: float, low_open: bool = False,
              high_open: bool = False) -> float:
    value = _number(option, value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = (("(" if low_open else "[") + f"{low:g}, {high:g}"
                    + (")" if high_open else "]"))
        raise ConfigError(f"--{option} must be in {interval}, got {value:g}")
    return value


def _integer(option: str, value, minimum: int) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"--{option} must be an integer, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise ConfigError(f"--{option} must be an integer, got {value!r}") from None
    if value < minimum:
        raise ConfigError(f"--{option} must be at least {minimum}, got {value}")
    return value
