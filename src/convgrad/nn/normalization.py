"""``BatchNorm1d`` / ``BatchNorm2d``: per-channel normalisation with learned scale and shift.

    y = γ·(x − μ)/√(σ² + ε) + β        (per channel; γ = weight, β = bias)

Training uses the batch's statistics and updates the running ones (buffers ``running_mean``,
``running_var`` and the int64 counter ``num_batches_tracked``, the same keys as PyTorch's
state dict); evaluation uses the running ones.  ``momentum=None`` makes the running
statistics a plain cumulative average: momentum 1/num_batches_tracked at each batch.
The arithmetic is ``F.batch_norm``'s.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import increment_version
from ..tensor import Tensor, int64
from . import init
from .module import Module, empty_parameter, factory_dtype


class _BatchNorm(Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        dtype = factory_dtype(dtype, device)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = empty_parameter((num_features,), dtype)
            if bias:
                self.bias = empty_parameter((num_features,), dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._wrap(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor._wrap(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor._wrap(np.zeros((), int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input) -> None:
        raise NotImplementedError

    def forward(self, input):
        return F.batch_norm(input, *self._functional_arguments(input))

    def forward_relu(self, input, residual=None):
        """``relu(self(input) + residual)`` (``residual`` optional): the end of a residual
        block's convolution, by the fused ``F.batch_norm_relu`` — one graph node, fewer
        passes.  With forward hooks registered on this layer it runs the three operations
        instead, so that the hooks see this layer's own output, as they would unfused."""
        if self._forward_hooks:
            out = self(input)
            return F.relu(out if residual is None else out + residual)
        return F.batch_norm_relu(input, *self._functional_arguments(input), residual=residual)

    def _functional_arguments(self, input) -> tuple:
        """``F.batch_norm``'s arguments after the input, for this layer and mode; counts the
        batch in ``num_batches_tracked`` when training."""
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            # num_batches_tracked.add_(1), written directly: a buffer outside any graph, so
            # the in-place machinery has nothing to record but the version.
            self.num_batches_tracked.data += 1
            increment_version(self.num_batches_tracked)
            if self.momentum is None:      # cumulative average of every batch so far
                factor = 1.0 / float(self.num_batches_tracked.data)
        # Batch statistics when training, or in eval mode when there are no running ones.
        use_batch_stats = self.training or (self.running_mean is None
                                            and self.running_var is None)
        track = not self.training or self.track_running_stats
        return (self.running_mean if track else None, self.running_var if track else None,
                self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, statistics per channel C."""

    def _check_input_dim(self, input) -> None:
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input of shape "
                             f"{tuple(input.shape)}): BatchNorm1d takes (N, C) or (N, C, L)")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, statistics per channel C."""

    def _check_input_dim(self, input) -> None:
        if input.ndim != 4:
            raise ValueError(f"expected 4D input (got {input.ndim}D input of shape "
                             f"{tuple(input.shape)}): BatchNorm2d takes (N, C, H, W)")
