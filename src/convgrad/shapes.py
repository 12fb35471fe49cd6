"""Pure integer maths for convolution and pooling: output sizes, padding, argument checks.

Every formula here is PyTorch's; every error names the argument and the numbers, so that a
student who asks for an impossible layer learns which constraint failed and by how much.
Nothing in this module touches an array.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import NamedTuple


def _is_int(value) -> bool:
    """An integer that is not a bool (PyTorch refuses ``stride=True``; NumPy integers are fine)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def ntuple(value, n: int, name: str, op: str | None = None) -> tuple:
    """``value`` as an n-tuple of ints: an int is repeated, a sequence must have length 1 or n.

    A wrong type is a ``TypeError`` (PyTorch's argument parser); a wrong length a
    ``RuntimeError`` naming the argument, the expected count and what was given.
    """
    prefix = f"{op}: " if op else ""
    if _is_int(value):
        return (int(value),) * n
    if isinstance(value, Sequence) and not isinstance(value, str):
        values = tuple(value)
        if not all(_is_int(v) for v in values):
            raise TypeError(f"{prefix}{name} must be an int or a sequence of {n} ints, "
                            f"got {name}={value!r}")
        if len(values) == 1:
            values = values * n
        if len(values) != n:
            raise RuntimeError(
                f"{prefix}expected {name} to be a single integer value or a list of {n} values "
                f"to match the convolution dimensions, but got {name}={[int(v) for v in values]}"
                f" ({len(values)} values for {n} spatial dimension{'s' if n > 1 else ''})"
            )
        return tuple(int(v) for v in values)
    raise TypeError(f"{prefix}{name} must be an int or a sequence of {n} ints, got {name}={value!r}")


def conv_output_size(length: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """``⌊(L + 2p − d(k−1) − 1) / s⌋ + 1``: how many windows fit along one axis."""
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_output_formula(length: int, kernel: int, stride: int, padding: int, dilation: int) -> str:
    """The output-size formula with the values substituted, for messages and explanations."""
    out = conv_output_size(length, kernel, stride, padding, dilation)
    return (f"⌊(L + 2p − d(k−1) − 1)/s⌋ + 1 = ⌊({length} + 2·{padding} − {dilation}·({kernel}−1)"
            f" − 1)/{stride}⌋ + 1 = {out}")


def same_padding(kernel: int, dilation: int) -> tuple:
    """'same' padding (stride 1): total ``d(k−1)``, ``total//2`` on the left, the rest right."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def conv_transpose_output_size(length: int, kernel: int, stride: int, padding: int,
                               dilation: int, output_padding: int) -> int:
    """``(L−1)s − 2p + d(k−1) + output_padding + 1``."""
    return (length - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def pool_output_size(length: int, kernel: int, stride: int, padding: int, dilation: int,
                     ceil_mode: bool) -> int:
    """Pooling windows along one axis, PyTorch's rule.

    ``⌊(L + 2p − d(k−1) − 1)/s⌋ + 1``, rounded up instead of down with ``ceil_mode``; a last
    window that would start at or beyond ``L + p`` (entirely in the right padding) is dropped.
    """
    numerator = length + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1
    if ceil_mode and (out - 1) * stride >= length + padding:
        out -= 1
    return out


# ------------------------------------------------------------------ convolution arguments
# The checks below run before any array is touched, in PyTorch's order where it matters, and
# raise PyTorch's exception class: TypeError for a wrong kind of argument (its parser), and
# RuntimeError for a value it refuses.

AXIS_NAMES = {1: ("L",), 2: ("H", "W")}


class ConvArguments(NamedTuple):
    """A convolution's arguments, checked, one value per spatial axis."""

    stride: tuple
    padding: tuple      # ((before, after), ...): 'same' may put one more zero after
    dilation: tuple
    groups: int
    out_size: tuple     # ⌊(L + p_before + p_after − d(k−1) − 1)/s⌋ + 1 per axis


class ConvTransposeArguments(NamedTuple):
    """A transposed convolution's arguments, checked, one value per spatial axis."""

    stride: tuple
    padding: tuple      # p per axis, cropped from both ends of the full output
    output_padding: tuple
    dilation: tuple
    groups: int
    out_size: tuple     # (L − 1)s − 2p + d(k−1) + output_padding + 1 per axis


def _input_layout(spatial: int, batched: bool) -> str:
    return "(" + ", ".join((("N",) if batched else ()) + ("C",) + AXIS_NAMES[spatial]) + ")"


def _weight_layout(spatial: int, transposed: bool) -> str:
    channels = "C_in, C_out/groups" if transposed else "C_out, C_in/groups"
    return f"({channels}, " + ", ".join("k" + a for a in AXIS_NAMES[spatial]) + ")"


def _check_dims(op: str, input_shape: tuple, weight_shape: tuple, spatial: int,
                transposed: bool) -> None:
    if len(input_shape) not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{op}: expected a {spatial + 1}-D unbatched input {_input_layout(spatial, False)} "
            f"or a {spatial + 2}-D batched input {_input_layout(spatial, True)}, but got input "
            f"of size {list(input_shape)} ({len(input_shape)}-D)")
    if len(weight_shape) != spatial + 2:
        raise RuntimeError(
            f"{op}: expected a {spatial + 2}-D weight {_weight_layout(spatial, transposed)}, "
            f"but got weight of size {list(weight_shape)} ({len(weight_shape)}-D)")
    if any(k == 0 for k in weight_shape[2:]):
        raise RuntimeError(f"{op}: every kernel size must be at least 1, but weight of size "
                           f"{list(weight_shape)} has kernel size {list(weight_shape[2:])}")


