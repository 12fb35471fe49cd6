"""Recipes: the training options that suit a model, used for every option not given.

    paper    the MNIST-1D paper's (Greydanus 2020): Adam, lr 1e-2, batch 100, constant
             schedule, no weight decay — every model but the CIFAR ResNets
    resnet   He et al. 2016's for the CIFAR ResNets and their plain twins (§4.2): SGD with
             momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 at 50% and 75% of the
             run (32k and 48k of their 64k steps), batch 128, 4-pixel random crop and
             horizontal flip

and one preset, asked for by name (``--recipe he2016``), whatever the backend:

    he2016   the whole published CIFAR recipe: ``resnet``'s options, 64k steps (so the lr
             is divided at 32k and 48k), and per-channel normalisation of the inputs with
             the training set's mean and standard deviation.  The test errors it gave
             (He et al. 2016, Table 6): ResNet-20 8.75%, -32 7.51%, -44 7.17%, -56 6.97%,
             -110 6.43% — what a GPU user with the CIFAR-10 files should reach.

Options the user gives win.  An optimizer other than the recipe's drops the recipe's
learning rate, momentum and weight decay with it (Adam at SGD's lr 0.1 diverges), and a
schedule other than the recipe's drops its decay factor: those take the paper's values.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..models import MODELS


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str          # for the run's header
    values: dict
    steps: int | None = None  # a preset's run length (unless --steps or --epochs is given)
    dataset: str | None = None  # a preset's data set (its models train on nothing else)


PAPER = Recipe("paper", "the MNIST-1D paper's recipe",
               dict(optimizer="adam", lr=1e-2, momentum=0.0, weight_decay=0.0,
                    schedule="constant", gamma=0.1, batch_size=100, augment=False,
                    normalize=False))
RESNET = Recipe("resnet", "He et al. 2016's CIFAR ResNet recipe: SGD, momentum 0.9, weight "
                          "decay 1e-4, lr 0.1 divided by 10 at 50% and 75% of the steps, batch "
                          "128, random crop and flip",
                dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4,
                     schedule="multistep", gamma=0.1, batch_size=128, augment=True,
                     normalize=False))
HE2016 = Recipe("he2016", "He et al. 2016's published CIFAR recipe (--recipe he2016): SGD, "
                          "momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 at 32k and "
                          "48k steps, 64k steps, batch 128, random crop and flip, per-channel "
                          "normalisation",
                dict(RESNET.values, normalize=True), steps=64000, dataset="cifar10")
PRESETS = {HE2016.name: HE2016}
FIELDS = tuple(PAPER.values)
FOLLOW_OPTIMIZER = ("lr", "momentum", "weight_decay")
FOLLOW_SCHEDULE = ("gamma",)


def recipe_for(model: str, preset: str | None = None) -> Recipe:
    """The preset named ``preset``, else the recipe that suits registry model ``model``."""
    if preset is not None:
        return PRESETS[preset]
    return RESNET if MODELS[model].dataset == "cifar10" else PAPER


def recipe_steps(preset: str | None) -> int | None:
    return None if preset is None else PRESETS[preset].steps


def recipe_dataset(preset: str | None) -> str | None:
    return None if preset is None else PRESETS[preset].dataset


def check_recipe_model(preset: str | None, model: str, error=ValueError) -> None:
    """A preset is for the models of its data set (``error`` naming them otherwise)."""
    wanted = recipe_dataset(preset)
    if wanted is not None and MODELS[model].dataset != wanted:
        fitting = [name for name, spec in MODELS.items() if spec.dataset == wanted]
        raise error(f"--recipe {preset} is for the {wanted} models ({', '.join(fitting)}), "
                    f"not {model}")


def fill(given: dict, model: str, preset: str | None = None) -> dict:
    """Every recipe field: ``given`` (None: not given), else the preset's or ``model``'s
    recipe (see the module docstring for what an overridden optimizer or schedule takes
    with it)."""
    recipe = recipe_for(model, preset).values
    values = {}
    for name in FIELDS:
        if given.get(name) is not None:
            values[name] = given[name]
            continue
        source = recipe
        for leader, followers in (("optimizer", FOLLOW_OPTIMIZER),
                                  ("schedule", FOLLOW_SCHEDULE)):
            chosen = given.get(leader)
            if name in followers and chosen is not None and \
                    str(chosen).strip().lower() != recipe[leader]:
                source = PAPER.values
        values[name] = source[name]
    return values


def describe_choices(given: dict, model: str, dataset: str, preset: str | None = None
                     ) -> str | None:
    """What was picked for the user (the data set, a recipe other than the paper's), as one
    line for the run's header; None when nothing was."""
    parts = []
    if given.get("dataset") is None and given.get("model") is not None and \
            dataset != "mnist1d":
        parts.append(f"{model} is a {dataset} model: training on {dataset}")
    elif given.get("model") is None and (given.get("dataset") is not None or preset):
        parts.append(f"training {model}, the usual model for {dataset}")
    recipe = recipe_for(model, preset)
    if recipe is not PAPER and any(given.get(name) is None for name in FIELDS):
        parts.append(f"options not given follow {recipe.description}")
    return "; ".join(parts) or None
