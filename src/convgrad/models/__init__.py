"""``convgrad.models``: the networks of the course, by name.

``get_model(name, **kwargs)`` builds one; ``MODELS[name]`` describes it (``input_shape``
without the batch dim, the dataset it is meant for, a one-line description).

    MNIST-1D (input (1, 40)): logistic, mlp, cnn (the paper's three), resnet1d, plain1d
    MNIST (1×28×28):          lenet5
    8×8 digits (1×8×8):       lenet5-small
    CIFAR-10 (3×32×32):       resnet20/32/44/56/110 and plain20/32/44/56/110
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .cifar_resnet import BasicBlock, CifarResNet
from .lenet import LeNet5
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


MODELS: dict[str, ModelSpec] = _specs()


def get_model(name: str, **kwargs):
    """A new model by registry name (kwargs go to its constructor, e.g. ``num_classes``)."""
    spec = MODELS.get(name)
    if spec is None:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return spec.build(**kwargs)


__all__ = ["MODELS", "ModelSpec", "get_model", "LinearBase", "MLPBase", "ConvBase", "LeNet5",
           "ResNet1d", "BasicBlock1d", "CifarResNet", "BasicBlock", "ZeroPadShortcut"]