def _check_groups(op: str, groups) -> int:
    if not _is_int(groups):
        raise TypeError(f"{op}: groups must be an int, got groups={groups!r}")
    if groups <= 0:
        raise RuntimeError(f"{op}: groups must be at least 1 (non-positive groups is not "
                           f"supported), got groups={groups}")
    return int(groups)


def _check_positive(op: str, values: tuple, name: str) -> None:
    if any(v <= 0 for v in values):
        raise RuntimeError(f"{op}: {name} must be at least 1 along every axis (non-positive "
                           f"{name} is not supported), got {name}={list(values)}")


def _check_non_negative(op: str, values: tuple, name: str) -> None:
    if any(v < 0 for v in values):
        raise RuntimeError(f"{op}: {name} must be at least 0 along every axis (negative {name} "
                           f"is not supported), got {name}={list(values)}")


def _check_groups_divide(op: str, weight_shape: tuple, groups: int, what: str) -> None:
    """Dimension 0 of the weight (``what``: its channels) splits into ``groups`` equal parts."""
    first = weight_shape[0]
    if first < groups:
        raise RuntimeError(
            f"{op}: groups={groups} needs at least {groups} {what}, but weight of size "
            f"{list(weight_shape)} has {first} at dimension 0")
    if first % groups:
        raise RuntimeError(
            f"{op}: groups={groups} must divide the {what} at dimension 0 of the weight, but "
            f"weight of size {list(weight_shape)} has {first} = {first // groups}·{groups} + "
            f"{first % groups}")


def _check_bias(op: str, bias_shape, out_channels: int, rule: str, weight_shape: tuple) -> None:
    if bias_shape is not None and tuple(bias_shape) != (out_channels,):
        raise RuntimeError(
            f"{op}: bias must be 1-D with one value per output channel, {rule} = "
            f"{out_channels} for weight of size {list(weight_shape)}, but got bias of size "
            f"{list(bias_shape)}")


