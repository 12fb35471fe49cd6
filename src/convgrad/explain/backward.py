"""The backward pass as lists of contributions, built from the forward windows.

Every product ``x·w`` of the forward pass sends ``∂L/∂y[t]`` back twice: into the weight's
gradient (times the input value) and into the input cell's gradient (times the weight).
Walking the windows once and filing each product under its weight and under its input cell
gives the notes' formulas term by term:

    ∂L/∂w[τ] = Σ_t ∂L/∂y[t] · x[t+τ]          every reuse of a weight adds into its gradient
    ∂L/∂x[i] = Σ_{t,τ: t+τ=i} ∂L/∂y[t] · w[τ]

(with stride, dilation and padding the index is ``t·s + τ·d − p`` instead of ``t+τ``).
"""
from __future__ import annotations

import numpy as np

from .arguments import as_array, shape_text
from .model import Backward, Contribution, Gradient, TraceError


def upstream_gradient(grad_output, output_shape, op: str) -> np.ndarray:
    """``∂L/∂y``: all ones by default, else an array of exactly the output's shape."""
    if grad_output is None:
        return np.ones(output_shape)
    g = as_array(grad_output, "grad_output", op, f"({shape_text(output_shape)}, the output's "
                 f"shape)", len(output_shape))
    if g.shape != tuple(output_shape):
        raise TraceError(f"{op}: grad_output must have the output's shape "
                         f"{shape_text(output_shape)}, got {shape_text(g.shape)}")
    return g


def _total(contributions) -> float:
    total = 0.0
    for contribution in contributions:
        total += contribution.product
    return total


def _gradients(values: np.ndarray, buckets: dict) -> list:
    return [Gradient(index, float(values[index]), buckets[index], _total(buckets[index]))
            for index in np.ndindex(values.shape)]


def weight_gradients(windows, weight: np.ndarray, g: np.ndarray) -> list:
    """One ``Gradient`` per weight: ``∂L/∂y[t]·x`` for every product the weight took part in."""
    buckets = {index: [] for index in np.ndindex(weight.shape)}
    for window in windows:
        upstream = float(g[window.output_index])
        for term in window.terms:
            x = term.input.value
            buckets[term.weight_index].append(
                Contribution(window.output_index, upstream, x, upstream * x, term.input))
    return _gradients(weight, buckets)


def bias_gradients(bias: np.ndarray, g: np.ndarray) -> list:
    """One ``Gradient`` per output channel: ``∂L/∂b[o] = Σ_t ∂L/∂y[o, t]``."""
    buckets = {(o,): [] for o in range(bias.shape[0])}
    for index in np.ndindex(g.shape):
        upstream = float(g[index])
        buckets[(index[0],)].append(Contribution(index, upstream, 1.0, upstream))
    return _gradients(bias, buckets)


def input_gradients(x: np.ndarray, g: np.ndarray, uses) -> list:
    """One ``Gradient`` per input cell from ``uses``: ``(window, term, factor, weight_index)``
    for every way an output depends on a cell — ``∂y/∂x = factor``.

    A padding cell that copies a real cell (reflect, replicate, circular) passes its gradient
    on to that cell; zero and −∞ padding are constants and pass nothing on.
    """
    buckets = {index: [] for index in np.ndindex(x.shape)}
    for window, term, factor, weight_index in uses:
        cell = term.input
        real = cell.index if cell.kind == "input" else cell.source
        if real is None:
            continue
        upstream = float(g[window.output_index])
        buckets[real].append(Contribution(window.output_index, upstream, factor,
                                          upstream * factor, cell, weight_index))
    return _gradients(x, buckets)


def products_into_inputs(windows):
    """``uses`` for a convolution: each product's input cell, times its weight."""
    for window in windows:
        for term in window.terms:
            yield window, term, term.weight_value, term.weight_index


def as_array_of(gradients, shape) -> list:
    return np.array([gradient.total for gradient in gradients], dtype=np.float64).reshape(
        shape).tolist()


def assemble(g, weight_grads, bias_grads, input_grads, shapes_, formulas) -> Backward:
    """The ``Backward`` record: the contribution lists and their totals as arrays."""
    weight_shape, bias_shape, input_shape = shapes_
    return Backward(
        grad_output=g.tolist(),
        weight=weight_grads,
        bias=bias_grads,
        input=input_grads,
        grad_weight=None if weight_grads is None else as_array_of(weight_grads, weight_shape),
        grad_bias=None if bias_grads is None else as_array_of(bias_grads, bias_shape),
        grad_input=as_array_of(input_grads, input_shape),
        formulas=formulas,
    )


def weighted_backward(grad_output, op, windows, x, w, b, output_shape, formulas) -> Backward:
    """The backward trace of a (transposed) convolution: every weight's, the bias's and every
    input cell's gradient as the sum of the window products that used it."""
    g = upstream_gradient(grad_output, output_shape, op)
    return assemble(g, weight_gradients(windows, w, g),
                    None if b is None else bias_gradients(b, g),
                    input_gradients(x, g, products_into_inputs(windows)),
                    (w.shape, None if b is None else b.shape, x.shape), formulas)
