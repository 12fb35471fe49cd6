"""From a ``TrainConfig`` to the objects of a run: data, model, optimizer, schedule,
augmentation.  Each builder depends on the config (and the seed) alone, so a resumed run
rebuilds exactly what the interrupted one had before loading the checkpoint into it.
"""
from __future__ import annotations

import inspect
from functools import partial

import numpy as np

from ..data import load_dataset
from ..data.dataset import Dataset
from ..data.errors import DataFormatError
from ..data.permutation import shuffle_positions
from ..data.transforms import random_crop, random_horizontal_flip
from ..models import MODELS
from ..optim import SGD, Adam, AdamW
from ..optim.lr_scheduler import (CosineAnnealingLR, LinearLR, MultiStepLR, SequentialLR,
                                  StepLR)
from .config import AUGMENTATIONS, ConfigError, TrainConfig


def load_data(config: TrainConfig, progress=None) -> Dataset:
    """The config's data set, its positions shuffled if the config says so (``DataError``
    subclasses for missing, corrupt or empty files)."""
    data = load_dataset(config.dataset, root=config.data_dir, download=config.download,
                        progress=progress)
    if config.shuffle_positions:
        data = shuffle_positions(data, config.seed)
    check_not_empty(data)
    wanted = tuple(MODELS[config.model].input_shape)
    if data.input_shape != wanted:
        raise ConfigError(f"model {config.model} takes inputs of shape {wanted} but "
                          f"{data.name} from {data.source or 'its files'} has samples of "
                          f"shape {data.input_shape}")
    if config.batch_size > data.num_train:
        raise ConfigError(f"--batch-size {config.batch_size} is larger than the "
                          f"{data.num_train} training samples of {data.name}")
    return data


def check_not_empty(data: Dataset, splits=("train", "test")) -> None:
    """A run trains on one split and evaluates on the other: neither may be empty."""
    for split, purpose in (("train", "train"), ("test", "evaluate")):
        if split in splits and len(getattr(data, f"{split}_y")) == 0:
            raise DataFormatError(f"{data.source or data.name}: the {data.name} {split} split "
                                  f"is empty (0 samples): nothing to {purpose} on")


def _class_count_argument(build) -> str | None:
    """The keyword a model constructor takes for the number of classes, if any."""
    try:
        parameters = inspect.signature(build).parameters
    except (TypeError, ValueError):
        return None
    for name in ("num_classes", "output_size"):
        if name in parameters:
            return name
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return "num_classes"
    return None


def build_model(name: str, num_classes: int = 10):
    """Registry model ``name`` with ``num_classes`` outputs (the caller seeds convgrad's
    generator first: initialisation draws from it)."""
    spec = MODELS[name]
    if num_classes == 10:           # every registry model's default
        return spec.build()
    keyword = _class_count_argument(spec.build)
    if keyword is None:
        raise ConfigError(f"model {name} has a fixed 10-class output; the data set has "
                          f"{num_classes} classes")
    return spec.build(**{keyword: num_classes})


def build_optimizer(config: TrainConfig, model):
    params = list(model.parameters())
    if config.optimizer == "sgd":
        return SGD(params, lr=config.lr, momentum=config.momentum,
                   weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def build_scheduler(config: TrainConfig, optimizer, total_steps: int):
    """The learning-rate schedule, stepped once per optimizer step; None for a constant lr.

    ``--warmup-steps w`` ramps the lr linearly from lr/(w+1) to lr over the first w steps
    (PyTorch's LinearLR), then hands over to the schedule, which runs over the remaining
    ``total − w`` steps.  Milestones are absolute step numbers (the config checked that
    they come after the warm-up; ``RunPlan`` that they come before the end).
    """
    warmup = config.warmup_steps
    remaining = total_steps - warmup
    main = None
    if config.schedule == "step":
        main = StepLR(optimizer, step_size=config.step_size or max(1, remaining // 3),
                      gamma=config.gamma)
    elif config.schedule == "multistep":
        # Default: halfway and three quarters through the steps after the warm-up.
        milestones = config.milestones or [warmup + max(1, remaining // 2),
                                           warmup + max(1, (3 * remaining) // 4)]
        main = MultiStepLR(optimizer, [m - warmup for m in milestones], gamma=config.gamma)
    elif config.schedule == "cosine":
        main = CosineAnnealingLR(optimizer, T_max=remaining)
    if warmup == 0:
        return main
    ramp = LinearLR(optimizer, start_factor=1.0 / (warmup + 1), end_factor=1.0,
                    total_iters=warmup)
    if main is None:
        return ramp
    return SequentialLR(optimizer, [ramp, main], milestones=[warmup])


def _augment(x: np.ndarray, rng: np.random.Generator, padding: int, flip: bool) -> np.ndarray:
    x = random_crop(x, rng, padding=padding)
    return random_horizontal_flip(x, rng) if flip else x


def build_augmentation(config: TrainConfig):
    """``augment(x_batch, rng)`` for ``--augment`` (random crop, and flip where a mirrored
    sample keeps its label), or None."""
    if not config.augment:
        return None
    policy = AUGMENTATIONS[config.dataset]
    return partial(_augment, padding=policy["padding"], flip=policy["flip"])


def augmentation_generator(seed: int) -> np.random.Generator:
    """The augmentation's own stream, independent of the loader's (seeded by ``seed``)."""
    return np.random.default_rng([seed, 1])
