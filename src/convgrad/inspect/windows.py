"""One convolution layer of a trained model, number by number, from the reference
convolution's windows (``kernels/conv.py``): the window behind one output cell, and the
per-position contributions that sum to one weight's gradient.

For a Conv layer with weight w (C_out, C_in/G, *k), bias b, stride s, dilation d, and its
input x padded as the layer pads it (x_pad), output channel o of group g reads channels
c' = g·C_in/G + c:

    y[o, t]          = b[o] + Σ_c Σ_τ x_pad[c', t·s + τ·d] · w[o, c, τ]      (output_window)
    ∂L/∂w[o, c, τ]   = Σ_t g[o, t] · x_pad[c', t·s + τ·d]          (weight_contributions)

for one example (no batch), with g = ∂L/∂y.  ``output_window`` lists every product of the
first sum as ``convgrad.explain``'s ``Window`` (so the explorer draws it with the op view),
and ``weight_contributions`` gives the second sum's addends as maps over the output positions t.
Both come with what the engine computed — the layer's recorded output, the parameter's
``.grad`` — for the page to show that they agree.
"""
from __future__ import annotations

import math

import numpy as np

from ..explain.model import Cell, Term, Window
from ..kernels.conv import conv_windows, window_positions, window_view
from ..kernels.pool import pad_forward
from .layers import CONVOLUTIONS


class LayerError(ValueError):
    """A layer or index the request names that the model does not have (one line)."""


def check_conv(module, name: str) -> None:
    if not isinstance(module, CONVOLUTIONS):
        raise LayerError(f"layer {name} is a {type(module).__name__}, not a convolution: only "
                         f"a Conv1d or Conv2d layer has windows and filters")


def padding_pairs(conv) -> tuple:
    """The layer's padding as ``((before, after), ...)`` per spatial axis."""
    pads = conv._explicit_padding()          # F.pad's order: last axis first
    spatial = len(conv.kernel_size)
    return tuple((pads[2 * (spatial - 1 - a)], pads[2 * (spatial - 1 - a) + 1])
                 for a in range(spatial))


def _padded(conv, x: np.ndarray):
    """``(x_pad, source)``: the input (C, *L) padded as the layer pads it, and for each padded
    cell the flat index of the real cell it holds (−1 for a zero)."""
    pairs = padding_pairs(conv)
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    padded, _ = pad_forward(x, pairs, mode, 0)
    where = np.arange(math.prod(x.shape[1:]), dtype=np.float64).reshape(x.shape[1:])[None]
    source, _ = pad_forward(where, pairs, mode, -1)
    return padded, source[0].astype(np.int64), pairs


def _windows(conv, x: np.ndarray, pairs):
    return conv_windows(x.shape[1:], conv.kernel_size, conv.stride, pairs, conv.dilation)


def _check_index(index, shape, what: str) -> tuple:
    index = tuple(int(i) for i in index)
    if len(index) != len(shape) or any(not 0 <= i < n for i, n in zip(index, shape)):
        raise LayerError(f"{what} {list(index)} is outside its shape {list(shape)}")
    return index


def _input_channel(conv, o: int, c: int) -> int:
    per_group_out = conv.out_channels // conv.groups
    return (o // per_group_out) * conv.weight.shape[1] + c


def output_window(conv, x: np.ndarray, y: np.ndarray, index) -> Window:
    """The window behind ``y[index]`` (index ``(o, *t)``) of layer ``conv`` on input ``x``
    (C_in, *L); ``y`` is the output the engine computed (C_out, *out)."""
    o, *t = _check_index(index, y.shape, "output cell")
    weight = conv.weight.data
    padded, source, pairs = _padded(conv, x)
    win = _windows(conv, x, pairs)
    positions = window_positions(win)            # (axes, *k, *out): input coordinates
    spatial_in = x.shape[1:]
    terms, total = [], 0.0
    for c in range(weight.shape[1]):
        channel = _input_channel(conv, o, c)
        for tap in np.ndindex(*conv.kernel_size):
            at = tuple(int(positions[(a,) + tap + tuple(t)]) for a in range(len(tap)))
            inside = all(0 <= p < n for p, n in zip(at, spatial_in))
            pad_at = tuple(p + before for p, (before, _) in zip(at, pairs))
            value = float(padded[(channel,) + pad_at])
            copied = int(source[pad_at])
            cell = Cell([channel, *at], "input" if inside else "padding", value,
                        None if inside or copied < 0 else
                        [channel, *np.unravel_index(copied, spatial_in)])
            w = float(weight[(o, c) + tap])
            product = value * w
            total += product
            terms.append(Term(list(tap), cell, [o, c, *tap], w, product))
    bias = None if conv.bias is None else float(conv.bias.data[o])
    return Window([o, *t], o // (conv.out_channels // conv.groups), terms, total, bias,
                  float(y[(o, *t)]))


def weight_contributions(conv, x: np.ndarray, grad_output: np.ndarray, index) -> dict:
    """The addends of ``∂L/∂w[index]`` (index ``(o, c, *τ)``), as maps over the output
    positions t: ``grad_output`` g[o, t], ``inputs`` x_pad[c', t·s + τ·d] and their
    ``products``; ``total`` is their sum (module docstring)."""
    o, c, *tap = _check_index(index, conv.weight.shape, "weight")
    padded, _, pairs = _padded(conv, x)
    win = _windows(conv, x, pairs)
    view = window_view(padded, win)              # [c', *τ, *t]
    inputs = view[(_input_channel(conv, o, c), *tap)]
    g = grad_output[o]
    products = g.astype(np.float64) * inputs.astype(np.float64)
    return {"weight_index": [o, c, *tap], "weight": float(conv.weight.data[(o, c, *tap)]),
            "input_channel": _input_channel(conv, o, c), "grad_output": g, "inputs": inputs,
            "products": products, "total": float(products.sum())}
