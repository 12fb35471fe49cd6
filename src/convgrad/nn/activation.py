"""Activation layers: the non-linearity σ of the notes' ``h = σ(W h_prev)`` as modules.

ReLU, LeakyReLU, GELU, Sigmoid, Tanh, Softmax, LogSoftmax: thin wrappers over
``convgrad.functional`` (where the formulas and derivatives are), with PyTorch's
constructor arguments and reprs.
"""
from __future__ import annotations

from .. import functional as F
from .module import Module


class ReLU(Module):
    """``max(x, 0)``."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``x`` for x > 0, ``negative_slope·x`` otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                         else "")


class GELU(Module):
    """``x·Φ(x)`` (or its tanh approximation with ``approximate='tanh'``)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """``1 / (1 + e^−x)``."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """``tanh x``."""

    def forward(self, input):
        return F.tanh(input)


class Softmax(Module):
    """``e^x_i / Σ_j e^x_j`` along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        # _stacklevel 5: the implicit-dim warning skips softmax's caller (this forward, 3) and
        # Module.__call__ (4) to name the line that called the layer (5).
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``x_i − log Σ_j e^x_j`` along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim, _stacklevel=5)  # 5: as Softmax.forward

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
