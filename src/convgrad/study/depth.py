"""The depth study (He et al. 2016, Fig. 1 and 6): plain and residual networks of several
depths, trained alike, so that what depth alone does to *training* error shows.

A study is a plan — a depth family (``convgrad.models.FAMILIES``), its depths, one recipe and
seed — and a folder holding one ordinary run folder per network::

    runs/depth-resnet1d-<time>/
        study.json           the plan (family, depths, the recipe as a TrainConfig, quick)
        plain1d-8/           a run folder: config.json, metrics.jsonl, checkpoints/, ...
        resnet1d-8/
        ...                  (shallow to deep, plain before residual)
        training_error.png, gradient_norms.png, results.json   (``depth_report.py``)

Every run trains the same data in the same order from the same seed with the same recipe;
only the model differs.  Besides the test set, each evaluation measures the loss and
accuracy on the whole training set (``TrainingSet``: the curves He et al. plot) and the
gradient norm of every weighted layer (``GradientNorms``).

Resuming.  The runs are trained one after the other.  A finished run (its ``summary.json``
written) is never trained again; an interrupted one resumes from its latest checkpoint, so
a study killed at any moment and resumed (``convgrad depth --resume DIR``) ends with the
same weights and rows as one never interrupted.  A folder that holds a run of another
recipe is refused, never trained over.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..models import FAMILIES, ModelFamily
from ..train.atomic import replace_json
from ..train.config import ConfigError, TrainConfig
from ..train.loop import Trainer
from ..train.measurements import TrainingSet
from ..train.runfolder import (CONFIG_FILE, SUMMARY_FILE, RunError, is_run_dir,
                               recipe_differences)
from .gradnorms import GradientNorms

STUDY_FILE = "study.json"
DEFAULT_FAMILY = "resnet1d"


@dataclass(frozen=True)
class FamilyDefaults:
    """What a study of one family trains unless told otherwise (and with ``--quick``)."""
    depths: tuple[int, ...]
    steps: int
    eval_every: int
    batch_size: int
    quick_depths: tuple[int, ...]
    quick_steps: int
    quick_eval_every: int
    augment: bool = False


# The 1-D family on MNIST-1D is the default study (depths, steps: measured, see README).
DEFAULTS = {
    "resnet1d": FamilyDefaults((8, 14, 26, 50), 1200, 50, 100, (8, 14), 200, 50),
    "cifar": FamilyDefaults((20, 32, 44, 56), 2000, 200, 128, (8, 14), 60, 30, augment=True),
    "lenet": FamilyDefaults((6, 10, 18, 34), 600, 50, 100, (6, 10), 150, 50),
}
# He et al.'s recipe (§4.2) but for the batch: SGD with momentum, weight decay, the learning
# rate divided by 10 at 50% and 75% of the steps.
RECIPE = dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, schedule="multistep",
              gamma=0.1)


@dataclass(frozen=True)
class Network:
    depth: int
    residual: bool
    model: str                    # its registry name (plain1d-50), also its folder's name

    @property
    def label(self) -> str:
        return f"{'ResNet' if self.residual else 'plain'}-{self.depth}"


@dataclass(frozen=True)
class StudyPlan:
    """Which networks a study trains, and how (``config``: the recipe every run shares; its
    model is the first network's)."""
    family: str
    depths: tuple[int, ...]
    config: TrainConfig
    quick: bool = False

    @property
    def networks(self) -> list[Network]:
        family = FAMILIES[self.family]
        return [Network(depth, residual, family.model_name(depth, residual))
                for depth in self.depths for residual in (False, True)]

    def config_of(self, network: Network) -> TrainConfig:
        return dataclasses.replace(self.config, model=network.model)

    def to_dict(self) -> dict:
        return {"family": self.family, "depths": list(self.depths), "quick": self.quick,
                "config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> "StudyPlan":
        try:
            family = family_named(values["family"])
            depths = check_depths(family, values["depths"])
            return cls(family.name, depths, TrainConfig.from_dict(values["config"]),
                       bool(values.get("quick", False)))
        except (KeyError, TypeError) as error:
            raise ConfigError(f"not a depth study's plan ({type(error).__name__}: "
                              f"{error})") from None


def family_named(name: str) -> ModelFamily:
    family = FAMILIES.get(str(name).strip().lower())
    if family is None:
        raise ConfigError(f"--family {name!r}: unknown family; families: "
                          f"{', '.join(FAMILIES)}")
    return family


def check_depths(family: ModelFamily, depths) -> tuple[int, ...]:
    """The depths sorted and without repeats; ConfigError for one the family lacks."""
    if not depths:
        raise ConfigError("--depths: give at least one depth")
    for depth in depths:
        try:
            family.check_depth(depth)
        except ValueError as error:
            raise ConfigError(f"--depths: {error}") from None
    return tuple(sorted(set(depths)))


def make_plan(family: str = DEFAULT_FAMILY, depths=None, quick: bool = False,
              **options) -> StudyPlan:
    """The plan for ``family``: its defaults (``--quick``: the smoke run's), then the
    recipe, then ``options`` given (TrainConfig fields: ``steps``, ``lr``, ``seed``,
    ``dataset``, ...) over both."""
    chosen = family_named(family)
    defaults = DEFAULTS[chosen.name]
    depths = check_depths(chosen, depths or (defaults.quick_depths if quick
                                             else defaults.depths))
    values = dict(RECIPE, batch_size=defaults.batch_size, augment=defaults.augment,
                  steps=defaults.quick_steps if quick else defaults.steps,
                  eval_every=defaults.quick_eval_every if quick else defaults.eval_every)
    values.update({name: value for name, value in options.items() if value is not None})
    if values["eval_every"] == 0:
        raise ConfigError("--eval-every 0 (only at the end) would leave the study without "
                          "its curves and the gradients at initialisation; give N ≥ 1")
    values.setdefault("checkpoint_every", 4 * values["eval_every"])
    values.setdefault("keep_checkpoints", 1)
    config = TrainConfig(model=chosen.model_name(depths[0], False), **values)
    return StudyPlan(chosen.name, depths, config, quick)


# ---------------------------------------------------------------------------- the folder
def save_plan(plan: StudyPlan, study_dir: Path) -> None:
    """Start a study in ``study_dir``: a new or empty folder (RunError otherwise)."""
    if study_dir.exists() and not study_dir.is_dir():
        raise RunError(f"--out {study_dir}: exists and is not a folder")
    if (study_dir / STUDY_FILE).exists():
        raise RunError(f"--out {study_dir}: already holds a depth study; continue it with "
                       f"--resume {study_dir}, or choose another --out")
    if study_dir.is_dir() and any(study_dir.iterdir()):
        raise RunError(f"--out {study_dir}: not empty; a study starts in a new or empty "
                       f"folder")
    try:
        study_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"{study_dir}: cannot create the study's folder "
                       f"({error.strerror})") from None
    replace_json(study_dir / STUDY_FILE, plan.to_dict())


def load_plan(study_dir: Path) -> StudyPlan:
    path = study_dir / STUDY_FILE
    if not path.is_file():
        raise RunError(f"--resume {study_dir}: not a depth study's folder (no {STUDY_FILE})")
    try:
        return StudyPlan.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as error:   # ConfigError, JSONDecodeError
        raise RunError(f"{path}: {error}") from None


def is_finished(run_dir: Path) -> bool:
    return (run_dir / SUMMARY_FILE).is_file()


def check_run_folder(run_dir: Path, config: TrainConfig) -> None:
    """A run folder the study finds must hold this very run (RunError otherwise)."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return
    try:
        saved = TrainConfig.from_json(path.read_text(encoding="utf-8"))
    except (ConfigError, OSError, UnicodeDecodeError) as error:
        raise RunError(f"{path}: {error}") from None
    differing = recipe_differences(saved, config, (" there", ", the study's"))
    if differing:
        raise RunError(f"{run_dir}: holds another run than the study's ({differing})")


# ---------------------------------------------------------------------------- training
class StudyInterrupted(Exception):
    """Ctrl-C stopped a run (its checkpoint saved): the study stops too."""


class StudyDiverged(Exception):
    """A run's loss became NaN or infinite (the message says which, where, what to try)."""


def run_study(plan: StudyPlan, study_dir: Path, quiet: bool = False, on_start=None,
              on_finish=None) -> None:
    """Train every network of ``plan`` not finished yet in ``study_dir`` (created by
    ``save_plan``).  ``on_start(network, run_dir)`` and ``on_finish(network, run_dir,
    trained)`` are told about each run (``trained``: False for one finished before)."""
    for network in plan.networks:
        run_dir = study_dir / network.model
        config = plan.config_of(network)
        check_run_folder(run_dir, config)
        if is_finished(run_dir):
            if on_finish is not None:
                on_finish(network, run_dir, False)
            continue
        if on_start is not None:
            on_start(network, run_dir)
        result = Trainer(config, run_dir, resume=is_run_dir(run_dir), quiet=quiet,
                         report_rows=False,
                         measurements=[TrainingSet(), GradientNorms()]).run()
        if result.interrupted:
            raise StudyInterrupted(f"interrupted in {run_dir} at step {result.steps}")
        if result.diverged is not None:
            d = result.diverged
            raise StudyDiverged(f"{network.model}: the training loss is {d.loss} at step "
                                f"{d.step} (lr {d.lr:g}); a study needs every run to "
                                f"finish: start a new one with a lower --lr")
        if on_finish is not None:
            on_finish(network, run_dir, True)


def study_dir_default(family: str, root: str | os.PathLike = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"depth-{family}-{stamp}"