def conv_padding(op: str, padding, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """``padding`` (int, tuple, 'valid' or 'same') as ``((before, after), ...)`` per axis."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError(
                    f"{op}: padding='same' needs stride 1 along every axis (a strided output "
                    f"cannot keep the input's size), got stride={list(stride)}")
            return tuple(same_padding(k, d) for k, d in zip(kernel, dilation))
        raise RuntimeError(f"{op}: invalid padding string {padding!r}: padding must be 'valid', "
                           f"'same', an int or a tuple of {n} ints")
    values = ntuple(padding, n, "padding", op)
    _check_non_negative(op, values, "padding")
    return tuple((p, p) for p in values)


def conv_output_formula_padded(length: int, kernel: int, stride: int, padding: tuple,
                               dilation: int) -> str:
    """:func:`conv_output_formula` for ``padding = (before, after)``, which may differ."""
    before, after = padding
    if before == after:
        return conv_output_formula(length, kernel, stride, before, dilation)
    out = (length + before + after - dilation * (kernel - 1) - 1) // stride + 1
    return (f"⌊(L + p₁ + p₂ − d(k−1) − 1)/s⌋ + 1 = ⌊({length} + {before} + {after} − "
            f"{dilation}·({kernel}−1) − 1)/{stride}⌋ + 1 = {out}")


def conv_arguments(op: str, spatial: int, input_shape: tuple, weight_shape: tuple,
                   bias_shape, stride, padding, dilation, groups) -> ConvArguments:
    """Check a convolution's arguments as ``torch.nn.functional.conv{1,2}d`` does.

    ``input_shape`` may be batched (N, C, *L) or unbatched (C, *L); the weight is
    (C_out, C_in/groups, *k).  Returns the arguments per axis and the output size.
    """
    input_shape, weight_shape = tuple(input_shape), tuple(weight_shape)
    _check_dims(op, input_shape, weight_shape, spatial, transposed=False)
    groups = _check_groups(op, groups)
    kernel = weight_shape[2:]
    stride = ntuple(stride, spatial, "stride", op)
    _check_positive(op, stride, "stride")
    dilation = ntuple(dilation, spatial, "dilation", op)
    _check_positive(op, dilation, "dilation")
    pads = conv_padding(op, padding, kernel, stride, dilation)
    _check_groups_divide(op, weight_shape, groups, "output channels")
    channels, expected = input_shape[-spatial - 1], weight_shape[1] * groups
    if channels != expected:
        raise RuntimeError(
            f"{op}: input of size {list(input_shape)} has {channels} channels, but weight of "
            f"size {list(weight_shape)} with groups={groups} expects C_in = weight.shape[1]·groups"
            f" = {weight_shape[1]}·{groups} = {expected} channels")
    _check_bias(op, bias_shape, weight_shape[0], "C_out = weight.shape[0]", weight_shape)
    out_size = []
    for axis, length, k, s, pad, d in zip(AXIS_NAMES[spatial], input_shape[-spatial:], kernel,
                                          stride, pads, dilation):
        span, padded = d * (k - 1) + 1, length + pad[0] + pad[1]
        if padded < span:
            raise RuntimeError(
                f"{op}: the kernel is larger than the padded input along {axis}: the dilated "
                f"kernel spans d(k−1) + 1 = {d}·({k}−1) + 1 = {span} positions but the padded "
                f"input has {length} + {pad[0]} + {pad[1]} = {padded}, so the output size "
                f"{conv_output_formula_padded(length, k, s, pad, d)} is less than 1 "
                f"(input {list(input_shape)}, weight {list(weight_shape)})")
        out_size.append((padded - span) // s + 1)
    return ConvArguments(stride, pads, dilation, groups, tuple(out_size))


def conv_transpose_arguments(op: str, spatial: int, input_shape: tuple, weight_shape: tuple,
                             bias_shape, stride, padding, output_padding, groups,
                             dilation) -> ConvTransposeArguments:
    """Check a transposed convolution's arguments as ``conv_transpose{1,2}d`` does.

    The weight is (C_in, C_out/groups, *k), the convolution's weight seen from the other side.
    """
    input_shape, weight_shape = tuple(input_shape), tuple(weight_shape)
    _check_dims(op, input_shape, weight_shape, spatial, transposed=True)
    groups = _check_groups(op, groups)
    kernel = weight_shape[2:]
    for name, value in (("padding", padding), ("output_padding", output_padding)):
        if isinstance(value, str):
            raise TypeError(f"{op}: {name} must be an int or a tuple of {spatial} ints (a "
                            f"transposed convolution has no 'same' or 'valid'), got "
                            f"{name}={value!r}")
    stride = ntuple(stride, spatial, "stride", op)
    _check_positive(op, stride, "stride")
    dilation = ntuple(dilation, spatial, "dilation", op)
    _check_positive(op, dilation, "dilation")
    padding = ntuple(padding, spatial, "padding", op)
    _check_non_negative(op, padding, "padding")
    output_padding = ntuple(output_padding, spatial, "output_padding", op)
    _check_non_negative(op, output_padding, "output_padding")
    for axis, extra, s, d in zip(AXIS_NAMES[spatial], output_padding, stride, dilation):
        if extra >= s and extra >= d:
            raise RuntimeError(
                f"{op}: output_padding must be smaller than either stride or dilation, but "
                f"along {axis} output_padding={extra} while stride={s} and dilation={d} "
                f"(output_padding={list(output_padding)}, stride={list(stride)}, "
                f"dilation={list(dilation)})")
    _check_groups_divide(op, weight_shape, groups, "input channels")
    channels = input_shape[-spatial - 1]
    if channels != weight_shape[0]:
        raise RuntimeError(
            f"{op}: input of size {list(input_shape)} has {channels} channels, but weight of "
            f"size {list(weight_shape)} expects C_in = weight.shape[0] = {weight_shape[0]} "
            f"channels (a transposed convolution's weight is {_weight_layout(spatial, True)})")
    out_channels = weight_shape[1] * groups
    if out_channels == 0:
        raise RuntimeError(f"{op}: weight of size {list(weight_shape)} gives C_out = "
                           f"weight.shape[1]·groups = 0 output channels; it needs at least 1")
    _check_bias(op, bias_shape, out_channels, f"C_out = weight.shape[1]·groups = "
                f"{weight_shape[1]}·{groups}", weight_shape)
    lengths = input_shape[-spatial:]
    if any(length == 0 for length in lengths):
        raise RuntimeError(f"{op}: the input must have at least one position along every "
                           f"spatial axis (only zero batch or zero channel inputs are "
                           f"supported), got input of size {list(input_shape)}")
    out_size = []
    for axis, length, k, s, p, d, extra in zip(AXIS_NAMES[spatial], lengths, kernel, stride,
                                               padding, dilation, output_padding):
        out = conv_transpose_output_size(length, k, s, p, d, extra)
        if out < 1:
            raise RuntimeError(
                f"{op}: output size too small along {axis}: (L − 1)s − 2p + d(k−1) + "
                f"output_padding + 1 = ({length} − 1)·{s} − 2·{p} + {d}·({k}−1) + {extra} + 1 "
                f"= {out}, but it must be at least 1 (padding={p} crops more than the "
                f"{out + 2 * p - extra} positions the input spreads onto)")
        out_size.append(out)
    return ConvTransposeArguments(stride, padding, output_padding, dilation, groups,
                                  tuple(out_size))


# --- pooling argument checks (below this line) ---
