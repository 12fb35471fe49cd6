"""Batch normalisation: ``F.batch_norm`` with PyTorch's running-statistics rules.

Training normalises each channel with this batch's mean and biased variance, then updates
the running statistics in place (they are buffers, not graph inputs):
    running_mean ← (1 − momentum)·running_mean + momentum·μ_batch
    running_var  ← (1 − momentum)·running_var  + momentum·σ²_batch · m/(m − 1)   (unbiased)
with m = N·∏spatial values per channel.  Evaluation normalises with the running statistics.

``momentum`` must be a number here, exactly as in ``torch.nn.functional.batch_norm`` (PyTorch
raises TypeError for None).  The cumulative average of ``nn.BatchNorm*(momentum=None)`` is the
module's business: it counts ``num_batches_tracked`` and calls this function with
``momentum = 1/num_batches_tracked``, which makes the running statistics the plain average
of every batch seen so far.
The fused arithmetic lives in ``kernels/norm.py``; ``batch_norm_relu`` is convgrad's fused
``relu(batch_norm(x) + residual)``, the end of every convolution in a residual block.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..kernels import norm as _kernel
from ..ops import unary as _unary
from ..tensor import Tensor, from_op


def _check_parameter(name: str, value, channels: int, dtype, must_be_vector: bool) -> None:
    if value is None:
        return
    if value.data.size != channels or (must_be_vector and value.ndim != 1):
        raise RuntimeError(
            f"batch_norm: {name} should contain {channels} elements (one per channel, "
            f"C = input.shape[1] = {channels}) but has shape {tuple(value.shape)} "
            f"({value.data.size} elements)"
        )
    if value.dtype != dtype:
        raise RuntimeError(
            f"batch_norm: {name} has dtype {value.dtype} but the input has dtype {dtype}; "
            f"all inputs must share one dtype"
        )


def _check(input, running_mean, running_var, weight, bias, training, momentum, eps) -> None:
    if momentum is None or not isinstance(momentum, numbers.Real):
        raise TypeError(
            f"batch_norm: momentum must be a float, got {momentum!r}; for the cumulative "
            f"average (nn.BatchNorm's momentum=None) pass momentum=1/num_batches_tracked"
        )
    if training:
        _check_batch_size(input.shape)
    if (running_mean is None) != (running_var is None):
        which = "running_mean" if running_mean is None else "running_var"
        if not training:
            raise RuntimeError(f"batch_norm: {which} must be defined in evaluation mode")
        raise ValueError(
            "batch_norm: running_mean and running_var must either both be None or neither be "
            f"None, but {which} is None"
        )
    if not training and running_mean is None:
        raise RuntimeError(
            "batch_norm: running_mean and running_var must be defined in evaluation mode "
            "(training=False normalises with the running statistics)"
        )
    if input.ndim < 2:
        _check_without_channels(input, running_mean, running_var, weight, bias)
        return
    channels = input.shape[1]
    for name, value, vector in (("running_mean", running_mean, True),
                                ("running_var", running_var, True),
                                ("weight", weight, False), ("bias", bias, False)):
        _check_parameter(name, value, channels, input.dtype, vector)
    if training:
        if eps <= 0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")


def _check_batch_size(shape: tuple) -> None:
    """Training needs more than one value per channel (PyTorch checks this first)."""
    if not shape:
        raise IndexError("batch_norm: a 0-d input has no batch dim (tuple index out of range); "
                         "expected an input of shape (N, C, ...)")
    per_channel = shape[0] * math.prod(shape[2:])
    if per_channel == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size "
            f"{tuple(shape)}: each channel has N·∏spatial = 1 value, whose variance is "
            f"undefined"
        )


def _check_without_channels(input, running_mean, running_var, weight, bias) -> None:
    """An input of fewer than 2 dims has no channel dim: PyTorch normalises it only when it is
    empty (giving an empty result); otherwise any per-channel tensor must have 0 elements
    (RuntimeError) and then reading the channel dim fails (IndexError)."""
    if input.data.size == 0:
        return
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        if value is not None and value.data.size != 0:
            raise RuntimeError(
                f"batch_norm: {name} should contain 0 elements not {value.data.size}: an "
                f"input of shape {tuple(input.shape)} has no channel dim (expected (N, C, ...))"
            )
    raise IndexError(
        f"batch_norm: Dimension out of range (expected to be in range of [-1, 0], but got 1): "
        f"an input of shape {tuple(input.shape)} has no channel dim 1; expected (N, C, ...)"
    )


def _vector(t: Tensor | None):
    """A parameter's data as a (C,) array (PyTorch accepts any shape with C elements)."""
    return None if t is None else t.data.reshape(-1)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """``y = γ·(x − μ)/√(σ² + ε) + β`` per channel of an (N, C), (N, C, L) or (N, C, H, W) input.

    Gradients (see ``kernels/norm.py``): training ∂L/∂x = (γ/σ)/m·(m·g − Σg − x̂·Σ g·x̂);
    evaluation ∂L/∂x = g·γ/σ; both ∂L/∂γ = Σ g·x̂ and ∂L/∂β = Σ g.
    """
    _check(input, running_mean, running_var, weight, bias, training, momentum, eps)
    return _normalise(input, running_mean, running_var, weight, bias, training, momentum, eps,
                      None, False)


