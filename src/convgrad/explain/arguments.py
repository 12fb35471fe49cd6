"""What a trace needs around ``convgrad.shapes``: its arrays, its size bound, and the output
size written out for a person.

The arguments themselves (stride, padding, dilation, groups, ...) are checked by
``convgrad.shapes``, the one place that knows PyTorch's rules; ``trace_errors`` turns its
``ArgumentError`` into this package's ``TraceError`` with the same message.  This module adds
the explanation around the sizes: the formula written out with its values and a sentence for
each surprising step ('same' splitting its padding, ceil_mode dropping a window,
transposed-conv padding cropping the output).  It also maps a padding coordinate to the real
cell it copies (reflect, replicate, circular), with the kernel's own map.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from .. import shapes
from ..kernels.pool import pad_forward
from .model import MAX_ELEMENTS, AxisSize, TraceError, TraceTooLarge
from .parse import first_non_number

AXIS_NAMES = shapes.AXIS_NAMES


def shape_text(shape) -> str:
    return "×".join(str(n) for n in shape)


@contextmanager
def trace_errors():
    """Run the block; a ``shapes.ArgumentError`` leaves it as a ``TraceError``."""
    try:
        yield
    except shapes.ArgumentError as error:
        raise TraceError(str(error), argument=error.argument) from None


def as_array(value, name: str, op: str, layout: str, ndim: int) -> np.ndarray:
    """``value`` as a float64 array of ``ndim`` dimensions, every one non-empty.

    Only numbers count as numbers: a bool or a string (``True``, ``"1"``) is refused here as
    the text form refuses it (``parse.first_non_number``, one rule for both).
    """
    problem = first_non_number(value, ndim)
    if problem:
        raise TraceError(f"{op}: {name}{problem}", argument=name)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError) as error:
        raise TraceError(f"{op}: {name} must be a rectangular array of numbers "
                         f"({error})", argument=name) from None
    if array.ndim != ndim:
        raise TraceError(f"{op}: {name} must have {ndim} dimensions {layout}, got shape "
                         f"{shape_text(array.shape) or 'scalar'}", argument=name)
    if array.size == 0:
        raise TraceError(f"{op}: {name} is empty (shape {shape_text(array.shape)}); every "
                         f"dimension of {layout} must be at least 1", argument=name)
    return array


def check_size(op: str, products: int, elements: int, max_products: int) -> None:
    """Refuse a trace that would enumerate more than the bound allows."""
    if products > max_products:
        raise TraceTooLarge(f"{op}: this trace would list {products} products, more than the "
                            f"bound of {max_products}; use a smaller input, kernel or fewer "
                            f"channels (a trace enumerates every product)",
                            products, max_products, "products")
    if elements > MAX_ELEMENTS:
        raise TraceTooLarge(f"{op}: this trace would list {elements} input and output "
                            f"elements, more than the bound of {MAX_ELEMENTS}; use a smaller "
                            f"input", elements, MAX_ELEMENTS, "elements")


# ------------------------------------------------------------------ output sizes per axis
# The sizes were checked by ``shapes`` (each at least 1); these only write them out.
def conv_axis(axis, length, kernel, stride, before, after, dilation, same=False) -> AxisSize:
    """``⌊(L + 2p − d(k−1) − 1)/s⌋ + 1`` along one axis, with its values."""
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
    return AxisSize(axis, length, kernel, stride, (before, after), dilation, None, None,
                    formula, f"{values} = {out}", out, notes)


def transpose_axis(axis, length, kernel, stride, padding, dilation, output_padding) -> AxisSize:
    """``(L−1)s − 2p + d(k−1) + output_padding + 1`` along one axis, with its values."""
    out = shapes.conv_transpose_output_size(length, kernel, stride, padding, dilation,
                                            output_padding)
    formula = f"({axis} − 1)·s − 2p + d(k−1) + output_padding + 1"
    values = (f"({length} − 1)·{stride} − 2·{padding} + {dilation}·({kernel}−1) + "
              f"{output_padding} + 1")
    full = (length - 1) * stride + dilation * (kernel - 1) + 1
    notes = [f"each input cell i scatters onto outputs i·s − p + τ·d: the full scatter covers "
             f"({axis}−1)·s + d(k−1) + 1 = {full} positions"]
    if padding or output_padding:
        notes.append(f"padding={padding} crops {padding} from each end"
                     + (f"; output_padding={output_padding} adds {output_padding} back at the end"
                        if output_padding else ""))
    return AxisSize(axis, length, kernel, stride, (padding, padding), dilation, output_padding,
                    None, formula, f"{values} = {out}", out, notes)


def pool_axis(axis, length, kernel, stride, padding, dilation, ceil_mode) -> AxisSize:
    """PyTorch's pooling size along one axis (floor or ceil, last-window rule), with its
    values."""
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
    return AxisSize(axis, length, kernel, stride, (padding, padding), dilation, None,
                    bool(ceil_mode), formula, substituted, out, notes)


# ------------------------------------------------------------------ padding
def pad_widths(padding) -> tuple:
    """``((before, after), ...)`` per axis as ``F.pad``'s flat argument, which lists the
    pairs from the last axis to the first: ``((1, 2), (3, 4))`` → ``(3, 4, 1, 2)``."""
    return tuple(amount for before_after in reversed(padding) for amount in before_after)


def source_index(position: int, length: int, mode: str) -> int:
    """The real cell that padding coordinate ``position`` copies under ``mode`` (reflect,
    replicate, circular): the padding kernel's own answer, read off a padded ramp
    ``0, 1, …, length−1``."""
    before, after = max(-position, 0), max(position - length + 1, 0)
    ramp, _ = pad_forward(np.arange(length)[None, None], ((before, after),), mode, None)
    return int(ramp[0, 0, position + before])


def product(values) -> int:
    return int(math.prod(values))
