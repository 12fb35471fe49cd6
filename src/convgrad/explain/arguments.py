"""Argument checks and per-axis size derivations shared by every trace.

The sizes come from ``convgrad.shapes`` (PyTorch's formulas); this module adds what an
explanation needs around them: the formula written out with its values, a sentence for each
surprising step ('same' splitting its padding, ceil_mode dropping a window, transposed-conv
padding cropping the output), and ``TraceError`` messages that name the constraint that
failed.  It also maps a padding coordinate to the real cell it copies (reflect, replicate,
circular).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import shapes
from .model import MAX_ELEMENTS, AxisSize, TraceError, TraceTooLarge

AXIS_NAMES = {1: ("L",), 2: ("H", "W")}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def shape_text(shape) -> str:
    return "×".join(str(n) for n in shape)


def as_array(value, name: str, op: str, layout: str, ndim: int) -> np.ndarray:
    """``value`` as a float64 array of ``ndim`` dimensions, every one non-empty."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError) as error:
        raise TraceError(f"{op}: {name} must be a rectangular array of numbers "
                         f"({error})") from None
    if array.ndim != ndim:
        raise TraceError(f"{op}: {name} must have {ndim} dimensions {layout}, got shape "
                         f"{shape_text(array.shape) or 'scalar'}")
    if array.size == 0:
        raise TraceError(f"{op}: {name} is empty (shape {shape_text(array.shape)}); every "
                         f"dimension of {layout} must be at least 1")
    return array


