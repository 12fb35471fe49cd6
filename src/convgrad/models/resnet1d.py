"""A 1-D residual network for sequences such as MNIST-1D: the CIFAR ResNet's design with
Conv1d and BatchNorm1d.

    stem    Conv1d(1, 16, 3, padding=1, no bias), BN, ReLU          length 40
    layer1  n BasicBlock1d, 16 channels                              40
    layer2  n BasicBlock1d, 32 channels (the first strides 2)        20
    layer3  n BasicBlock1d, 64 channels (the first strides 2)        10
    global average pool over the length, fc Linear(64, 10)

Shortcuts are option A (stride-2 subsampling and zero channels; no parameters), so
``plain=True`` removes them and keeps every parameter.  With the default n = 2 there are
6n + 2 = 14 weighted layers and 58,458 parameters.  Like the paper's ConvBase, the forward
pass accepts (N, L) or (N, 1, L).
"""
from __future__ import annotations

from ..nn import AdaptiveAvgPool1d, BatchNorm1d, Conv1d, Identity, Linear, Module, Sequential, init
from .shortcut import ZeroPadShortcut


class BasicBlock1d(Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` with 1-D 3-tap convolutions."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, plain: bool = False):
        super().__init__()
        self.conv1 = Conv1d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm1d(channels)
        self.conv2 = Conv1d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = BatchNorm1d(channels)
        if plain:
            self.shortcut = None
        elif stride == 1 and in_channels == channels:
            self.shortcut = Identity()
        else:
            self.shortcut = ZeroPadShortcut(in_channels, channels, stride, spatial=1)

    def forward(self, x):
        # relu(bn(·)) and relu(bn(·) + shortcut) each run as one fused operation
        # (BatchNorm.forward_relu; the same values as the separate layers).
        out = self.conv2(self.bn1.forward_relu(self.conv1(x)))
        shortcut = None if self.shortcut is None else self.shortcut(x)
        return self.bn2.forward_relu(out, shortcut)   # h = σ(F(h_prev) + h_prev)


class ResNet1d(Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, blocks: int = 2,
                 widths: tuple = (16, 32, 64), plain: bool = False):
        super().__init__()
        if len(widths) != 3:
            raise ValueError(f"ResNet1d: widths must give the 3 stages' channels, got {widths}")
        if blocks < 1:
            raise ValueError(f"ResNet1d: blocks per stage must be at least 1, got {blocks}")
        self.in_channels = in_channels
        self.plain = plain
        self.conv1 = Conv1d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = BatchNorm1d(widths[0])
        stages, channels = [], widths[0]
        for stage, width in enumerate(widths):
            layer = []
            for index in range(blocks):
                stride = 2 if stage > 0 and index == 0 else 1
                layer.append(BasicBlock1d(channels, width, stride, plain))
                channels = width
            stages.append(Sequential(*layer))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = AdaptiveAvgPool1d(1)
        self.fc = Linear(widths[-1], num_classes)
        for module in self.modules():
            if isinstance(module, Conv1d):
                init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        x = x.view(-1, self.in_channels, x.shape[-1])
        out = self.bn1.forward_relu(self.conv1(x))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.fc(self.avgpool(out).flatten(1))
