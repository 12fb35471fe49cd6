"""``Identity``: returns its input; a placeholder where a layer is optional (a shortcut
that needs no projection, a removed classifier head)."""
from __future__ import annotations

from .module import Module


class Identity(Module):
    def __init__(self, *args, **kwargs):
        # PyTorch accepts and ignores any arguments, so Identity can stand in for any layer.
        super().__init__()

    def forward(self, input):
        return input
