"""``convgrad.models``: the networks of the course, by name.

``get_model(name, **kwargs)`` builds one; ``MODELS[name]`` describes it (``input_shape``
without the batch dim, the dataset it is meant for, a one-line description).

    MNIST-1D (input (1, 40)): logistic, mlp, cnn (the paper's three), resnet1d, plain1d
    MNIST (1×28×28):          lenet5
    8×8 digits (1×8×8):       lenet5-small
    CIFAR-10 (3×32×32):       resnet20/32/44/56/110 and plain20/32/44/56/110

Depth families (``FAMILIES``): a residual network and its plain twin (the same parameters,
no shortcuts) at any depth of the family's form, named by it::

    resnet1d   resnet1d-D / plain1d-D   MNIST-1D    D = 6n + 2   (8, 14, 20, 26, ..., 50)
    cifar      resnetD / plainD         CIFAR-10    D = 6n + 2   (20, 32, 44, 56, 110, ...)
    lenet      reslenet-D / lenet-D     8×8 digits  D = 4n + 2   (6, 10, 14, ...)

``MODELS["plain1d-50"]`` and ``get_model("plain1d-50")`` work like any other name (so a run
of such a model trains, resumes, loads and evaluates as every run does); iterating
``MODELS`` lists the named models only, not every depth.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

from .cifar_resnet import BasicBlock, CifarResNet
from .lenet import LeNet5
from .lenet_stack import LeNetStack
from .mnist1d import ConvBase, LinearBase, MLPBase
from .resnet1d import BasicBlock1d, ResNet1d
from .shortcut import ZeroPadShortcut


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable
    input_shape: tuple          # one example, without the batch dim
    dataset: str
    description: str


def _specs():
    specs = [
        ModelSpec("logistic", LinearBase, (1, 40), "mnist1d",
                  "logistic regression, Linear(40, 10) (MNIST-1D paper)"),
        ModelSpec("mlp", MLPBase, (1, 40), "mnist1d",
                  "MLP 40-100-100-10 with ReLU (MNIST-1D paper)"),
        ModelSpec("cnn", ConvBase, (1, 40), "mnist1d",
                  "3 strided Conv1d layers + Linear(125, 10) (MNIST-1D paper's ConvBase)"),
        ModelSpec("resnet1d", ResNet1d, (1, 40), "mnist1d",
                  "1-D ResNet-14, BatchNorm, option-A shortcuts"),
        ModelSpec("plain1d", lambda **kw: ResNet1d(plain=True, **kw), (1, 40), "mnist1d",
                  "resnet1d without its shortcuts (same parameters)"),
        ModelSpec("lenet5", LeNet5, (1, 28, 28), "mnist",
                  "LeNet-5 with ReLU and max pooling, for 28x28 digits"),
        ModelSpec("lenet5-small", LeNet5.small, (1, 8, 8), "digits",
                  "LeNet-5 with 3x3 kernels, for 8x8 digits"),
    ]
    for depth in (20, 32, 44, 56, 110):
        specs.append(ModelSpec(f"resnet{depth}",
                               lambda depth=depth, **kw: CifarResNet(depth, **kw),
                               (3, 32, 32), "cifar10",
                               f"CIFAR ResNet-{depth} (He et al. 2016), option-A shortcuts"))
        specs.append(ModelSpec(f"plain{depth}",
                               lambda depth=depth, **kw: CifarResNet(depth, plain=True, **kw),
                               (3, 32, 32), "cifar10",
                               f"ResNet-{depth} without shortcuts (same parameters)"))
    return {spec.name: spec for spec in specs}


@dataclass(frozen=True)
class ModelFamily:
    """Residual networks and their plain twins at every depth ``D = step·n + 2`` (n ≥ 1).

    ``residual`` and ``plain`` are the names' patterns (``{depth}`` in them); ``build(depth,
    plain, **kwargs)`` makes one network.
    """
    name: str
    residual: str
    plain: str
    build: Callable
    input_shape: tuple
    dataset: str
    step: int                 # depths are step·n + 2
    description: str          # of one network, with {depth}; the spec says which shortcuts
    examples: tuple           # depths worth listing in a message

    def model_name(self, depth: int, residual: bool) -> str:
        self.check_depth(depth)
        return (self.residual if residual else self.plain).format(depth=depth)

    def check_depth(self, depth) -> None:
        """ValueError (one line naming the family's depths) unless ``depth`` is one."""
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < self.step + 2 \
                or (depth - 2) % self.step:
            raise ValueError(f"the {self.name} family has depths {self.step}n + 2 with n ≥ 1 "
                             f"({', '.join(map(str, self.examples))}, ...), not {depth!r}")

    def parse(self, name: str) -> tuple[int, bool] | None:
        """``(depth, residual)`` if ``name`` has one of the family's patterns (whatever the
        number), else None."""
        for residual, pattern in ((True, self.residual), (False, self.plain)):
            match = re.fullmatch(re.escape(pattern).replace(r"\{depth\}", r"(\d+)"), name)
            if match:
                return int(match.group(1)), residual
        return None

    def spec(self, depth: int, residual: bool) -> ModelSpec:
        name = self.model_name(depth, residual)
        shortcuts = ", option-A shortcuts" if residual else \
            ", no shortcuts (the residual twin's parameters)"

        def build(**kwargs):
            return self.build(depth, not residual, **kwargs)
        return ModelSpec(name, build, self.input_shape, self.dataset,
                         self.description.format(depth=depth) + shortcuts)


FAMILIES: dict[str, ModelFamily] = {family.name: family for family in (
    ModelFamily("resnet1d", "resnet1d-{depth}", "plain1d-{depth}",
                lambda depth, plain, **kw: ResNet1d(blocks=(depth - 2) // 6, plain=plain, **kw),
                (1, 40), "mnist1d", 6, "1-D ResNet-{depth}, BatchNorm",
                (8, 14, 20, 26, 50)),
    ModelFamily("cifar", "resnet{depth}", "plain{depth}",
                lambda depth, plain, **kw: CifarResNet(depth, plain=plain, **kw),
                (3, 32, 32), "cifar10", 6,
                "CIFAR ResNet-{depth} (He et al. 2016)",
                (20, 32, 44, 56, 110)),
    ModelFamily("lenet", "reslenet-{depth}", "lenet-{depth}",
                lambda depth, plain, **kw: LeNetStack(depth, plain=plain, **kw),
                (1, 8, 8), "digits", 4,
                "LeNet-like stack of {depth} layers for 8x8 digits, BatchNorm",
                (6, 10, 14, 18, 34)),
)}


def family_of(name: str) -> tuple[ModelFamily, int, bool] | None:
    """The family whose naming ``name`` follows, with the depth and whether it is the
    residual network (the depth not checked); None for other names."""
    for family in FAMILIES.values():
        parsed = family.parse(name)
        if parsed is not None:
            return (family, *parsed)
    return None


class ModelRegistry(Mapping):
    """The named models, and every network of a depth family by its name.

    ``registry[name]`` is a ``ModelSpec``; iterating gives the named models only (the
    families have no end).  ``registry.depth_error(name)`` says why a family-like name is
    not a model (its depth is not of the family's form), or gives None.
    """

    def __init__(self, specs: dict[str, ModelSpec]):
        self._specs = specs

    def __getitem__(self, name) -> ModelSpec:
        spec = self._specs.get(name)
        if spec is not None:
            return spec
        found = family_of(name) if isinstance(name, str) else None
        if found is not None:
            family, depth, residual = found
            try:
                return family.spec(depth, residual)
            except ValueError:
                pass
        raise KeyError(name)

    def __iter__(self):
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def depth_error(self, name: str) -> str | None:
        found = None if name in self._specs else family_of(name)
        if found is None:
            return None
        family, depth, _ = found
        try:
            family.check_depth(depth)
        except ValueError as error:
            return f"{name}: {error}"
        return None


MODELS: ModelRegistry = ModelRegistry(_specs())


def get_model(name: str, **kwargs):
    """A new model by registry name (kwargs go to its constructor, e.g. ``num_classes``)."""
    try:
        spec = MODELS[name]
    except KeyError:
        raise ValueError(MODELS.depth_error(name) or f"unknown model {name!r}; choose one "
                         f"of: {', '.join(MODELS)}, or a depth family's "
                         f"({', '.join(f.residual for f in FAMILIES.values())}, ...)") from None
    return spec.build(**kwargs)


__all__ = ["FAMILIES", "MODELS", "ModelFamily", "ModelRegistry", "ModelSpec", "family_of",
           "get_model", "LinearBase", "MLPBase", "ConvBase", "LeNet5", "LeNetStack",
           "ResNet1d", "BasicBlock1d", "CifarResNet", "BasicBlock", "ZeroPadShortcut"]
