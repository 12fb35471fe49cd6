"""The three baselines of the MNIST-1D paper (Greydanus 2020), exactly as its code defines
them: same layers, same attribute names (so their state dicts load into the paper's PyTorch
classes), same forward passes.

    LinearBase  logistic regression   Linear(40, 10)                                 410
    MLPBase     40 → 100 → 100 → 10, ReLU                                        15,210
    ConvBase    Conv1d 1→25 k5 s2 p1, 25→25 k3 s2 p1, 25→25 k3 s2 p1 (ReLU each),
                flatten 25·5 = 125, Linear(125, 10)                                5,210

The paper's MLP adds its second hidden layer to the first (``h = h + relu(W₂h + b₂)``): a
residual connection, kept here because "exactly" means the same function.  The CNN's three
convolutions together hold 150 + 1,900 + 1,900 = 3,950 weights; a dense layer from the
40 inputs to its first 25×19 feature map alone would need 40·475 = 19,000 — the notes'
size(kernel) against d1·d2.
"""
from __future__ import annotations

from .. import functional as F
from ..nn import Conv1d, Linear, Module


class LinearBase(Module):
    """Logistic regression: one Linear layer from the signal to the class scores."""

    def __init__(self, input_size: int = 40, output_size: int = 10):
        super().__init__()
        self.linear = Linear(input_size, output_size)

    def forward(self, x):
        return self.linear(x.reshape(x.shape[0], -1) if x.ndim > 2 else x)


class MLPBase(Module):
    """Two hidden layers of ``hidden_size`` with ReLU; the second is added to the first."""

    def __init__(self, input_size: int = 40, output_size: int = 10, hidden_size: int = 100):
        super().__init__()
        self.linear1 = Linear(input_size, hidden_size)
        self.linear2 = Linear(hidden_size, hidden_size)
        self.linear3 = Linear(hidden_size, output_size)

    def forward(self, x):
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        h = F.relu(self.linear1(x))
        h = h + F.relu(self.linear2(h))
        return self.linear3(h)


class ConvBase(Module):
    """Three strided 1-D convolutions (length 40 → 19 → 10 → 5) and a linear classifier.

    Accepts (N, L) or (N, 1, L): the input is viewed as ``x.view(-1, 1, L)``, as the paper.
    """

    def __init__(self, output_size: int = 10, channels: int = 25, linear_in: int = 125):
        super().__init__()
        self.conv1 = Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = Conv1d(channels, channels, 3, stride=2, padding=1)
        self.linear = Linear(linear_in, output_size)

    def forward(self, x):
        x = x.view(-1, 1, x.shape[-1])
        h1 = F.relu(self.conv1(x))
        h2 = F.relu(self.conv2(h1))
        h3 = F.relu(self.conv3(h2))
        return self.linear(h3.view(h3.shape[0], -1))
