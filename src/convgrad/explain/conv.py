"""Traces of conv1d and conv2d: every window, every product, every gradient contribution.

The notes' convolution (a cross-correlation), with channels, groups, bias, stride, padding
and dilation:

    y[o, t] = Σ_c Σ_τ x[c, t·s + τ·d − p] · w[o, c, τ] + b[o]

where ``c`` runs over the input channels of output channel ``o``'s group.  Padding cells
hold 0 (``padding_mode='zeros'``) or a copy of a real cell (``'reflect'``, ``'replicate'``,
``'circular'``: PyTorch's ``nn.Conv*d`` pads first, then convolves with padding 0).
"""
from __future__ import annotations

import numpy as np

from .. import shapes
from ..kernels.conv import conv_windows, window_positions
from . import formulas
from .arguments import (AXIS_NAMES, as_array, check_size, conv_axis, product, source_index,
                        trace_errors)
from .backward import weighted_backward
from .model import MAX_PRODUCTS, Cell, PaddedInput, Term, Trace, Window


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", grad_output=None, backward=True,
           max_products=MAX_PRODUCTS) -> Trace:
    """Trace ``F.conv1d`` (with ``nn.Conv1d``'s ``padding_mode``) on an input ``(C_in, L)``."""
    return conv_trace("conv1d", 1, input, weight, bias, stride, padding, dilation, groups,
                      padding_mode, grad_output, backward, max_products)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", grad_output=None, backward=True,
           max_products=MAX_PRODUCTS) -> Trace:
    """Trace ``F.conv2d`` (with ``nn.Conv2d``'s ``padding_mode``) on an input ``(C_in, H, W)``."""
    return conv_trace("conv2d", 2, input, weight, bias, stride, padding, dilation, groups,
                      padding_mode, grad_output, backward, max_products)


def make_cell_reader(x: np.ndarray, padding_value: float, mode: str = "zeros",
                     limits=None):
    """``cell(c, position)`` → ``Cell``: a real cell, a padding cell (0, −∞ or a copy of the
    real cell ``source_index`` names) or, past ``limits`` (``L + p`` per axis), "outside"."""
    lengths = x.shape[1:]

    def cell(channel: int, position: tuple) -> Cell:
        index = (channel, *position)
        if all(0 <= i < n for i, n in zip(position, lengths)):
            return Cell(index, "input", float(x[index]))
        if limits is not None and any(i >= limit for i, limit in zip(position, limits)):
            return Cell(index, "outside", None)
        if mode == "zeros":
            return Cell(index, "padding", padding_value)
        source = (channel, *(source_index(i, n, mode) for i, n in zip(position, lengths)))
        return Cell(index, "padding", float(x[source]), source)

    return cell


def padded_input(x: np.ndarray, padding, cell) -> PaddedInput | None:
    """The input with its padding drawn in, or None when nothing is padded."""
    if not any(before or after for before, after in padding):
        return None
    origin = tuple(-before for before, _ in padding)
    shape = (x.shape[0], *(n + before + after for n, (before, after) in zip(x.shape[1:], padding)))
    values, kinds, sources = (np.empty(shape, dtype=object) for _ in range(3))
    for index in np.ndindex(shape):
        position = tuple(i + o for i, o in zip(index[1:], origin))
        c = cell(index[0], position)
        values[index], kinds[index], sources[index] = c.value, c.kind, c.source
    return PaddedInput(origin, shape, values.tolist(), kinds.tolist(), sources.tolist())


def conv_trace(op, dims, input, weight, bias, stride, padding, dilation, groups, padding_mode,
               grad_output, backward, max_products) -> Trace:
    layout = "(C_in, L)" if dims == 1 else "(C_in, H, W)"
    x = as_array(input, "input", op, layout, dims + 1)
    w = as_array(weight, "weight", op, "(C_out, C_in/groups, " +
                 ("k)" if dims == 1 else "kH, kW)"), dims + 2)
    b = None if bias is None else as_array(bias, "bias", op, "(C_out,)", 1)
    with trace_errors():
        args = shapes.conv_arguments(op, dims, x.shape, w.shape, None if b is None else b.shape,
                                     stride, padding, dilation, groups)
        shapes.check_conv_padding_mode(op, padding_mode, args.padding, x.shape[1:])
    stride, pads, dilation, groups = args.stride, args.padding, args.dilation, args.groups
    kernel = w.shape[2:]
    same = isinstance(padding, str) and padding == "same"
    axes = [conv_axis(name, n, k, s, before, after, d, same)
            for name, n, k, s, (before, after), d
            in zip(AXIS_NAMES[dims], x.shape[1:], kernel, stride, pads, dilation)]

    out_channels, group_channels = w.shape[0], w.shape[1]
    output_shape = (out_channels, *(a.output_size for a in axes))
    check_size(op, product(output_shape) * group_channels * product(kernel),
               x.size + product(output_shape), max_products)

    cell = make_cell_reader(x, 0.0, padding_mode)
    # positions[:, τ, t]: the input cell tap τ of window t reads, from the engine's own windows
    positions = window_positions(conv_windows(x.shape[1:], kernel, stride, pads, dilation))
    outs_per_group = out_channels // groups
    windows = []
    for out_index in np.ndindex(output_shape):
        o, t = out_index[0], out_index[1:]
        group = o // outs_per_group
        terms = []
        for c_local in range(group_channels):
            c = group * group_channels + c_local
            for tap in np.ndindex(kernel):
                x_cell = cell(c, tuple(int(i) for i in positions[(slice(None),) + tap + t]))
                weight_index = (o, c_local, *tap)
                w_value = float(w[weight_index])
                terms.append(Term(tap, x_cell, weight_index, w_value, x_cell.value * w_value))
        total = 0.0
        for term in terms:
            total += term.product
        bias_value = None if b is None else float(b[o])
        value = total if b is None else total + bias_value
        windows.append(Window(out_index, group, terms, total, bias_value, value))

    forward_formula, gradient_formulas = formulas.conv(
        dims, stride, dilation, [before for before, _ in pads], group_channels > 1,
        out_channels > 1, b is not None)
    trace = Trace(
        op=op, dims=dims,
        params=dict(stride=stride, padding=pads, padding_arg=padding, dilation=dilation,
                    groups=groups, padding_mode=padding_mode),
        formula=forward_formula,
        input=x.tolist(), input_shape=x.shape,
        weight=w.tolist(), weight_shape=w.shape,
        bias=None if b is None else b.tolist(),
        padded_input=padded_input(x, pads, cell),
        axes=axes,
        output=np.array([win.value for win in windows]).reshape(output_shape).tolist(),
        output_shape=output_shape,
        windows=windows,
    )
    if backward:
        trace.backward = weighted_backward(grad_output, op, windows, x, w, b, output_shape,
                                           gradient_formulas)
    return trace
