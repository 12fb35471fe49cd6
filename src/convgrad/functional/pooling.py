"""Pooling, the notes' last building block of a CNN: max, average and adaptive average.

A pool slides a window over each channel separately, as a convolution does, but has no
weights: it takes the window's max or mean.  With a stride it shrinks the feature map, so the
next layer sees a wider part of the input.

PyTorch's signatures and semantics: stride defaults to kernel_size; padding is at most half
the kernel (−∞ for max, zeros for average); ceil_mode rounds the output size up but drops a
last window that would start in the right padding; inputs are (N, C, *spatial) or unbatched
(C, *spatial).  The 1-D pools are the 2-D ones on an (..., 1, L) view, as in PyTorch.
The arithmetic lives in ``kernels/pool.py``, the argument checks in ``shapes.py``.
"""
from __future__ import annotations

from .. import shapes
from ..autograd import is_grad_enabled
from ..kernels import pool as _kernel
from ..tensor import Tensor, from_op
from .torch_errors import torch_errors


def _check_dtype(op: str, input: Tensor, integers: bool) -> None:
    """Floating inputs always; integer ones where PyTorch has an integer kernel; never bool."""
    kind = input.dtype.kind
    if kind == "f" or (integers and kind in "iu"):
        return
    raise NotImplementedError(
        f"{op}: input has dtype {input.dtype}, for which {op} is not implemented "
        f"({'floating point or integer' if integers else 'floating point'} tensors only)")


def _as_2d(array, spatial: int):
    """An (..., L) array seen as (..., 1, L) for the 2-D kernels; (..., H, W) as it is."""
    return array[..., None, :] if spatial == 1 else array


def _from_2d(array, spatial: int):
    return array[..., 0, :] if spatial == 1 else array


def _lift(values: tuple, spatial: int, fill: int) -> tuple:
    """A 1-D pool's argument as the 2-D kernel's pair: height ``fill``, width the value."""
    return (fill, values[0]) if spatial == 1 else values


# ----------------------------------------------------------------------------- max pool
def _max_pool(op: str, spatial: int, input: Tensor, kernel_size, stride, padding, dilation,
              ceil_mode: bool, return_indices: bool):
    with torch_errors():
        shapes.check_pool_input(op, input.shape, spatial)
        # PyTorch's max_pool1d without indices has no integer kernel; the 2-D path (and the
        # 1-D one with indices, which runs through it) has.
        _check_dtype(op, input, integers=spatial == 2 or return_indices)
        kernel, stride, padding, dilation = shapes.pool_window_arguments(
            op, spatial, kernel_size, stride, padding, dilation)
        shapes.pool_output_shape(op, input.shape, kernel, stride, padding, dilation, ceil_mode)
    # The argmaxes cost a third of the forward: only find them when someone will use them.
    with_indices = return_indices or (input.requires_grad and is_grad_enabled())
    out, cache = _kernel.max_pool2d_forward(
        _as_2d(input.data, spatial), _lift(kernel, spatial, 1), _lift(stride, spatial, 1),
        _lift(padding, spatial, 0), _lift(dilation, spatial, 1), bool(ceil_mode),
        with_indices)

    def backward(g):
        return (_from_2d(_kernel.max_pool2d_backward(_as_2d(g, spatial), cache), spatial),)

    result = from_op(_from_2d(out, spatial), (input,), backward,
                     f"MaxPool{spatial}DWithIndicesBackward0")
    if return_indices:
        return result, Tensor._wrap(_from_2d(cache.indices, spatial))
    return result


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """``y[t] = max_τ x[t·s + τ·d − p]`` over (N, C, L) or (C, L), −∞ padding.

    Gradient: ∂L/∂x[i] = Σ over the windows whose argmax is i of ∂L/∂y[t].  With
    ``return_indices`` also returns each max's position in its channel (int64).
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """``y[t, u] = max_{τ,υ} x[t·s_h + τ·d_h − p_h, u·s_w + υ·d_w − p_w]`` over (N, C, H, W).

    Gradient: ∂L/∂x[i] = Σ over the windows whose argmax is i of ∂L/∂y[t, u].  Ties go to
    the first maximum in scan order; NaN propagates.  With ``return_indices`` also returns
    each max's flat position h·W + w in its channel's plane (int64).
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


