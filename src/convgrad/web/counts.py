"""A layer's parameter count beside the dense layer that maps the same input to the same output.

The notes' point about weight reuse: a convolution has ``size(kernel)`` weights per pair of
channels it connects, however large the input, while a fully connected layer between the same
``d1`` inputs and ``d2`` outputs has ``d1·d2``:

    conv             C_out · C_in/groups · ∏k   (+ C_out biases)
    conv_transpose   C_in · C_out/groups · ∏k   (+ C_out biases)
    pooling          no parameters
    dense            d1 · d2                    (+ d2 biases),   d1 = C_in·∏input, d2 = C_out·∏output

Every formula is returned with its values substituted, so the page only shows text.
"""
from __future__ import annotations

import math

from ..explain.model import Trace

SPATIAL = {1: ("L",), 2: ("H", "W")}


def _product(names, values) -> tuple:
    """``("C_in · H · W", "2 · 5 · 5", 50)``."""
    return " · ".join(names), " · ".join(str(v) for v in values), math.prod(values)


def _formula(names, values) -> dict:
    symbols, numbers, value = _product(names, values)
    text = f"{symbols} = {numbers} = {value}" if len(values) > 1 else f"{symbols} = {value}"
    return {"value": value, "formula": text}


def layer_counts(trace: Trace) -> dict:
    """Parameter and multiplication counts of ``trace``'s layer and of the equivalent dense one."""
    dims = trace.dims
    spatial = SPATIAL[dims]
    c_in, *in_sizes = trace.input_shape
    c_out, *out_sizes = trace.output_shape
    d1 = _formula(["C_in", *spatial], [c_in, *in_sizes])
    d2 = _formula(["C_out", *(f"{a}_out" for a in spatial)], [c_out, *out_sizes])
    has_bias = trace.bias is not None
    kernel_names = [f"k_{a}" if dims == 2 else "k" for a in spatial]

    if trace.weight_shape is not None:
        first, second, *kernel = trace.weight_shape
        if trace.op.startswith("conv_transpose"):
            names = ["C_in", "C_out/groups", *kernel_names]
        else:
            names = ["C_out", "C_in/groups", *kernel_names]
        weights = _formula(names, [first, second, *kernel])
        products = sum(len(window.terms) for window in trace.windows)
        layer = {
            "kind": "transposed convolution" if "transpose" in trace.op else "convolution",
            "weights": weights,
            "bias": c_out if has_bias else 0,
            "total": weights["value"] + (c_out if has_bias else 0),
            "multiplies": {"value": products,
                           "formula": f"{products} products (one per window term)"},
            "note": ("each weight is reused at every output position: size(kernel) weights "
                     "per pair of connected channels, whatever the input size"),
        }
    else:
        cells = sum(len(window.terms) for window in trace.windows)
        layer = {
            "kind": "max pooling" if trace.op.startswith("max") else "average pooling",
            "weights": {"value": 0, "formula": "pooling has no weights"},
            "bias": 0,
            "total": 0,
            "multiplies": {"value": 0, "formula": f"no multiplications ({cells} window cells "
                                                  f"compared or added)"},
            "note": "pooling has no parameters: it only takes the maximum or the mean of "
                    "each window",
        }

    dense_weights = d1["value"] * d2["value"]
    dense_bias = d2["value"] if has_bias else 0
    dense = {
        "d1": d1,
        "d2": d2,
        "weights": {"value": dense_weights,
                    "formula": f"d1 · d2 = {d1['value']} · {d2['value']} = {dense_weights}"},
        "bias": dense_bias,
        "total": dense_weights + dense_bias,
        "multiplies": {"value": dense_weights,
                       "formula": f"d1 · d2 = {dense_weights} (every input times every "
                                  f"output)"},
    }
    if layer["total"]:
        ratio = dense["total"] / layer["total"]
        ratio_text = (f"the dense layer needs {_ratio(ratio)}× as many parameters "
                      f"({dense['total']} vs {layer['total']})")
    else:
        ratio = None
        ratio_text = (f"the pooling layer has no parameters; a dense layer from the same "
                      f"{d1['value']} inputs to the same {d2['value']} outputs would need "
                      f"{dense['total']}")
    return {"layer": layer, "dense": dense, "ratio": ratio, "ratio_text": ratio_text}


def _ratio(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
