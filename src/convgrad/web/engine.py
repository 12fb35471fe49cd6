"""The same operation through convgrad's engine (``convgrad.functional``), checked against the trace.

The explorer draws the trace (``convgrad.explain``), a plain reference computation that lists
every product.  This module runs the engine that trains the models on the same values, with
the page's upstream gradient, and reports how far apart the two are, so the page can say
"the engine agrees" with numbers behind it.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..explain.arguments import pad_widths
from ..explain.model import Trace

# |engine − trace| ≤ RELATIVE_TOLERANCE · max(1, max |trace|), per array: the two sum in
# different orders, so float64 rounding may differ in the last bits.
RELATIVE_TOLERANCE = 1e-9


def run_engine(trace: Trace) -> dict:
    """Run ``trace``'s operation through ``convgrad.functional``; compare output and gradients.

    The report's differences are numbers, or the string ``"inf"`` where the two disagree on
    an infinite value (strict JSON has no Infinity; the trace writes ±inf the same way).
    """
    import convgrad as cg
    import convgrad.functional as F

    # "available" stays in the report for programs that read it: every op is in the engine
    report = {"function": f"convgrad.functional.{trace.op}", "available": True}

    def leaf(values):
        return cg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)

    x = leaf([trace.input])
    w = None if trace.weight is None else leaf(trace.weight)
    b = None if trace.bias is None else leaf(trace.bias)
    started = time.perf_counter()
    try:
        y = _call(getattr(F, trace.op), trace, x, w, b)
        grad = trace.backward.grad_output if trace.backward is not None else None
        if grad is not None:
            y.backward(cg.tensor(np.asarray([grad], dtype=np.float64)))
    except Exception as error:  # noqa: BLE001 — the engine is separate code; report, never break
        report["error"] = f"{type(error).__name__}: {error}"
        report["agrees"] = False
        return report
    report["milliseconds"] = round(1000 * (time.perf_counter() - started), 3)

    pairs = {"output": (y.detach().numpy()[0], trace.output)}
    if trace.backward is not None:
        pairs["grad_input"] = (_grad(x, 0), trace.backward.grad_input)
        if w is not None:
            pairs["grad_weight"] = (_grad(w), trace.backward.grad_weight)
        if b is not None:
            pairs["grad_bias"] = (_grad(b), trace.backward.grad_bias)
    differences, agrees = {}, True
    for key, (engine_values, trace_values) in pairs.items():
        reference = np.asarray(trace_values, dtype=np.float64)
        if engine_values is None or np.shape(engine_values) != reference.shape:
            differences[key] = None
            agrees = False
            continue
        differences[key], close = compare(engine_values, reference)
        agrees = agrees and close
    known = [d for d in differences.values() if d is not None]
    report["max_abs_difference"] = {key: _json_number(d) for key, d in differences.items()}
    report["largest_difference"] = _json_number(max(known)) if known else None
    report["agrees"] = agrees
    return report


def compare(engine_values, reference) -> tuple:
    """``(max |engine − reference|, whether that is within the tolerance)``.

    Equal values count 0, −∞ and −∞ included (a max-pooling window entirely in padding, where
    the subtraction would give NaN); a NaN on either side counts ∞.  The tolerance's scale is
    max(1, max |reference|) over the finite values only: an infinite one would excuse anything.
    """
    engine_values = np.asarray(engine_values, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # −∞ − (−∞); np.where drops it
        gap = np.where(engine_values == reference, 0.0, np.abs(engine_values - reference))
    gap = np.where(np.isnan(gap), np.inf, gap)
    difference = float(np.max(gap)) if gap.size else 0.0
    finite = np.abs(reference[np.isfinite(reference)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    return difference, difference <= RELATIVE_TOLERANCE * scale


def _json_number(value):
    return value if value is None or math.isfinite(value) else "inf"


def _grad(tensor, batch_index=None):
    grad = tensor.grad
    if grad is None:
        return None
    values = grad.numpy() if hasattr(grad, "numpy") else np.asarray(grad)
    return values if batch_index is None else values[batch_index]


def _call(fn, trace: Trace, x, w, b):
    """``fn`` with PyTorch's arguments, taken from the trace's normalised parameters."""
    import convgrad.functional as F

    op, p = trace.op, trace.params
    stride = tuple(p["stride"])
    if op in ("conv1d", "conv2d"):
        mode = p.get("padding_mode", "zeros")
        dilation = tuple(p["dilation"])
        if mode != "zeros":
            return fn(F.pad(x, pad_widths(p["padding"]), mode=mode), w, b, stride=stride, padding=0,
                      dilation=dilation, groups=p["groups"])
        padding = (p["padding_arg"] if isinstance(p.get("padding_arg"), str)
                   else tuple(before for before, _ in p["padding"]))
        return fn(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=p["groups"])
    padding = tuple(before for before, _ in p["padding"])
    if op.startswith("conv_transpose"):
        return fn(x, w, b, stride=stride, padding=padding,
                  output_padding=tuple(p["output_padding"]), groups=p["groups"],
                  dilation=tuple(p["dilation"]))
    kernel = tuple(p["kernel_size"])
    if op.startswith("max_pool"):
        return fn(x, kernel, stride=stride, padding=padding, dilation=tuple(p["dilation"]),
                  ceil_mode=p["ceil_mode"])
    extra = {}
    if p.get("divisor_override") is not None:
        extra["divisor_override"] = p["divisor_override"]
    return fn(x, kernel, stride=stride, padding=padding, ceil_mode=p["ceil_mode"],
              count_include_pad=p["count_include_pad"], **extra)
