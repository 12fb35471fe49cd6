"""``TrainConfig``: everything that decides a training run's result, validated, as JSON.

The defaults are the MNIST-1D paper's recipe for its CNN (Greydanus 2020): Adam, learning
rate 1e-2, no weight decay, batch 100, 6000 steps, an evaluation every 250 steps.  A model
brings its own data set (``TrainConfig(model="resnet20")`` trains on CIFAR-10) and a data
set its usual model; the options left as None take the model's recipe (``recipes.py``:
the CIFAR ResNets train with SGD, momentum and a step schedule).

A config is frozen and checked once, when it is made: ``TrainConfig(lr=0)`` raises, so
every ``TrainConfig`` that exists is a valid recipe, with its names normalised (data set
aliases, case, sorted milestones).  The command line and the Python API are the two places
configs are made; the rest of ``convgrad.train`` only reads them.  A changed copy is a new
config, checked again: ``dataclasses.replace(config, model="mlp")``.

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

from ..data.errors import UnknownDatasetError
from ..data.registry import canonical_name
from ..models import MODELS
from .recipes import FIELDS as RECIPE_FIELDS
from .recipes import fill

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
# Random crop (padding) and horizontal flip per image data set.  Digits are not flipped:
# a mirrored 2 is not a 2.
AUGMENTATIONS = {
    "digits": {"padding": 1, "flip": False},
    "mnist": {"padding": 2, "flip": False},
    "fashion-mnist": {"padding": 2, "flip": True},
    "cifar10": {"padding": 4, "flip": True},
}
AUGMENTABLE = tuple(AUGMENTATIONS)


class ConfigError(ValueError):
    """An invalid training option (the message names it and its value)."""


@dataclass(frozen=True)
class TrainConfig:
    model: str | None = None           # default: cnn, or the usual model of the data set
    dataset: str | None = None         # default: mnist1d, or the model's own data set
    data_dir: str | None = None        # the data set's folder (default: the cache folder)
    download: bool = False             # fetch MNIST / Fashion-MNIST / CIFAR-10 if missing
    # None below: the model's recipe (recipes.py); the paper's values shown
    optimizer: str | None = None       # adam
    lr: float | None = None            # 1e-2
    momentum: float | None = None      # 0 (SGD only)
    weight_decay: float | None = None  # 0
    schedule: str | None = None        # constant
    warmup_steps: int = 0              # linear warm-up before the schedule
    step_size: int | None = None       # 'step': decay every step_size steps (default steps/3)
    milestones: list[int] | None = None  # 'multistep' (default: at 50% and 75% of the run)
    gamma: float | None = None         # 0.1, the 'step' / 'multistep' decay factor
    batch_size: int | None = None      # 100
    steps: int | None = None           # optimizer steps; or give epochs (not both)
    epochs: int | None = None
    seed: int = 0
    eval_every: int = 250              # steps between evaluations (0: only at the end)
    eval_batch_size: int = 1000
    eval_samples: int | None = None    # periodic evaluations use the first N test samples
    checkpoint_every: int = 1000       # steps between checkpoints (0: only at the end)
    keep_checkpoints: int = 2
    augment: bool | None = None        # random crop (+ flip) for image data sets; False
    shuffle_positions: bool = False    # every sample's positions reordered by one fixed
                                       # permutation drawn from the seed, train and test alike
    extra: dict = field(default_factory=dict)  # reserved for options added later

    def __post_init__(self):
        """Fill in the model, data set and recipe options left as None, normalise names
        (data set aliases, case) and check every value."""
        for step in (_resolved, _normalised):
            for name, value in step(self).items():
                object.__setattr__(self, name, value)   # still being made: frozen after
        self._check_model_fits_dataset()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """A config from plain data (unknown keys are an error, missing keys take their
        defaults)."""
        if not isinstance(values, dict):
            raise ConfigError(f"a run configuration must be a JSON object, got "
                              f"{type(values).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown configuration key(s): {', '.join(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"the run configuration is not valid JSON ({error})") from None
        return cls.from_dict(values)

    # ------------------------------------------------------------------ derived values
    def total_steps(self, batches_per_epoch: int) -> int:
        """Optimizer steps of the whole run (``epochs`` × batches per epoch, if given)."""
        if self.epochs is not None:
            return self.epochs * batches_per_epoch
        return self.steps if self.steps is not None else DEFAULT_STEPS

    def check_schedule(self, total: int) -> None:
        """Schedule options that only make sense against the run's length (known once the
        data set, and so the number of batches per epoch, is)."""
        if self.warmup_steps >= total:
            raise ConfigError(f"--warmup-steps {self.warmup_steps} leaves no steps for the "
                              f"schedule: the run has {total} steps")
        if self.milestones and self.milestones[-1] >= total:
            raise ConfigError(f"--milestones {self.milestones} goes past the run's last step "
                              f"({total - 1})")

    def _check_model_fits_dataset(self) -> None:
        """A model takes one input shape; the data set must have it."""
        wanted = tuple(MODELS[self.model].input_shape)
        have = DATASET_INPUT_SHAPES[self.dataset]
        if wanted != have:
            fitting = [name for name, s in MODELS.items() if tuple(s.input_shape) == have]
            raise ConfigError(
                f"model {self.model} takes inputs of shape {_shape(wanted)} but {self.dataset} "
                f"samples are {_shape(have)}; models for {self.dataset}: {', '.join(fitting)}")


def _resolved(c: TrainConfig) -> dict:
    """The model, the data set and the recipe options, each given or chosen."""
    dataset = None if c.dataset is None else dataset_name(c.dataset)
    model = model_name(c.model) if c.model is not None else \
        DEFAULT_MODEL_FOR_DATASET[dataset or "mnist1d"]
    given = {name: getattr(c, name) for name in RECIPE_FIELDS}
    return dict(fill(given, model), model=model, dataset=dataset or MODELS[model].dataset)


def _normalised(c: TrainConfig) -> dict:
    """Every field of ``c`` checked and in its canonical form (ConfigError otherwise)."""
    dataset = dataset_name(c.dataset)
    values = {
        "dataset": dataset,
        "model": model_name(c.model),
        "optimizer": _choice("optimizer", c.optimizer, OPTIMIZERS),
        "schedule": _choice("schedule", c.schedule, SCHEDULES),
        "lr": _positive_float("lr", c.lr),
        "momentum": _float_in("momentum", c.momentum, 0.0, 1.0, high_open=True),
        "weight_decay": _float_in("weight-decay", c.weight_decay, 0.0, math.inf),
        "gamma": _float_in("gamma", c.gamma, 0.0, 1.0, low_open=True),
        "batch_size": _integer("batch-size", c.batch_size, 1),
        "seed": _integer("seed", c.seed, 0),
        "warmup_steps": _integer("warmup-steps", c.warmup_steps, 0),
        "eval_every": _integer("eval-every", c.eval_every, 0),
        "eval_batch_size": _integer("eval-batch-size", c.eval_batch_size, 1),
        "checkpoint_every": _integer("checkpoint-every", c.checkpoint_every, 0),
        "keep_checkpoints": _integer("keep-checkpoints", c.keep_checkpoints, 1),
    }
    if values["momentum"] and values["optimizer"] != "sgd":
        raise ConfigError(f"--momentum applies to --optimizer sgd only (Adam keeps its own "
                          f"moments), got --momentum {c.momentum} with "
                          f"--optimizer {values['optimizer']}")
    if c.steps is not None and c.epochs is not None:
        raise ConfigError(f"give --steps or --epochs, not both (got --steps {c.steps} "
                          f"and --epochs {c.epochs})")
    for name in ("steps", "epochs", "eval_samples", "step_size"):
        value = getattr(c, name)
        if value is not None:
            values[name] = _integer(name.replace("_", "-"), value, 1)
    if c.milestones is not None:
        if not isinstance(c.milestones, (list, tuple)) or not c.milestones:
            raise ConfigError(f"--milestones must be a list of step numbers, got "
                              f"{c.milestones!r}")
        values["milestones"] = sorted(_integer("milestones", m, 1) for m in c.milestones)
        if values["milestones"][0] <= values["warmup_steps"]:
            raise ConfigError(f"--milestones {values['milestones']} must come after the "
                              f"{values['warmup_steps']} warm-up steps")
    for name in ("download", "augment", "shuffle_positions"):
        if not isinstance(getattr(c, name), bool):
            raise ConfigError(f"{name} must be true or false, got {getattr(c, name)!r}")
    data_dir = os.fspath(c.data_dir) if isinstance(c.data_dir, os.PathLike) else c.data_dir
    if data_dir is not None and not isinstance(data_dir, str):
        raise ConfigError(f"data_dir must be a path, got {data_dir!r}")
    values["data_dir"] = data_dir                  # stored as text in config.json
    if not isinstance(c.extra, dict):
        raise ConfigError(f"extra must be an object, got {c.extra!r}")
    if c.augment and dataset not in AUGMENTABLE:
        raise ConfigError(f"--augment (random crop and flip) is for image data sets "
                          f"({', '.join(AUGMENTABLE)}), not {dataset}")
    return values


def _shape(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def dataset_name(name) -> str:
    """A registry data set's name (aliases and case forgiven); ConfigError naming them."""
    try:
        return canonical_name(name)
    except UnknownDatasetError as error:
        raise ConfigError(str(error)) from None


def model_name(name) -> str:
    """A registry model's name (a depth family's too: ``plain1d-50``), forgiving case and
    spaces; ConfigError naming the models, or the family's depths."""
    key = str(name).strip().lower()
    if key in MODELS:
        return key
    wrong_depth = MODELS.depth_error(key)
    if wrong_depth:
        raise ConfigError(wrong_depth)
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
