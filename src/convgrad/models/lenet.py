"""LeNet-5 in its modern form (LeCun et al. 1998, with ReLU and max pooling in place of the
scaled tanh and trainable sub-sampling), for 1×28×28 digits:

    features.conv1   Conv2d(1, 6, 5, padding=2)    → 6×28×28      156 parameters
    features.relu1, features.pool1 MaxPool2d(2)    → 6×14×14
    features.conv2   Conv2d(6, 16, 5)              → 16×10×10   2,416
    features.relu2, features.pool2 MaxPool2d(2)    → 16×5×5
    classifier.flatten                             → 400
    classifier.fc1   Linear(400, 120), ReLU                    48,120
    classifier.fc2   Linear(120, 84), ReLU                     10,164
    classifier.fc3   Linear(84, 10)                               850
                                                       total   61,706

``LeNet5.small()`` is the same network for scikit-learn's 8×8 digits: 3×3 kernels with
padding 1 (8×8 → 4×4 → 2×2), so the classifier reads 16·2·2 = 64 features (19,754
parameters).
"""
from __future__ import annotations

from collections import OrderedDict

from ..nn import Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential


class LeNet5(Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                 kernel_size: int = 5, padding: int = 2, conv2_padding: int = 0):
        super().__init__()
        # Spatial size after each conv (⌊(L + 2p − k)/1⌋ + 1) and 2×2 pool (⌊L/2⌋).
        size = (input_size + 2 * padding - kernel_size + 1) // 2
        size = (size + 2 * conv2_padding - kernel_size + 1) // 2
        if size < 1:
            raise ValueError(f"LeNet5: an input of {input_size}×{input_size} is too small for "
                             f"{kernel_size}×{kernel_size} kernels (feature map would be "
                             f"{size}×{size})")
        self.features = Sequential(OrderedDict([
            ("conv1", Conv2d(in_channels, 6, kernel_size, padding=padding)),
            ("relu1", ReLU()),
            ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(6, 16, kernel_size, padding=conv2_padding)),
            ("relu2", ReLU()),
            ("pool2", MaxPool2d(2)),
        ]))
        self.classifier = Sequential(OrderedDict([
            ("flatten", Flatten()),
            ("fc1", Linear(16 * size * size, 120)),
            ("relu3", ReLU()),
            ("fc2", Linear(120, 84)),
            ("relu4", ReLU()),
            ("fc3", Linear(84, num_classes)),
        ]))

    @classmethod
    def small(cls, num_classes: int = 10) -> "LeNet5":
        """The variant for 1×8×8 inputs (scikit-learn's digits)."""
        return cls(num_classes, input_size=8, kernel_size=3, padding=1, conv2_padding=1)

    def forward(self, x):
        return self.classifier(self.features(x))
