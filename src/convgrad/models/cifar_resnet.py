"""The CIFAR-10 ResNets of He et al. 2016 ("Deep Residual Learning", §4.2), and their plain
twins.

    conv1 3×3, 16 channels, BN, ReLU                          32×32
    layer1: n BasicBlocks, 16 channels                         32×32
    layer2: n BasicBlocks, 32 channels (the first strides 2)   16×16
    layer3: n BasicBlocks, 64 channels (the first strides 2)    8×8
    global average pool, fc Linear(64, 10)

6n + 2 weighted layers: n = 3, 5, 7, 9, 18 give ResNet-20/32/44/56/110 (ResNet-20: 269,722
parameters).  A BasicBlock is ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` with
3×3 convolutions without bias (BatchNorm's shift plays that role), and the option-A
shortcut: identity, or stride-2 subsampling plus zero channels where the shape changes
(``shortcut.py``) — no parameters.  ``plain=True`` drops the "+ shortcut(x)": the same
parameters, the network the paper shows degrading as it gets deeper.

Convolution weights start from He initialisation (N(0, 2/fan_in), the paper's [13]);
BatchNorm starts as the identity; the classifier keeps PyTorch's default.
"""
from __future__ import annotations

from ..nn import (AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Identity, Linear, Module,
                  Sequential, init)
from .shortcut import ZeroPadShortcut


class BasicBlock(Module):
    """Two 3×3 conv–BN layers with a skip connection around them (unless ``plain``)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, plain: bool = False):
        super().__init__()
        self.conv1 = Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(channels)
        self.conv2 = Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = BatchNorm2d(channels)
        self.plain = plain
        if plain:
            self.shortcut = None
        elif stride == 1 and in_channels == channels:
            self.shortcut = Identity()
        else:
            self.shortcut = ZeroPadShortcut(in_channels, channels, stride, spatial=2)

    def forward(self, x):
        # relu(bn(·)) and relu(bn(·) + shortcut) each run as one fused operation
        # (BatchNorm.forward_relu; the same values as the separate layers).
        out = self.conv2(self.bn1.forward_relu(self.conv1(x)))
        shortcut = None if self.shortcut is None else self.shortcut(x)
        return self.bn2.forward_relu(out, shortcut)   # h = σ(F(h_prev) + h_prev)


class CifarResNet(Module):
    """ResNet-(6n+2) for 3×32×32 images; ``plain=True`` for the shortcut-free twin."""

    def __init__(self, depth: int = 20, num_classes: int = 10, plain: bool = False,
                 in_channels: int = 3, widths: tuple = (16, 32, 64)):
        super().__init__()
        if len(widths) != 3:
            raise ValueError(f"CifarResNet: widths must give the 3 stages' channels, got {widths}")
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(f"CifarResNet: depth must be 6n + 2 with n ≥ 1 (20, 32, 44, 56, "
                             f"110, ...), got depth={depth}")
        n = (depth - 2) // 6
        self.depth, self.plain = depth, plain   # which network this is, for whoever inspects it
        self.conv1 = Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = BatchNorm2d(widths[0])
        stages, channels = [], widths[0]
        for stage, width in enumerate(widths):
            blocks = []
            for index in range(n):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(BasicBlock(channels, width, stride, plain))
                channels = width
            stages.append(Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = AdaptiveAvgPool2d(1)
        self.fc = Linear(widths[-1], num_classes)
        for module in self.modules():
            if isinstance(module, Conv2d):
                init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        out = self.bn1.forward_relu(self.conv1(x))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = self.avgpool(out)
        return self.fc(out.flatten(1))
