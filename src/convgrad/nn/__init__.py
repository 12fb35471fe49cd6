"""``convgrad.nn``: PyTorch's ``torch.nn`` — modules, layers, containers, losses, init.

>>> import convgrad.nn as nn
>>> nn.Conv1d(1, 25, 5, stride=2, padding=1)
Conv1d(1, 25, kernel_size=(5,), stride=(2,), padding=(1,))
"""
from . import functional, init
from .activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .dropout import Dropout
from .flatten import Flatten
from .identity import Identity
from .linear import Linear
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d,
                      MaxPool2d)

__all__ = [
    "functional", "init", "Module", "Parameter",
    "Sequential", "ModuleList",
    "Linear", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "BatchNorm1d", "BatchNorm2d",
    "ReLU", "LeakyReLU", "GELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "Dropout", "Flatten", "Identity",
    "CrossEntropyLoss", "NLLLoss", "MSELoss",
]
