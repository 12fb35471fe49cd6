"""Traces of conv_transpose1d and conv_transpose2d, in the gather view.

A transposed convolution scatters: input cell ``i`` adds ``x[c, i] · w[c, o, τ]`` onto output
``i·s − p + τ·d`` for every tap ``τ`` (then ``b[o]`` is added everywhere).  Positions that land
before 0 or past the output's end are cropped away by ``padding``; ``output_padding`` adds
positions at the end.  The trace gathers those scattered products per output, so each window
reads like a convolution's:

    y[o, t] = Σ_c Σ_{τ, i : i·s − p + τ·d = t} x[c, i] · w[c, o, τ] + b[o]

and ``Trace.scatter(index)`` gives the scatter view of one input cell (its products, grouped).
The gradients are the convolution's with the roles swapped: ``∂L/∂x[c, i]`` is a convolution
of the upstream gradient with the weight, ``∂L/∂w[c, o, τ] = Σ_i x[c, i] · ∂L/∂y[o, i·s − p + τ·d]``.
"""
from __future__ import annotations

import numpy as np

from .. import shapes
from ..kernels.conv import window_positions
from ..kernels.conv_transpose import conv_transpose_windows
from . import formulas
from .arguments import AXIS_NAMES, as_array, check_size, product, trace_errors, transpose_axis
from .backward import weighted_backward
from .model import MAX_PRODUCTS, Cell, Term, Trace, Window


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, grad_output=None, backward=True,
                     max_products=MAX_PRODUCTS) -> Trace:
    """Trace ``F.conv_transpose1d`` (PyTorch's argument order) on an input ``(C_in, L)``."""
    return transpose_trace("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation, grad_output, backward, max_products)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, grad_output=None, backward=True,
                     max_products=MAX_PRODUCTS) -> Trace:
    """Trace ``F.conv_transpose2d`` (PyTorch's argument order) on an input ``(C_in, H, W)``."""
    return transpose_trace("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation, grad_output, backward, max_products)


def transpose_trace(op, dims, input, weight, bias, stride, padding, output_padding, groups,
                    dilation, grad_output, backward, max_products) -> Trace:
    layout = "(C_in, L)" if dims == 1 else "(C_in, H, W)"
    x = as_array(input, "input", op, layout, dims + 1)
    w = as_array(weight, "weight", op, "(C_in, C_out/groups, " +
                 ("k)" if dims == 1 else "kH, kW)"), dims + 2)
    b = None if bias is None else as_array(bias, "bias", op, "(C_out,)", 1)
    with trace_errors():
        args = shapes.conv_transpose_arguments(op, dims, x.shape, w.shape,
                                               None if b is None else b.shape, stride, padding,
                                               output_padding, groups, dilation)
    stride, pads, output_pads = args.stride, args.padding, args.output_padding
    dilation, groups = args.dilation, args.groups
    outs_per_group = w.shape[1]
    out_channels = outs_per_group * groups
    kernel = w.shape[2:]
    axes = [transpose_axis(name, n, k, s, p, d, op_)
            for name, n, k, s, p, d, op_
            in zip(AXIS_NAMES[dims], x.shape[1:], kernel, stride, pads, dilation, output_pads)]
    output_shape = (out_channels, *(a.output_size for a in axes))
    channels_per_group = x.shape[0] // groups
    check_size(op, x.size * outs_per_group * product(kernel), x.size + product(output_shape),
               max_products)

    # The engine's windows of the convolution this is the adjoint of: tap τ of input cell i
    # lands on output cell positions[:, τ, i] = i·s − p + τ·d (cropped when outside).
    positions = window_positions(conv_transpose_windows(x.shape[1:], kernel, stride, pads,
                                                        output_pads, dilation))
    landings = {}          # output cell t → {tap τ: the input cell i that lands there}
    for tap in np.ndindex(kernel):
        for i in np.ndindex(x.shape[1:]):
            t = tuple(int(p) for p in positions[(slice(None),) + tap + i])
            if all(0 <= ti < n for ti, n in zip(t, output_shape[1:])):
                landings.setdefault(t, {})[tap] = i
    windows = []
    for out_index in np.ndindex(output_shape):
        o, t = out_index[0], out_index[1:]
        group, o_local = divmod(o, outs_per_group)
        terms = []
        for c in range(group * channels_per_group, (group + 1) * channels_per_group):
            for tap, position in landings.get(t, {}).items():
                index = (c, *position)
                x_cell = Cell(index, "input", float(x[index]))
                weight_index = (c, o_local, *tap)
                w_value = float(w[weight_index])
                terms.append(Term(tap, x_cell, weight_index, w_value, x_cell.value * w_value))
        total = 0.0
        for term in terms:
            total += term.product
        bias_value = None if b is None else float(b[o])
        value = total if b is None else total + bias_value
        windows.append(Window(out_index, group, terms, total, bias_value, value))

    forward_formula, gradient_formulas = formulas.conv_transpose(
        dims, stride, dilation, pads, channels_per_group > 1, out_channels > 1, b is not None)
    trace = Trace(
        op=op, dims=dims,
        params=dict(stride=stride, padding=tuple((p, p) for p in pads), padding_arg=padding,
                    output_padding=output_pads, dilation=dilation, groups=groups),
        formula=forward_formula,
        input=x.tolist(), input_shape=x.shape,
        weight=w.tolist(), weight_shape=w.shape,
        bias=None if b is None else b.tolist(),
        padded_input=None,  # transposed-conv padding crops the output; the input is not padded
        axes=axes,
        output=np.array([win.value for win in windows]).reshape(output_shape).tolist(),
        output_shape=output_shape,
        windows=windows,
    )
    if backward:
        trace.backward = weighted_backward(grad_output, op, windows, x, w, b, output_shape,
                                           gradient_formulas)
    return trace