# ----------------------------------------------------------------------------- average pool
def _avg_pool(op: str, spatial: int, input: Tensor, kernel_size, stride, padding,
              ceil_mode: bool, count_include_pad: bool, divisor_override) -> Tensor:
    # PyTorch's avg_pool2d fails on a 1-D or 2-D input while indexing its dims: IndexError.
    with torch_errors(too_few_dims=IndexError if spatial == 2 else RuntimeError):
        shapes.check_pool_input(op, input.shape, spatial)
        _check_dtype(op, input, integers=True)
        kernel, stride, padding, _ = shapes.pool_window_arguments(
            op, spatial, kernel_size, stride, padding)
        shapes.check_divisor_override(op, divisor_override)
        shapes.pool_output_shape(op, input.shape, kernel, stride, padding, (1,) * spatial,
                                 ceil_mode)
    out, cache = _kernel.avg_pool2d_forward(
        _as_2d(input.data, spatial), _lift(kernel, spatial, 1), _lift(stride, spatial, 1),
        _lift(padding, spatial, 0), bool(ceil_mode), bool(count_include_pad),
        divisor_override)

    def backward(g):
        return (_from_2d(_kernel.avg_pool2d_backward(_as_2d(g, spatial), cache), spatial),)

    return from_op(_from_2d(out, spatial), (input,), backward, f"AvgPool{spatial}DBackward0")


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """``y[t] = (1/D[t]) Σ_τ x[t·s + τ − p]`` over (N, C, L) or (C, L), zero padding.

    D is the window clipped to [−p, L + p) with ``count_include_pad``, else the number of
    real elements.  Gradient: ∂L/∂x[i] = Σ over the windows t containing i of ∂L/∂y[t]/D[t].
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """``y[t, u] = (1/D[t, u]) Σ_{τ,υ} x[t·s_h + τ − p_h, u·s_w + υ − p_w]`` over (N, C, H, W).

    D as in :func:`avg_pool1d`, per axis multiplied, or ``divisor_override``.
    Gradient: ∂L/∂x[i, j] = Σ over the windows containing (i, j) of ∂L/∂y[t, u]/D[t, u].
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


# ----------------------------------------------------------------------------- adaptive
def _adaptive_avg_pool(op: str, spatial: int, input: Tensor, output_size) -> Tensor:
    # PyTorch reads output_size before it looks at the input's rank (its errors come first);
    # a tuple longer than the input has dimensions is a ValueError there.
    with torch_errors(too_few_dims=ValueError):
        size = shapes.adaptive_pool_output_size(op, spatial, output_size, input.shape)
    with torch_errors():
        shapes.check_pool_input(op, input.shape, spatial, empty_channels=True)
        _check_dtype(op, input, integers=False)
    out, cache = _kernel.adaptive_avg_pool2d_forward(_as_2d(input.data, spatial),
                                                     _lift(size, spatial, 1))

    def backward(g):
        return (_from_2d(_kernel.adaptive_avg_pool2d_backward(_as_2d(g, spatial), cache),
                         spatial),)

    # PyTorch computes a global average pool (every output size 1) as a mean, which saves
    # nothing for its backward; other sizes save the input.
    return from_op(_from_2d(out, spatial), (input,), backward,
                   f"AdaptiveAvgPool{spatial}DBackward0",
                   saved=() if set(size) == {1} else (input,))


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average over ``output_size`` windows ``[⌊i·L/out⌋, ⌈(i+1)·L/out⌉)`` that tile (N, C, L).

    Gradient: every element of window i receives ∂L/∂y[i] / (window i's length).
    """
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Adaptive windows along H and W (see :func:`adaptive_avg_pool1d`) of (N, C, H, W).

    ``output_size`` is an int or (OH, OW), where None keeps that axis's size.
    ``adaptive_avg_pool2d(x, 1)`` is the global average pool that ends a ResNet.
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)
