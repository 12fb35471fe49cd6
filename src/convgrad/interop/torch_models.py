"""The models of ``convgrad.models`` written in PyTorch: the same layers under the same
attribute names, so state dicts move between the two unchanged (``interop.torch``).

Side by side with ``convgrad/models/`` this is also the notes' "PyTorch example": the
convgrad code and the PyTorch code are line for line the same network.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import MODELS, family_of


class LinearBase(nn.Module):
    def __init__(self, input_size=40, output_size=10):
        super().__init__()
        self.linear = nn.Linear(input_size, output_size)

    def forward(self, x):
        return self.linear(x.reshape(x.shape[0], -1) if x.dim() > 2 else x)


class MLPBase(nn.Module):
    def __init__(self, input_size=40, output_size=10, hidden_size=100):
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden_size)
        self.linear2 = nn.Linear(hidden_size, hidden_size)
        self.linear3 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        if x.dim() > 2:
            x = x.reshape(x.shape[0], -1)
        h = F.relu(self.linear1(x))
        h = h + F.relu(self.linear2(h))
        return self.linear3(h)


class ConvBase(nn.Module):
    def __init__(self, output_size=10, channels=25, linear_in=125):
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.linear = nn.Linear(linear_in, output_size)

    def forward(self, x):
        x = x.view(-1, 1, x.shape[-1])
        h = F.relu(self.conv3(F.relu(self.conv2(F.relu(self.conv1(x))))))
        return self.linear(h.view(h.shape[0], -1))


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, input_size=28, kernel_size=5, padding=2,
                 conv2_padding=0):
        super().__init__()
        size = (input_size + 2 * padding - kernel_size + 1) // 2
        size = (size + 2 * conv2_padding - kernel_size + 1) // 2
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 6, kernel_size, padding=padding)),
            ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(6, 16, kernel_size, padding=conv2_padding)),
            ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2))]))
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()), ("fc1", nn.Linear(16 * size * size, 120)),
            ("relu3", nn.ReLU()), ("fc2", nn.Linear(120, 84)), ("relu4", nn.ReLU()),
            ("fc3", nn.Linear(84, num_classes))]))

    def forward(self, x):
        return self.classifier(self.features(x))


class ZeroPadShortcut(nn.Module):
    def __init__(self, in_channels, out_channels, stride, spatial=2):
        super().__init__()
        extra = out_channels - in_channels
        self.index = (slice(None), slice(None)) + (slice(None, None, stride),) * spatial
        self.pad = (0, 0) * spatial + (extra // 2, extra - extra // 2)

    def forward(self, x):
        return F.pad(x[self.index], self.pad)


class BasicBlock(nn.Module):
    def __init__(self, in_channels, channels, stride=1, plain=False, spatial=2):
        super().__init__()
        conv, bn = (nn.Conv2d, nn.BatchNorm2d) if spatial == 2 else (nn.Conv1d, nn.BatchNorm1d)
        self.conv1 = conv(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = bn(channels)
        self.conv2 = conv(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = bn(channels)
        if plain:
            self.shortcut = None
        elif stride == 1 and in_channels == channels:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = ZeroPadShortcut(in_channels, channels, stride, spatial)

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    """CIFAR ResNet-(6n+2) (spatial=2) or the 1-D ResNet (spatial=1)."""

    def __init__(self, blocks, num_classes=10, plain=False, in_channels=3, spatial=2,
                 widths=(16, 32, 64)):
        super().__init__()
        conv, bn = (nn.Conv2d, nn.BatchNorm2d) if spatial == 2 else (nn.Conv1d, nn.BatchNorm1d)
        self.spatial, self.in_channels = spatial, in_channels
        self.conv1 = conv(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = bn(widths[0])
        stages, channels = [], widths[0]
        for stage, width in enumerate(widths):
            layer = []
            for index in range(blocks):
                stride = 2 if stage > 0 and index == 0 else 1
                layer.append(BasicBlock(channels, width, stride, plain, spatial))
                channels = width
            stages.append(nn.Sequential(*layer))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1) if spatial == 2 else nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        if self.spatial == 1:
            x = x.view(-1, self.in_channels, x.shape[-1])
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.fc(torch.flatten(self.avgpool(out), 1))


class LeNetStack(nn.Module):
    """convgrad.models.LeNetStack: depth 4n + 2, two stages of BasicBlocks and max pooling."""

    def __init__(self, depth, num_classes=10, plain=False, in_channels=1, widths=(16, 32)):
        super().__init__()
        n = (depth - 2) // 4
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages, channels = [], widths[0]
        for width in widths:
            blocks = []
            for _ in range(n):
                blocks.append(BasicBlock(channels, width, 1, plain))
                channels = width
            stages.append(nn.Sequential(*blocks))
        self.stage1, self.stage2 = stages
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(widths[-1] * 2 * 2, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.pool(self.stage1(out))
        return self.fc(torch.flatten(self.pool(self.stage2(out)), 1))


# A depth family's networks (convgrad.models.FAMILIES), by family name.
FAMILY_BUILDERS = {
    "resnet1d": lambda depth, plain, **kw: ResNet((depth - 2) // 6, plain=plain, spatial=1,
                                                  in_channels=kw.pop("in_channels", 1), **kw),
    "cifar": lambda depth, plain, **kw: ResNet((depth - 2) // 6, plain=plain, **kw),
    "lenet": lambda depth, plain, **kw: LeNetStack(depth, plain=plain, **kw),
}


def build(name: str, **kwargs) -> nn.Module:
    """The PyTorch model for a ``convgrad.models`` registry name (a depth family's too)."""
    found = family_of(name) if name in MODELS else None
    if found is not None:
        family, depth, residual = found
        return FAMILY_BUILDERS[family.name](depth, not residual, **kwargs)
    builders = {
        "logistic": lambda: LinearBase(**kwargs),
        "mlp": lambda: MLPBase(**kwargs),
        "cnn": lambda: ConvBase(**kwargs),
        "lenet5": lambda: LeNet5(**kwargs),
        "lenet5-small": lambda: LeNet5(input_size=8, kernel_size=3, padding=1, conv2_padding=1,
                                       **kwargs),
        "resnet1d": lambda: ResNet(kwargs.pop("blocks", 2), spatial=1,
                                   in_channels=kwargs.pop("in_channels", 1), **kwargs),
        "plain1d": lambda: ResNet(kwargs.pop("blocks", 2), spatial=1, plain=True,
                                  in_channels=kwargs.pop("in_channels", 1), **kwargs),
    }
    for depth in (20, 32, 44, 56, 110):
        builders[f"resnet{depth}"] = lambda d=depth: ResNet((d - 2) // 6, **kwargs)
        builders[f"plain{depth}"] = lambda d=depth: ResNet((d - 2) // 6, plain=True, **kwargs)
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(builders)}")
    return builders[name]()