def as_int(value, name: str, op: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise TraceError(f"{op}: {name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise TraceError(f"{op}: {name} must be at least {minimum}, got {value}")
    return value


def per_axis(value, dims: int, name: str, op: str, minimum: int) -> tuple:
    """An int or a sequence of ``dims`` ints (or one), each at least ``minimum``."""
    if isinstance(value, (list, tuple)):
        values = list(value)
        if len(values) == 1:
            values = values * dims
        if len(values) != dims:
            raise TraceError(f"{op}: {name} must be one integer or {dims} (one per axis "
                             f"{', '.join(AXIS_NAMES[dims])}), got {len(values)}: {list(value)}")
        return tuple(as_int(v, name, op, minimum) for v in values)
    return (as_int(value, name, op, minimum),) * dims


def check_size(op: str, products: int, elements: int, max_products: int) -> None:
    """Refuse a trace that would enumerate more than the bound allows."""
    if products > max_products:
        raise TraceTooLarge(f"{op}: this trace would list {products} products, more than the "
                            f"bound of {max_products}; use a smaller input, kernel or fewer "
                            f"channels (a trace enumerates every product)")
    if elements > MAX_ELEMENTS:
        raise TraceTooLarge(f"{op}: this trace would list {elements} input and output "
                            f"elements, more than the bound of {MAX_ELEMENTS}; use a smaller "
                            f"input")


# ------------------------------------------------------------------ output sizes per axis
def conv_axis(op, axis, length, kernel, stride, before, after, dilation, same=False) -> AxisSize:
    """``⌊(L + 2p − d(k−1) − 1)/s⌋ + 1`` along one axis, checked to be at least 1."""
    out = shapes.conv_output_size(length + (after - before), kernel, stride, before, dilation)
    if before == after:
        formula = f"⌊({axis} + 2p − d(k−1) − 1)/s⌋ + 1"
        values = f"⌊({length} + 2·{before} − {dilation}·({kernel}−1) − 1)/{stride}⌋ + 1"
    else:
        formula = f"⌊({axis} + p₁ + p₂ − d(k−1) − 1)/s⌋ + 1"
        values = (f"⌊({length} + {before} + {after} − {dilation}·({kernel}−1) − 1)/{stride}⌋"
                  f" + 1")
    notes = []
    if same:
        total = dilation * (kernel - 1)
        notes.append(f"padding='same' pads d(k−1) = {dilation}·({kernel}−1) = {total} in all: "
                     f"{before} before and {after} after (the odd one goes after), so the "
                     f"output keeps the input's size {length}")
    if out < 1:
        span = dilation * (kernel - 1) + 1
        raise TraceError(
            f"{op}: output size along {axis} is {values} = {out}, but it must be at least 1: "
            f"the dilated kernel spans d(k−1) + 1 = {span} cells and the padded input has only "
            f"{length + before + after}")
    return AxisSize(axis, length, kernel, stride, (before, after), dilation, None, None,
                    formula, f"{values} = {out}", out, notes)


def transpose_axis(op, axis, length, kernel, stride, padding, dilation, output_padding) -> AxisSize:
    """``(L−1)s − 2p + d(k−1) + output_padding + 1`` along one axis."""
    if output_padding >= stride and output_padding >= dilation:
        raise TraceError(f"{op}: output_padding along {axis} must be smaller than either stride "
                         f"or dilation, got output_padding={output_padding}, stride={stride}, "
                         f"dilation={dilation}")
    out = shapes.conv_transpose_output_size(length, kernel, stride, padding, dilation,
                                            output_padding)
    formula = f"({axis} − 1)·s − 2p + d(k−1) + output_padding + 1"
    values = (f"({length} − 1)·{stride} − 2·{padding} + {dilation}·({kernel}−1) + "
              f"{output_padding} + 1")
    if out < 1:
        raise TraceError(f"{op}: output size along {axis} is {values} = {out}, but it must be at "
                         f"least 1: padding={padding} crops more than the "
                         f"{(length - 1) * stride + dilation * (kernel - 1) + 1} positions the "
                         f"input scatters onto")
    full = (length - 1) * stride + dilation * (kernel - 1) + 1
    notes = [f"each input cell i scatters onto outputs i·s − p + τ·d: the full scatter covers "
             f"({axis}−1)·s + d(k−1) + 1 = {full} positions"]
    if padding or output_padding:
        notes.append(f"padding={padding} crops {padding} from each end"
                     + (f"; output_padding={output_padding} adds {output_padding} back at the end"
                        if output_padding else ""))
    return AxisSize(axis, length, kernel, stride, (padding, padding), dilation, output_padding,
                    None, formula, f"{values} = {out}", out, notes)


def pool_axis(op, axis, length, kernel, stride, padding, dilation, ceil_mode) -> AxisSize:
    """PyTorch's pooling size along one axis: floor (or ceil) formula, last-window rule."""
    if padding > kernel // 2:
        raise TraceError(f"{op}: padding along {axis} must be at most half the kernel size "
                         f"(p ≤ ⌊k/2⌋ = ⌊{kernel}/2⌋ = {kernel // 2}), got padding={padding}")
    out = shapes.pool_output_size(length, kernel, stride, padding, dilation, ceil_mode)
    bracket = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    formula = f"{bracket[0]}({axis} + 2p − d(k−1) − 1)/s{bracket[1]} + 1"
    values = (f"{bracket[0]}({length} + 2·{padding} − {dilation}·({kernel}−1) − 1)/{stride}"
              f"{bracket[1]} + 1")
    numerator = length + 2 * padding - dilation * (kernel - 1) - 1
    notes = []
    substituted = f"{values} = {out}"
    if ceil_mode:
        rounded_up = -(-numerator // stride) + 1
        floor = numerator // stride + 1
        if rounded_up != out:
            substituted = f"{values} = {rounded_up}, then {out}"
            notes.append(f"ceil_mode: the last window would start at ({rounded_up}−1)·{stride} − "
                         f"{padding} = {(rounded_up - 1) * stride - padding} ≥ {axis} = {length}, "
                         f"entirely in the right padding, so it is dropped")
        elif out > floor:
            notes.append(f"ceil_mode rounds up: a last, partial window is kept ({out} instead of "
                         f"{floor})")
    if out < 1:
        span = dilation * (kernel - 1) + 1
        raise TraceError(f"{op}: output size along {axis} is {values} = {out}, but it must be "
                         f"at least 1: the window spans d(k−1) + 1 = {span} cells and the "
                         f"padded input has only {length + 2 * padding}")
    return AxisSize(axis, length, kernel, stride, (padding, padding), dilation, None,
                    bool(ceil_mode), formula, substituted, out, notes)


# ------------------------------------------------------------------ padding
def normalise_conv_padding(op, padding, dims, kernel, stride, dilation) -> tuple:
    """Padding as ``((before, after), ...)`` per axis: an int, a tuple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in range(dims))
        if padding == "same":
            if any(s != 1 for s in stride):
                raise TraceError(f"{op}: padding='same' needs stride 1 (the output would not "
                                 f"keep the input's size otherwise), got stride={list(stride)}")
            return tuple(shapes.same_padding(k, d) for k, d in zip(kernel, dilation))
        raise TraceError(f"{op}: padding must be an integer, one per axis, 'same' or 'valid', "
                         f"got {padding!r}")
    return tuple((p, p) for p in per_axis(padding, dims, "padding", op, 0))


def pad_widths(padding) -> tuple:
    """``((before, after), ...)`` per axis as ``F.pad``'s flat argument, which lists the
    pairs from the last axis to the first: ``((1, 2), (3, 4))`` → ``(3, 4, 1, 2)``."""
    return tuple(amount for before_after in reversed(padding) for amount in before_after)


def source_index(position: int, length: int, mode: str) -> int:
    """The real cell that padding coordinate ``position`` copies under ``mode``."""
    if mode == "reflect":  # mirror about the edge cell, which is not repeated
        period = 2 * (length - 1)
        if period == 0:
            return 0
        position = position % period
        return position if position < length else period - position
    if mode == "replicate":  # the edge cell, repeated
        return min(max(position, 0), length - 1)
    if mode == "circular":  # wrap around
        return position % length
    raise ValueError(mode)


def check_padding_mode(op, mode, padding, lengths, axes) -> None:
    if mode not in PADDING_MODES:
        raise TraceError(f"{op}: padding_mode must be one of {', '.join(PADDING_MODES)}, got "
                         f"{mode!r}")
    for (before, after), length, axis in zip(padding, lengths, axes):
        biggest = max(before, after)
        if mode == "reflect" and biggest >= length:
            raise TraceError(f"{op}: reflect padding along {axis} must be smaller than the input "
                             f"size ({length}), got padding={biggest}")
        if mode == "circular" and biggest > length:
            raise TraceError(f"{op}: circular padding along {axis} must be at most the input size "
                             f"({length}) (it would wrap around more than once), got "
                             f"padding={biggest}")


def product(values) -> int:
    return int(math.prod(values))
