"""Traces of max and average pooling: each window's cells, the winner or the divisor, and
where the gradient goes.

    max pooling      y[c, t] = max_τ x[c, t·s + τ·d − p]        (padding is −∞)
    average pooling  y[c, t] = (1/N_t) Σ_τ x[c, t·s + τ − p]    (padding is 0)

Max pooling sends ``∂L/∂y[c, t]`` to the one cell that won (ties go to the first in scan
order; a NaN wins and propagates); average pooling sends ``∂L/∂y[c, t] / N_t`` to every real
cell of the window.  The divisor ``N_t`` is, as in PyTorch: ``divisor_override`` when given;
else with ``count_include_pad`` the window clipped to ``[−p, L+p)`` (padding counted, the part
of a ``ceil_mode`` window past the padding not); else the number of real input cells.
"""
from __future__ import annotations

import math

import numpy as np

from .. import shapes
from ..kernels.conv import window_positions
from ..kernels.pool import pool_windows
from . import formulas
from .arguments import (AXIS_NAMES, as_array, check_size, pool_axis, product, shape_text,
                        trace_errors)
from .backward import assemble, input_gradients, upstream_gradient
from .conv import make_cell_reader, padded_input
from .model import MAX_PRODUCTS, Term, Trace, Window


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               grad_output=None, backward=True, max_products=MAX_PRODUCTS) -> Trace:
    """Trace ``F.max_pool1d`` on an input ``(C, L)``."""
    return pool_trace("max_pool1d", 1, "max", input, kernel_size, stride, padding, dilation,
                      ceil_mode, True, None, grad_output, backward, max_products)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               grad_output=None, backward=True, max_products=MAX_PRODUCTS) -> Trace:
    """Trace ``F.max_pool2d`` on an input ``(C, H, W)``."""
    return pool_trace("max_pool2d", 2, "max", input, kernel_size, stride, padding, dilation,
                      ceil_mode, True, None, grad_output, backward, max_products)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, grad_output=None, backward=True,
               max_products=MAX_PRODUCTS) -> Trace:
    """Trace ``F.avg_pool1d`` on an input ``(C, L)`` (PyTorch's has no divisor_override)."""
    return pool_trace("avg_pool1d", 1, "avg", input, kernel_size, stride, padding, 1,
                      ceil_mode, count_include_pad, None, grad_output, backward, max_products)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, grad_output=None, backward=True,
               max_products=MAX_PRODUCTS) -> Trace:
    """Trace ``F.avg_pool2d`` on an input ``(C, H, W)``."""
    return pool_trace("avg_pool2d", 2, "avg", input, kernel_size, stride, padding, 1,
                      ceil_mode, count_include_pad, divisor_override, grad_output, backward,
                      max_products)


def _divisor(window_starts, kernel, lengths, pads, count_include_pad, divisor_override):
    """``N``: the number an average-pooling window's sum is divided by, and why."""
    if divisor_override is not None:
        return float(divisor_override), f"divisor_override={divisor_override}"
    if count_include_pad:
        sizes = [min(start + k, n + p) - start
                 for start, k, n, p in zip(window_starts, kernel, lengths, pads)]
        clipped = any(size < k for size, k in zip(sizes, kernel))
        count = product(sizes)
        sizes_text = "·".join(map(str, sizes)) + f" = {count}" if len(sizes) > 1 else str(count)
        what = (f"the window clipped to [−p, L+p) holds {sizes_text}"
                if clipped else f"the whole {shape_text(kernel)} window holds {count}")
        return float(count), (f"count_include_pad=True: {what} cell{'s' if count != 1 else ''}"
                              f", padding included")
    sizes = [min(start + k, n) - max(start, 0)
             for start, k, n in zip(window_starts, kernel, lengths)]
    count = product(max(size, 0) for size in sizes)
    return float(count), (f"count_include_pad=False: only the {count} real input "
                          f"cell{'s' if count != 1 else ''} count")