def batch_norm_relu(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                    weight: Tensor | None = None, bias: Tensor | None = None,
                    training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
                    residual: Tensor | None = None) -> Tensor:
    """``relu(batch_norm(input, ...) + residual)`` as one operation (``residual`` optional).

    convgrad's fused form of what ends every convolution of a residual block (He et al.
    2016: ``h = σ(F(h_prev) + h_prev)``): the same values and gradients as the three
    operations (tested against PyTorch's), in one graph node and fewer passes over the
    activations (``kernels/norm.py``).  It saves what the three would: the input, γ and
    the running statistics (batch norm's), and its output (ReLU's); changing any of them in
    place before the backward pass makes it raise, as PyTorch's would.
    """
    _check(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if residual is not None and (not isinstance(residual, Tensor)
                                 or residual.shape != input.shape
                                 or residual.dtype != input.dtype):
        raise RuntimeError(
            f"batch_norm_relu: residual must be a Tensor of the input's shape "
            f"{tuple(input.shape)} and dtype {input.dtype}, got "
            + (f"shape {tuple(residual.shape)} and dtype {residual.dtype}"
               if isinstance(residual, Tensor) else type(residual).__name__))
    if input.data.size == 0:
        out = _normalise(input, running_mean, running_var, weight, bias, training, momentum,
                         eps, None, False)
        return _unary.relu(out if residual is None else out + residual)
    return _normalise(input, running_mean, running_var, weight, bias, training, momentum, eps,
                      residual, True)


def _normalise(input, running_mean, running_var, weight, bias, training, momentum, eps,
               residual, relu: bool) -> Tensor:
    """batch_norm (then ``+ residual`` and ReLU when ``relu``), its arguments checked."""
    gamma, beta = _vector(weight), _vector(bias)
    # What PyTorch saves for the backward (running statistics included, even in training),
    # when its batch norm is part of the graph at all (a residual may be the only input
    # that needs a gradient: then only the ReLU's output is saved).
    norm_in_graph = any(t is not None and t.requires_grad for t in (input, weight, bias))
    saved = (input, weight, running_mean, running_var) if norm_in_graph else ()
    if input.data.size == 0:
        # An empty batch: nothing to normalise, no statistics to learn from; γ and β get
        # zero gradients (as PyTorch).
        def empty_backward(g):
            return g, *(None if p is None else np.zeros_like(p.data) for p in (weight, bias))

        return from_op(input.data.copy(), (input, weight, bias), empty_backward,
                       "NativeBatchNormBackward0", saved=saved)
    extra = None if residual is None else residual.data
    if training:
        out, cache = _kernel.batch_norm_train_forward(input.data, gamma, beta, eps, extra, relu)
        if running_mean is not None:
            # Written behind the version counters' back, as PyTorch's kernel does: updating
            # the running statistics is not an in-place operation a backward could observe.
            unbiased = cache.var * input.dtype.type(cache.count / (cache.count - 1))
            running_mean.data[...] = ((1 - momentum) * running_mean.data
                                      + momentum * cache.mean.reshape(running_mean.shape))
            running_var.data[...] = ((1 - momentum) * running_var.data
                                     + momentum * unbiased.reshape(running_var.shape))
    else:
        out, cache = _kernel.batch_norm_eval_forward(input.data, running_mean.data,
                                                     running_var.data, gamma, beta, eps,
                                                     extra, relu)

    def backward(g):
        needs = (input.requires_grad, weight is not None and weight.requires_grad,
                 bias is not None and bias.requires_grad)
        dx, dgamma, dbeta, dy = _kernel.batch_norm_backward(g, cache, needs)
        return (dx,
                None if dgamma is None else dgamma.reshape(weight.shape),
                None if dbeta is None else dbeta.reshape(bias.shape),
                dy)     # the residual's (dropped by the graph when there is none)

    return from_op(out, (input, weight, bias, residual), backward,
                   "BatchNormReluBackward0" if relu else "NativeBatchNormBackward0",
                   saved=saved, save_output=relu)
