"""LeNet's shape made deep, for 8×8 digits: two stages of 3×3 convolutions, each followed
by 2×2 max pooling, and a linear classifier — with or without shortcuts.

    stem    Conv2d(1, 16, 3, padding=1, no bias), BN, ReLU            8×8
    stage1  n BasicBlocks, 16 channels, then MaxPool2d(2)              8×8 → 4×4
    stage2  n BasicBlocks, 32 channels (the first widens 16 → 32),
            then MaxPool2d(2)                                          4×4 → 2×2
    fc      Linear(32·2·2 = 128, 10)

A BasicBlock holds two conv–BN layers (``cifar_resnet.py``), so the network has
1 + 4n + 1 = 4n + 2 weighted layers: 6, 10, 14, 18, ...  Where a block widens the channels
its shortcut is option A (zero channels, no parameters), so ``plain=True`` drops every
shortcut and keeps every parameter: the pair the depth study compares.
"""
from __future__ import annotations

from .. import functional as F
from ..nn import BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, Sequential, init
from .cifar_resnet import BasicBlock


class LeNetStack(Module):
    """LeNet-like stack of ``depth = 4n + 2`` weighted layers for 1×8×8 images."""

    def __init__(self, depth: int = 10, num_classes: int = 10, plain: bool = False,
                 in_channels: int = 1, widths: tuple = (16, 32)):
        super().__init__()
        if depth < 6 or (depth - 2) % 4 != 0:
            raise ValueError(f"LeNetStack: depth must be 4n + 2 with n ≥ 1 (6, 10, 14, ...), "
                             f"got depth={depth}")
        n = (depth - 2) // 4
        self.depth, self.plain = depth, plain
        self.conv1 = Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = BatchNorm2d(widths[0])
        stages, channels = [], widths[0]
        for width in widths:
            blocks = []
            for _ in range(n):
                blocks.append(BasicBlock(channels, width, 1, plain))
                channels = width
            stages.append(Sequential(*blocks))
        self.stage1, self.stage2 = stages
        self.pool = MaxPool2d(2)
        self.fc = Linear(widths[-1] * 2 * 2, num_classes)
        for module in self.modules():
            if isinstance(module, Conv2d):
                init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.pool(self.stage1(out))
        out = self.pool(self.stage2(out))
        return self.fc(out.flatten(1))