def pool_trace(op, dims, kind, input, kernel_size, stride, padding, dilation, ceil_mode,
               count_include_pad, divisor_override, grad_output, backward, max_products) -> Trace:
    layout = "(C, L)" if dims == 1 else "(C, H, W)"
    x = as_array(input, "input", op, layout, dims + 1)
    with trace_errors():
        kernel, stride, pads, dilation = shapes.pool_window_arguments(
            op, dims, kernel_size, stride, padding, dilation)
        shapes.check_divisor_override(op, divisor_override)
        shapes.pool_output_shape(op, x.shape, kernel, stride, pads, dilation, ceil_mode)
    lengths = x.shape[1:]
    axes = [pool_axis(name, n, k, s, p, d, ceil_mode)
            for name, n, k, s, p, d in zip(AXIS_NAMES[dims], lengths, kernel, stride, pads,
                                           dilation)]
    output_shape = (x.shape[0], *(a.output_size for a in axes))
    check_size(op, product(output_shape) * product(kernel), x.size + product(output_shape),
               max_products)

    padding_value = -math.inf if kind == "max" else 0.0
    limits = tuple(n + p for n, p in zip(lengths, pads))
    cell = make_cell_reader(x, padding_value, limits=limits)
    # positions[:, τ, t]: the input cell tap τ of window t reads, from the engine's own windows
    positions = window_positions(pool_windows(lengths, kernel, stride, pads, dilation,
                                              ceil_mode))
    windows = []
    for out_index in np.ndindex(output_shape):
        c, t = out_index[0], out_index[1:]
        terms = [Term(tap, cell(c, tuple(int(i) for i in positions[(slice(None),) + tap + t])))
                 for tap in np.ndindex(kernel)]
        starts = terms[0].input.index[1:]      # the cell tap 0 reads: t·s − p per axis
        if kind == "max":
            best, winner = -math.inf, None
            for position, term in enumerate(terms):
                value = term.input.value
                if value is None:
                    continue
                # PyTorch's rule: strictly greater wins (so ties keep the first), NaN always wins
                if value > best or math.isnan(value):
                    best, winner = value, position
            if winner is None:  # every cell is −∞: the first real cell is reported
                winner = next((k for k, term in enumerate(terms) if term.input.kind == "input"),
                              None)
            windows.append(Window(out_index, None, terms, best, None, best, winner=winner))
        else:
            total = 0.0
            for term in terms:
                if term.input.kind != "outside":
                    total += term.input.value
            divisor, reason = _divisor(starts, kernel, lengths, pads, count_include_pad,
                                       divisor_override)
            windows.append(Window(out_index, None, terms, total, None, total / divisor,
                                  divisor=divisor, divisor_reason=reason))

    forward_formula, gradient_formulas = formulas.pool(kind, dims, stride, dilation, pads,
                                                       x.shape[0] > 1)
    params = dict(kernel_size=kernel, stride=stride, padding=tuple((p, p) for p in pads),
                  padding_arg=padding, ceil_mode=bool(ceil_mode))
    if kind == "max":
        params["dilation"] = dilation
    else:
        params["count_include_pad"] = bool(count_include_pad)
        if dims == 2:
            params["divisor_override"] = divisor_override
    trace = Trace(
        op=op, dims=dims, params=params, formula=forward_formula,
        input=x.tolist(), input_shape=x.shape, weight=None, weight_shape=None, bias=None,
        padded_input=padded_input(x, tuple((p, p) for p in pads), cell),
        axes=axes,
        output=np.array([win.value for win in windows]).reshape(output_shape).tolist(),
        output_shape=output_shape,
        windows=windows,
    )
    if backward:
        g = upstream_gradient(grad_output, output_shape, op)
        trace.backward = assemble(g, None, None, input_gradients(x, g, _pool_uses(windows, kind)),
                                  (None, None, x.shape), gradient_formulas)
    return trace


def _pool_uses(windows, kind):
    """How each output depends on its cells: the max winner with slope 1, or every real cell
    with slope 1/N."""
    for window in windows:
        if kind == "max":
            if window.winner is not None:
                yield window, window.terms[window.winner], 1.0, None
        else:
            for term in window.terms:
                if term.input.kind == "input":
                    yield window, term, 1.0 / window.divisor, None
