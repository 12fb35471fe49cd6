"""conv1d, conv2d, conv_transpose1d, conv_transpose2d: PyTorch's signatures on convgrad Tensors.

Each function checks its arguments (``shapes.py``: PyTorch's exception classes, messages with
the numbers), adds a batch axis to an unbatched input, and runs the NumPy kernels through
``tensor.from_op``: a convolution by the route ``kernels/conv_routes.py`` picks (the
formulas are in the reference, ``kernels/conv.py``), a transposed convolution by
``kernels/conv_transpose.py``.  The backward pass computes only the gradients some input
needs: a network's first convolution, whose input needs no gradient, skips ∂L/∂x entirely.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import shapes
from ..autograd import is_grad_enabled
from ..kernels import conv_routes as _routes
from ..kernels import conv_transpose as _transpose
from ..tensor import Tensor, from_op
from .torch_errors import torch_errors


def _check_tensors(op: str, input, weight, bias) -> None:
    """Tensors of one dtype, as PyTorch requires (it never promotes inside a convolution)."""
    for name, value in (("input", input), ("weight", weight), ("bias", bias)):
        if not isinstance(value, Tensor) and not (name == "bias" and value is None):
            raise TypeError(f"{op}: {name} must be a convgrad Tensor"
                            + (" or None" if name == "bias" else "")
                            + f", got {type(value).__name__}")
    if input.dtype == np.bool_:
        raise NotImplementedError(f"{op}: convolution is not implemented for bool tensors "
                                  f"(input has dtype bool); convert to a float dtype first")
    if weight.dtype != input.dtype:
        raise RuntimeError(f"{op}: input and weight must have the same dtype, got input "
                           f"{input.dtype} and weight {weight.dtype}")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"{op}: bias must have the input's dtype, got input {input.dtype} "
                           f"and bias {bias.dtype}")


def _bias_shape(bias) -> tuple | None:
    return None if bias is None else tuple(bias.shape)


def _differentiable(spatial: int, input: Tensor, weight: Tensor, bias, forward, backward,
                    name: str) -> Tensor:
    """Run ``forward(x) -> (y, cache)`` on a batched view and wire ``backward`` into the graph.

    An unbatched input (C, *L) runs as a batch of one; its output and gradient drop that axis.
    """
    unbatched = input.ndim == spatial + 1
    x = input.data[None] if unbatched else input.data
    y, cache = forward(x)

    def backward_fn(grad):
        g = grad[None] if unbatched else grad
        dx, dw, db = backward(g, cache, need_input=input.requires_grad,
                              need_weight=weight.requires_grad,
                              need_bias=bias is not None and bias.requires_grad)
        if dx is not None and unbatched:
            dx = dx[0]
        return dx, dw, db

    return from_op(y[0] if unbatched else y, (input, weight, bias), backward_fn, name,
                   saved=(input, weight))


def _checked_arguments(op: str, spatial: int, input_shape, weight_shape, bias_shape, stride,
                       padding, dilation, groups) -> shapes.ConvArguments:
    """``shapes.conv_arguments`` with PyTorch's exception classes; remembered for arguments
    seen before (a network's layers ask the same question at every step) when they are plain
    ints, tuples of ints and strings — never a bool, a float or a list, whose errors a cache
    keyed on equal values (True == 1) could hide."""
    arguments = (op, spatial, tuple(input_shape), tuple(weight_shape), bias_shape, stride,
                 padding, dilation, groups)
    if all(_plain(value) for value in arguments):
        return _remembered_arguments(*arguments)
    with torch_errors():
        return shapes.conv_arguments(*arguments)


def _plain(value) -> bool:
    kind = type(value)
    return (value is None or kind is int or kind is str
            or (kind is tuple and all(type(item) is int for item in value)))


@functools.lru_cache(maxsize=512)
def _remembered_arguments(*arguments) -> shapes.ConvArguments:
    with torch_errors():
        return shapes.conv_arguments(*arguments)


def _conv(op: str, spatial: int, input, weight, bias, stride, padding, dilation, groups):
    _check_tensors(op, input, weight, bias)
    args = _checked_arguments(op, spatial, input.shape, weight.shape, _bias_shape(bias), stride,
                              padding, dilation, groups)
    # The window matrix is kept for ∂L/∂w only when a weight gradient can be asked for.
    keep_cols = is_grad_enabled() and weight.requires_grad

    def forward(x):
        return _routes.conv_forward(x, weight.data, None if bias is None else bias.data,
                                    args.stride, args.padding, args.dilation, args.groups,
                                    keep_cols=keep_cols)

    backward = _routes.conv_backward
    if input.shape[-spatial - 1] == 0:
        forward, backward = _no_input_channels(args.out_size, weight, bias)
    return _differentiable(spatial, input, weight, bias, forward, backward,
                           "ConvolutionBackward0")


def _no_input_channels(out_size: tuple, weight: Tensor, bias):
    """PyTorch's convolution of an input with no channels: an empty (N, 0, *out) result (not
    C_out channels of bias).  Nothing flows back, so every gradient is zero."""
    def forward(x):
        return np.zeros(x.shape[:2] + tuple(out_size), dtype=x.dtype), x.shape

    def backward(g, input_shape, need_input, need_weight, need_bias):
        grads = (np.zeros(input_shape, g.dtype), np.zeros(weight.shape, g.dtype),
                 None if bias is None else np.zeros(bias.shape, g.dtype))
        return tuple(grad if need else None
                     for grad, need in zip(grads, (need_input, need_weight, need_bias)))

    return forward, backward


def _conv_transpose(op: str, spatial: int, input, weight, bias, stride, padding,
                    output_padding, groups, dilation):
    _check_tensors(op, input, weight, bias)
    if input.dtype.kind in "iu" and input.dtype != np.int64:
        # PyTorch's CPU transposed convolution exists for floats and int64 only.
        raise NotImplementedError(f"{op}: not implemented for integer dtype {input.dtype} "
                                  f"(only floating point and int64 inputs)")
    with torch_errors():
        args = shapes.conv_transpose_arguments(op, spatial, input.shape, weight.shape,
                                               _bias_shape(bias), stride, padding,
                                               output_padding, groups, dilation)

    def forward(x):
        return _transpose.conv_transpose_forward(
            x, weight.data, None if bias is None else bias.data, args.stride, args.padding,
            args.output_padding, args.dilation, args.groups)

    return _differentiable(spatial, input, weight, bias, forward,
                           _transpose.conv_transpose_backward, "ConvolutionBackward0")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution (the notes' ``(x ⋆ w)[t] = Σ_τ x[t+τ] w[τ]``, a cross-correlation).

    input (N, C_in, L) or (C_in, L); weight (C_out, C_in/groups, k); bias (C_out,) or None.
    ``padding``: an int, a 1-tuple, 'valid' (none) or 'same' (stride 1 only: d(k−1) zeros,
    ⌊d(k−1)/2⌋ before and the rest after).  Output length ⌊(L + 2p − d(k−1) − 1)/s⌋ + 1.
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution, ``(x ⋆ w)[s, t] = Σ_σ Σ_τ x[s+σ, t+τ] w[σ, τ]`` per channel pair.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in/groups, kH, kW); bias (C_out,)
    or None.  stride, padding, dilation: an int or a pair; padding may be 'valid' or 'same'.
    Output size per axis ⌊(L + 2p − d(k−1) − 1)/s⌋ + 1.
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """The adjoint of conv1d: each input cell t spreads x[t]·w[τ] onto output cell t·s − p + τ·d.

    input (N, C_in, L) or (C_in, L); weight (C_in, C_out/groups, k); bias (C_out,) or None.
    Output length (L − 1)s − 2p + d(k−1) + output_padding + 1.
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """The adjoint of conv2d (its input gradient as a forward pass), with a bias.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out/groups, kH, kW); bias (C_out,)
    or None.  Output size per axis (L − 1)s − 2p + d(k−1) + output_padding + 1.
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)
