"""Which algorithm computes a convolution: a table of routes, the first that applies runs.

Every route computes the reference's sum (``kernels/conv.py``, where the formulas are),

    y[n, o, t] = b[o] + Σ_c Σ_τ x_pad[n, c, t·s + τ·d] · w[o, c, τ]

and its gradients, and the tests hold each one to the reference's loops and to PyTorch.  A
route is four things:

    name       what it is called (tests and benchmarks pick routes by name)
    applies    applies(x, weight, stride, padding, dilation, groups) → bool
    forward    forward(x, weight, bias, stride, padding, dilation, groups, keep_cols)
               → (y, cache)
    backward   backward(dout, cache, need_input, need_weight, need_bias) → (∂L/∂x, ∂L/∂w, ∂L/∂b)

:func:`conv_forward` runs the first route that applies and hands back its cache inside a
:class:`ConvRecord` that names the route, so that :func:`conv_backward` runs that same
route's backward pass.  The last route, im2col, applies to every convolution.

A new route (Winograd, say) is three functions beside a docstring that names the trick, its
measured gain and the reference it equals; it goes into ``ROUTES`` before the routes it
should beat, and the route tests check it from the table.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import conv as reference
from . import conv_grid, conv_phases


class Route(NamedTuple):
    name: str
    applies: Callable
    forward: Callable
    backward: Callable


ROUTES = (
    # stride 1, one group, ≥ 4 channels: one GEMM per kernel tap on a channels-last grid
    Route("grid", conv_grid.applies, conv_grid.conv_forward, conv_grid.conv_backward),
    # stride 2 in 2-D, one group, ≥ 4 channels: the grid route over the input's 4 phases
    Route("phases", conv_phases.applies, conv_phases.conv_forward, conv_phases.conv_backward),
    # everything: the reference's window matrix and one GEMM per group
    Route("im2col", reference.applies, reference.conv_forward, reference.conv_backward),
)


class ConvRecord(NamedTuple):
    """What a forward pass leaves for its backward pass: the route that ran and its cache."""

    route: Route
    cache: object


def choose_route(x: np.ndarray, weight: np.ndarray, stride: tuple, padding: tuple,
                 dilation: tuple, groups: int) -> Route:
    return next(route for route in ROUTES
                if route.applies(x, weight, stride, padding, dilation, groups))


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: tuple,
                 padding: tuple, dilation: tuple, groups: int, keep_cols: bool = True):
    """The convolution by the first route that applies; returns ``(y, ConvRecord)``.

    ``x`` is (N, C_in, *L), ``weight`` (C_out, C_in/groups, *k), ``padding`` a
    ``(before, after)`` pair per axis (checked by the caller).  ``keep_cols``: whether the
    backward pass may need ∂L/∂w (a route may keep less memory when it will not).
    """
    route = choose_route(x, weight, stride, padding, dilation, groups)
    y, cache = route.forward(x, weight, bias, stride, padding, dilation, groups, keep_cols)
    return y, ConvRecord(route, cache)


def conv_backward(dout: np.ndarray, record: ConvRecord, need_input: bool = True,
                  need_weight: bool = True, need_bias: bool = True):
    """``(∂L/∂x, ∂L/∂w, ∂L/∂b)`` by the route that ran forward, each None unless asked."""
    return record.route.backward(dout, record.cache, need_input, need_weight, need_bias)
