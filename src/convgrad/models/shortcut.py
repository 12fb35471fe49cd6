"""The parameter-free ("option A") shortcut of He et al. 2016, §4.2.

A residual block computes ``h = σ(F(h_prev) + h_prev)`` — the notes' skip connection.  When a
block halves the resolution and doubles the channels, ``h_prev`` no longer has F's shape;
option A makes it fit without adding a single weight: keep every ``stride``-th position
(subsampling) and append zero channels, half before and half after the existing ones.
Because the shortcut has no parameters, removing it (the ``plain`` networks) keeps the
parameter count exactly.
"""
from __future__ import annotations

from .. import functional as F
from ..nn import Module


class ZeroPadShortcut(Module):
    """``x[..., ::s, ::s]`` padded with zero channels up to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, spatial: int = 2):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"ZeroPadShortcut: out_channels={out_channels} must be at least "
                             f"in_channels={in_channels} (it only adds zero channels)")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.spatial = spatial
        extra = out_channels - in_channels
        # F.pad lists (before, after) from the last dim: spatial dims untouched, then C.
        self._pad = (0, 0) * spatial + (extra // 2, extra - extra // 2)

    def forward(self, x):
        if self.stride != 1:
            x = x[(slice(None), slice(None)) + (slice(None, None, self.stride),) * self.spatial]
        if self.out_channels != self.in_channels:
            x = F.pad(x, self._pad)
        return x

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"
