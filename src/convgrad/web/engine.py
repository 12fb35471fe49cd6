"""The same operation through convgrad's engine (``convgrad.functional``), checked against the trace.

The explorer draws the trace (``convgrad.explain``), a plain reference computation that lists
every product.  This module runs the engine that trains the models on the same values, with
the page's upstream gradient, and reports how far apart the two are, so the page can say
"the engine agrees" with numbers behind it.  While the engine lacks an operation (it is built
family by family), the report says so instead of failing.
"""
from __future__ import annotations

import time

import numpy as np

from ..explain.model import Trace

# |engine − trace| ≤ RELATIVE_TOLERANCE · max(1, max |trace|), per array: the two sum in
# different orders, so float64 rounding may differ in the last bits.
RELATIVE_TOLERANCE = 1e-9


def _function(name: str):
    import convgrad.functional as F
    return getattr(F, name, None)


def run_engine(trace: Trace) -> dict:
    """Run ``trace``'s operation through ``convgrad.functional``; compare output and gradients."""
    import convgrad as cg

    name = f"convgrad.functional.{trace.op}"
    report = {"function": name, "available": False}
    fn = _function(trace.op)
    mode = trace.params.get("padding_mode", "zeros")
    if fn is None:
        report["reason"] = f"{name} is not in this version of the engine yet"
        return report
    if mode != "zeros" and _function("pad") is None:
        report["reason"] = (f"padding_mode={mode!r} needs convgrad.functional.pad, which is not "
                            f"in this version of the engine yet")
        return report
    report["available"] = True

    def leaf(values):
        return cg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)

    x = leaf([trace.input])
    w = None if trace.weight is None else leaf(trace.weight)
    b = None if trace.bias is None else leaf(trace.bias)
    started = time.perf_counter()
    try:
        y = _call(fn, trace, x, w, b)
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
        difference = float(np.max(np.abs(np.asarray(engine_values, np.float64) - reference)))
        differences[key] = difference
        scale = max(1.0, float(np.max(np.abs(reference))))
        agrees = agrees and difference <= RELATIVE_TOLERANCE * scale
    report["max_abs_difference"] = differences
    known = [d for d in differences.values() if d is not None]
    report["largest_difference"] = max(known) if known else None
    report["agrees"] = agrees
    return report


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
            pads = tuple(amount for pair in reversed(p["padding"]) for amount in pair)
            return fn(F.pad(x, pads, mode=mode), w, b, stride=stride, padding=0,
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
