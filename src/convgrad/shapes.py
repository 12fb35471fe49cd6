"""Pure integer maths for convolution and pooling: output sizes, padding, argument checks.

Every formula here is PyTorch's; every error names the argument and the numbers, so that a
student who asks for an impossible layer learns which constraint failed and by how much.
Nothing in this module touches an array.

This is the one place where convolution and pooling arguments are checked.  A bad argument
raises :class:`ArgumentError`, whose ``kind`` says what is wrong; each front end only
translates it: ``convgrad.functional`` into PyTorch's exception class, ``convgrad explain``
into one line on the terminal, the explorer's API into a 422 answer.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

# What an ArgumentError's ``kind`` says (PyTorch raises, in order: TypeError, RuntimeError,
# NotImplementedError, and for too few dimensions RuntimeError or IndexError by operation).
ARGUMENT_KINDS = ("type", "value", "unsupported", "too_few_dims")


class ArgumentError(Exception):
    """A bad argument: ``str(error)`` is one line that names it and the numbers.

    ``kind``: ``"type"`` (a wrong kind of value: a float where an int is needed), ``"value"``
    (a value or a combination the operation refuses), ``"unsupported"`` (a mode there is no
    implementation of), ``"too_few_dims"`` (an input with too few dimensions).
    ``argument``: the name of the argument at fault where there is one (``"stride"``,
    ``"groups"``, ...), so that a form can mark its field.
    """

    def __init__(self, kind: str, message: str, argument: str | None = None):
        assert kind in ARGUMENT_KINDS, kind
        super().__init__(message)
        self.kind = kind
        self.argument = argument


def _is_int(value) -> bool:
    """An integer (Python or NumPy) that is not a bool: PyTorch refuses ``stride=True``."""
    return not isinstance(value, bool) and hasattr(type(value), "__index__")


def ntuple(value, n: int, name: str, op: str | None = None) -> tuple:
    """``value`` as an n-tuple of ints: an int is repeated, a sequence must have length 1 or n.

    A wrong type is an ``ArgumentError`` of kind "type"; a wrong length one of kind "value"
    naming the argument, the expected count and what was given.
    """
    prefix = f"{op}: " if op else ""
    if _is_int(value):
        return (int(value),) * n
    if isinstance(value, Sequence) and not isinstance(value, str):
        values = tuple(value)
        if not all(_is_int(v) for v in values):
            raise ArgumentError("type", f"{prefix}{name} must be an int or a sequence of {n} "
                                        f"ints, got {name}={value!r}", name)
        if len(values) == 1:
            values = values * n
        if len(values) != n:
            raise ArgumentError(
                "value",
                f"{prefix}expected {name} to be a single integer value or a list of {n} values "
                f"to match the convolution dimensions, but got {name}={[int(v) for v in values]}"
                f" ({len(values)} values for {n} spatial dimension{'s' if n > 1 else ''})", name)
        return tuple(int(v) for v in values)
    raise ArgumentError("type", f"{prefix}{name} must be an int or a sequence of {n} ints, "
                                f"got {name}={value!r}", name)


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
# The checks below run before any array is touched, in PyTorch's order where it matters.

AXIS_NAMES = {1: ("L",), 2: ("H", "W")}
# what the padding of nn.Conv*d holds (``padding_mode``); each but zeros copies input cells
CONV_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


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
        raise ArgumentError(
            "value",
            f"{op}: expected a {spatial + 1}-D unbatched input {_input_layout(spatial, False)} "
            f"or a {spatial + 2}-D batched input {_input_layout(spatial, True)}, but got input "
            f"of size {list(input_shape)} ({len(input_shape)}-D)", "input")
    if len(weight_shape) != spatial + 2:
        raise ArgumentError(
            "value",
            f"{op}: expected a {spatial + 2}-D weight {_weight_layout(spatial, transposed)}, "
            f"but got weight of size {list(weight_shape)} ({len(weight_shape)}-D)", "weight")
    if any(k == 0 for k in weight_shape[2:]):
        raise ArgumentError("value", f"{op}: every kernel size must be at least 1, but weight of "
                                     f"size {list(weight_shape)} has kernel size "
                                     f"{list(weight_shape[2:])}", "weight")


def _check_groups(op: str, groups) -> int:
    if not _is_int(groups):
        raise ArgumentError("type", f"{op}: groups must be an int, got groups={groups!r}",
                            "groups")
    if groups <= 0:
        raise ArgumentError("value", f"{op}: groups must be at least 1 (non-positive groups is "
                                     f"not supported), got groups={groups}", "groups")
    return int(groups)


def _check_positive(op: str, values: tuple, name: str) -> None:
    if any(v <= 0 for v in values):
        raise ArgumentError("value", f"{op}: {name} must be at least 1 along every axis "
                                     f"(non-positive {name} is not supported), got "
                                     f"{name}={list(values)}", name)


def _check_non_negative(op: str, values: tuple, name: str) -> None:
    if any(v < 0 for v in values):
        raise ArgumentError("value", f"{op}: {name} must be at least 0 along every axis "
                                     f"(negative {name} is not supported), got "
                                     f"{name}={list(values)}", name)


def _check_groups_divide(op: str, weight_shape: tuple, groups: int, what: str) -> None:
    """Dimension 0 of the weight (``what``: its channels) splits into ``groups`` equal parts."""
    first = weight_shape[0]
    if first < groups:
        raise ArgumentError("value", f"{op}: groups={groups} must divide the {what}, so it "
                                     f"needs at least {groups} {what}, but weight of size "
                                     f"{list(weight_shape)} has {first} at dimension 0",
                            "groups")
    if first % groups:
        raise ArgumentError(
            "value",
            f"{op}: groups={groups} must divide the {what} at dimension 0 of the weight, but "
            f"weight of size {list(weight_shape)} has {first} = {first // groups}·{groups} + "
            f"{first % groups}", "groups")


def _check_bias(op: str, bias_shape, out_channels: int, rule: str, weight_shape: tuple) -> None:
    if bias_shape is not None and tuple(bias_shape) != (out_channels,):
        raise ArgumentError(
            "value",
            f"{op}: bias needs one value per output channel, a 1-D tensor of {rule} = "
            f"{out_channels} values for weight of size {list(weight_shape)}, but got bias of "
            f"size {list(bias_shape)}", "bias")


def conv_padding(op: str, padding, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """``padding`` (int, tuple, 'valid' or 'same') as ``((before, after), ...)`` per axis."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ArgumentError(
                    "value",
                    f"{op}: padding='same' needs stride 1 along every axis (a strided output "
                    f"cannot keep the input's size), got stride={list(stride)}", "padding")
            return tuple(same_padding(k, d) for k, d in zip(kernel, dilation))
        raise ArgumentError("value", f"{op}: invalid padding string {padding!r}: padding must "
                                     f"be 'valid', 'same', an int or a tuple of {n} ints",
                            "padding")
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


def _check_input_channels(op: str, input_shape: tuple, weight_shape: tuple, spatial: int,
                          groups: int, transposed: bool) -> None:
    """The input's channels: a multiple of groups, and as many as the weight expects."""
    channels = input_shape[-spatial - 1]
    if transposed:
        expected = weight_shape[0]
        rule = f"C_in = weight.shape[0] = {expected}"
    else:
        expected = weight_shape[1] * groups
        rule = f"C_in = weight.shape[1]·groups = {weight_shape[1]}·{groups} = {expected}"
    if channels % groups:
        raise ArgumentError(
            "value",
            f"{op}: groups={groups} must divide the input channels, but input of size "
            f"{list(input_shape)} has {channels} channels ({channels} = {channels // groups}·"
            f"{groups} + {channels % groups}); weight of size {list(weight_shape)} expects "
            f"{rule}", "groups")
    if channels != expected:
        layout = (f" (a transposed convolution's weight is {_weight_layout(spatial, True)})"
                  if transposed else "")
        raise ArgumentError(
            "value",
            f"{op}: input of size {list(input_shape)} has {channels} channels, but weight of "
            f"size {list(weight_shape)} with groups={groups} expects {rule} channels{layout}",
            "weight")


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
    if input_shape[-spatial - 1] % groups == 0:  # else the input's channels say it first
        _check_groups_divide(op, weight_shape, groups, "output channels")
    _check_input_channels(op, input_shape, weight_shape, spatial, groups, transposed=False)
    _check_bias(op, bias_shape, weight_shape[0], "C_out = weight.shape[0]", weight_shape)
    out_size = []
    for axis, length, k, s, pad, d in zip(AXIS_NAMES[spatial], input_shape[-spatial:], kernel,
                                          stride, pads, dilation):
        span, padded = d * (k - 1) + 1, length + pad[0] + pad[1]
        if padded < span:
            raise ArgumentError(
                "value",
                f"{op}: the kernel is larger than the padded input along {axis}: the dilated "
                f"kernel spans d(k−1) + 1 = {d}·({k}−1) + 1 = {span} positions but the padded "
                f"input has {length} + {pad[0]} + {pad[1]} = {padded}, so the output size "
                f"{conv_output_formula_padded(length, k, s, pad, d)}, but it must be at least 1 "
                f"(input {list(input_shape)}, weight {list(weight_shape)})", "weight")
        out_size.append((padded - span) // s + 1)
    batched = len(input_shape) == spatial + 2
    if all(input_shape[:2 if batched else 1]) and 0 in input_shape[-spatial:]:
        raise ArgumentError("value", f"{op}: the input must have at least one position along "
                                     f"every spatial axis (only zero batch or zero channel "
                                     f"inputs are supported), got input of size "
                                     f"{list(input_shape)}", "input")
    return ConvArguments(stride, pads, dilation, groups, tuple(out_size))


def check_conv_padding_mode(op: str, mode, padding: tuple, lengths: tuple) -> None:
    """``padding_mode`` of ``nn.Conv*d``, for ``padding`` ``((before, after), ...)`` per axis.

    reflect mirrors about the edge cell without repeating it, so it must be smaller than the
    input; circular wraps around, at most once.
    """
    if mode not in CONV_PADDING_MODES:
        raise ArgumentError("value", f"{op}: padding_mode must be one of "
                                     f"{', '.join(CONV_PADDING_MODES)}, got {mode!r}",
                            "padding_mode")
    for axis, (before, after), length in zip(AXIS_NAMES[len(lengths)], padding, lengths):
        biggest = max(before, after)
        if mode == "reflect" and biggest >= length:
            raise ArgumentError("value", f"{op}: reflect padding along {axis} must be smaller "
                                         f"than the input size ({length}), got "
                                         f"padding={biggest}", "padding")
        if mode == "circular" and biggest > length:
            raise ArgumentError("value", f"{op}: circular padding along {axis} must be at most "
                                         f"the input size ({length}) (it would wrap around more "
                                         f"than once), got padding={biggest}", "padding")


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
            raise ArgumentError("type", f"{op}: {name} must be an int or a tuple of {spatial} "
                                        f"ints (a transposed convolution has no 'same' or "
                                        f"'valid'), got {name}={value!r}", name)
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
            raise ArgumentError(
                "value",
                f"{op}: output_padding along {axis} must be smaller than either stride or "
                f"dilation, but output_padding={extra} while stride={s} and dilation={d} "
                f"(output_padding={list(output_padding)}, stride={list(stride)}, "
                f"dilation={list(dilation)})", "output_padding")
    _check_groups_divide(op, weight_shape, groups, "input channels")
    _check_input_channels(op, input_shape, weight_shape, spatial, groups, transposed=True)
    out_channels = weight_shape[1] * groups
    if out_channels == 0:
        raise ArgumentError("value", f"{op}: weight of size {list(weight_shape)} gives C_out = "
                                     f"weight.shape[1]·groups = 0 output channels; it needs at "
                                     f"least 1", "weight")
    _check_bias(op, bias_shape, out_channels, f"C_out = weight.shape[1]·groups = "
                f"{weight_shape[1]}·{groups}", weight_shape)
    lengths = input_shape[-spatial:]
    if any(length == 0 for length in lengths):
        raise ArgumentError("value", f"{op}: the input must have at least one position along "
                                     f"every spatial axis (only zero batch or zero channel "
                                     f"inputs are supported), got input of size "
                                     f"{list(input_shape)}", "input")
    out_size = []
    for axis, length, k, s, p, d, extra in zip(AXIS_NAMES[spatial], lengths, kernel, stride,
                                               padding, dilation, output_padding):
        out = conv_transpose_output_size(length, k, s, p, d, extra)
        if out < 1:
            raise ArgumentError(
                "value",
                f"{op}: output size too small along {axis}: (L − 1)s − 2p + d(k−1) + "
                f"output_padding + 1 = ({length} − 1)·{s} − 2·{p} + {d}·({k}−1) + {extra} + 1 "
                f"= {out}, but it must be at least 1 (padding={p} crops more than the "
                f"{out + 2 * p - extra} positions the input spreads onto)", "padding")
        out_size.append(out)
    return ConvTransposeArguments(stride, padding, output_padding, dilation, groups,
                                  tuple(out_size))


# ------------------------------------------------------------------ pooling arguments
def _pool_int_tuple(op: str, value, n: int, name: str) -> tuple:
    """``value`` (an int or a sequence of 1 or n ints) as an n-tuple of Python ints."""
    if _is_int(value):
        return (int(value),) * n
    if isinstance(value, (tuple, list)):
        if not all(_is_int(v) for v in value):
            raise ArgumentError("type", f"{op}: {name} must be an int or a tuple of {n} ints, "
                                        f"got {name}={value!r}", name)
        if len(value) not in (1, n):
            raise ArgumentError(
                "value",
                f"{op}: {name} must be a single int or a tuple of {n} int{'s' if n > 1 else ''}"
                f" (one per spatial axis {', '.join(AXIS_NAMES[n])}), got {name}={value!r} with "
                f"{len(value)} value{'s' if len(value) != 1 else ''}", name)
        return ntuple(tuple(int(v) for v in value), n, name)
    raise ArgumentError("type", f"{op}: {name} must be an int or a tuple of {n} ints, got "
                                f"{name}={value!r}", name)


def _check_window_positive(op: str, values: tuple, name: str) -> None:
    if any(v <= 0 for v in values):
        raise ArgumentError("value", f"{op}: {name} must be greater than zero along every axis, "
                                     f"got {name}={values}", name)


def pool_window_arguments(op: str, n: int, kernel_size, stride, padding, dilation=1) -> tuple:
    """Check a pooling window's arguments; returns ``(kernel, stride, padding, dilation)``.

    Each is an n-tuple.  ``stride`` None (or an empty tuple, as PyTorch allows) means the
    kernel size: windows side by side.  ``padding`` may be at most half the kernel
    (``p ≤ ⌊k/2⌋``; the dilation does not enter), so that every window holds a real element.
    """
    kernel = _pool_int_tuple(op, kernel_size, n, "kernel_size")
    _check_window_positive(op, kernel, "kernel_size")
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        strides = kernel
    else:
        strides = _pool_int_tuple(op, stride, n, "stride")
        _check_window_positive(op, strides, "stride")
    dilations = _pool_int_tuple(op, dilation, n, "dilation")
    _check_window_positive(op, dilations, "dilation")
    pads = _pool_int_tuple(op, padding, n, "padding")
    if any(p < 0 for p in pads):
        raise ArgumentError("value", f"{op}: padding must be non-negative along every axis, "
                                     f"got padding={pads}", "padding")
    for axis, p, k in zip(AXIS_NAMES[n], pads, kernel):
        if p > k // 2:
            raise ArgumentError(
                "value",
                f"{op}: padding along {axis} must be at most half the kernel size (p ≤ ⌊k/2⌋ = "
                f"⌊{k}/2⌋ = {k // 2}), got along {axis} padding={p} and kernel_size={k} "
                f"(padding={pads}, kernel_size={kernel})", "padding")
    return kernel, strides, pads, dilations


def pool_output_formula(length: int, kernel: int, stride: int, padding: int, dilation: int,
                        ceil_mode: bool) -> str:
    """The pooling output-size formula with the values substituted, for messages."""
    out = pool_output_size(length, kernel, stride, padding, dilation, ceil_mode)
    inner = f"({length} + 2·{padding} − {dilation}·({kernel}−1) − 1)/{stride}"
    if not ceil_mode:
        return f"⌊(L + 2p − d(k−1) − 1)/s⌋ + 1 = ⌊{inner}⌋ + 1 = {out}"
    rounded = -((-(length + 2 * padding - dilation * (kernel - 1) - 1)) // stride) + 1
    text = f"⌈(L + 2p − d(k−1) − 1)/s⌉ + 1 = ⌈{inner}⌉ + 1 = {rounded}"
    if rounded != out:
        text += (f", less the last window, which would start at (out−1)·s = "
                 f"{(rounded - 1) * stride} ≥ L + p = {length + padding}: {out}")
    return text


def pool_output_shape(op: str, input_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
                      dilation: tuple, ceil_mode: bool) -> tuple:
    """The pooled spatial sizes, each at least 1 (else an ArgumentError quoting the formula)."""
    n = len(kernel)
    sizes = []
    for axis, length, k, s, p, d in zip(AXIS_NAMES[n], input_shape[-n:], kernel, stride,
                                        padding, dilation):
        out = pool_output_size(length, k, s, p, d, ceil_mode)
        if out <= 0:
            raise ArgumentError(
                "value",
                f"{op}: output size is too small along {axis}: "
                f"{pool_output_formula(length, k, s, p, d, ceil_mode)}, but it must be at "
                f"least 1 (input of size {list(input_shape)}, kernel_size={kernel}, "
                f"stride={stride}, padding={padding}, dilation={dilation}, "
                f"ceil_mode={ceil_mode})", "kernel_size")
        sizes.append(out)
    return tuple(sizes)


def check_pool_input(op: str, input_shape: tuple, n: int, *, empty_channels: bool = False) -> bool:
    """An input of n spatial axes: (C, *spatial) or (N, C, *spatial).  Returns ``batched``.

    Only the batch may be empty (and the channels too where ``empty_channels``: the adaptive
    pools accept them).  Too few dimensions is kind "too_few_dims" (PyTorch's ``avg_pool2d``
    fails on them with an IndexError).
    """
    shape, axes = tuple(input_shape), AXIS_NAMES[n]
    layouts = f"({', '.join(('C',) + axes)}) or ({', '.join(('N', 'C') + axes)})"
    if len(shape) not in (n + 1, n + 2):
        kind = "too_few_dims" if len(shape) < n + 1 else "value"
        raise ArgumentError(kind,
                            f"{op}: expected a {n + 1}-D or {n + 2}-D input {layouts}, but got "
                            f"input of size {list(shape)} ({len(shape)}-D)", "input")
    batched = len(shape) == n + 2
    must_be_filled = shape[-n:] if empty_channels else shape[1 if batched else 0:]
    if any(size == 0 for size in must_be_filled):
        allowed = "the batch N and channels C" if empty_channels else "the batch N"
        raise ArgumentError("value",
                            f"{op}: expected input {layouts} with only {allowed} allowed to be "
                            f"0, but got input of size {list(shape)}")
    return batched


def adaptive_pool_output_size(op: str, n: int, output_size, input_shape: tuple) -> tuple:
    """``output_size`` for an adaptive pool: an int, or n entries each an int or None.

    None keeps that axis's input size; 0 gives an empty output (as PyTorch).
    """
    if n == 1:
        if _is_int(output_size):
            sizes = (int(output_size),)
        elif isinstance(output_size, (tuple, list)) and all(_is_int(v) for v in output_size):
            if len(output_size) != 1:
                raise ArgumentError("value",
                                    f"{op}: output_size must be a single int, got "
                                    f"output_size={output_size!r} with {len(output_size)} values")
            sizes = (int(output_size[0]),)
        else:
            raise ArgumentError("type",
                                f"{op}: output_size must be an int, got "
                                f"output_size={output_size!r}")
    else:
        if _is_int(output_size):
            sizes = (int(output_size),) * n
        elif isinstance(output_size, (tuple, list)):
            if len(input_shape) <= len(output_size):
                # PyTorch fills None entries from the input's trailing sizes before anything
                # else, and refuses an input without that many (a ValueError there).
                raise ArgumentError("too_few_dims",
                                    f"{op}: Input dimension should be at least "
                                    f"{len(output_size) + 1} for output_size={output_size!r}, "
                                    f"got input of size {list(input_shape)}", "input")
            if not all(v is None or _is_int(v) for v in output_size):
                raise ArgumentError("type",
                                    f"{op}: output_size must be an int or a tuple of {n} ints or "
                                    f"None, got output_size={output_size!r}")
            if len(output_size) != n:
                raise ArgumentError("value",
                                    f"{op}: output_size must have {n} entries (one per axis "
                                    f"{', '.join(AXIS_NAMES[n])}), got output_size="
                                    f"{output_size!r} with {len(output_size)}")
            sizes = tuple(length if v is None else int(v)
                          for v, length in zip(output_size, input_shape[-n:]))
        else:
            raise ArgumentError("type",
                                f"{op}: output_size must be an int or a tuple of {n} ints or None, "
                                f"got output_size={output_size!r}")
    if any(size < 0 for size in sizes):
        raise ArgumentError("value",
                            f"{op}: elements of output_size must be greater than or equal to 0, "
                            f"got output_size={sizes}")
    return sizes


def check_divisor_override(op: str, divisor_override) -> None:
    """``divisor_override``: None, or a non-zero int that replaces every window's divisor."""
    if divisor_override is None:
        return
    if not _is_int(divisor_override):
        raise ArgumentError("type", f"{op}: divisor_override must be an int or None, got "
                                    f"divisor_override={divisor_override!r}", "divisor_override")
    if divisor_override == 0:
        raise ArgumentError("value",
                            f"{op}: divisor_override must not be zero (every window's sum is "
                            f"divided by it), got divisor_override=0", "divisor_override")


# ------------------------------------------------------------------ F.pad
PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_dims_text(count: int) -> str:
    return "the last dimension" if count == 1 else f"the last {count} dimensions"


def pad_arguments(input_shape: tuple, pad, mode: str, value) -> tuple:
    """Check ``F.pad``'s arguments; returns ``((before, after), ...)`` for the padded dims.

    ``pad`` lists (before, after) pairs starting from the last dimension, as PyTorch; the
    result is in dimension order (first padded dimension first).  A negative amount crops.
    """
    shape = tuple(input_shape)
    if not isinstance(pad, (tuple, list)) or not all(_is_int(v) for v in pad):
        raise ArgumentError("type", f"pad: pad must be a tuple of ints (before, after) per padded "
                                    f"dimension, last dimension first, got pad={pad!r}")
    amounts = tuple(int(v) for v in pad)
    if len(amounts) % 2:
        raise ArgumentError("value",
                            f"pad: the length of pad must be divisible by 2 (a (before, after) "
                            f"pair per dimension), got pad={amounts} of length {len(amounts)}")
    if len(amounts) > 2 * len(shape):
        raise ArgumentError("value", f"pad: pad of length {len(amounts)} pads {len(amounts) // 2} "
                                     f"dimensions, but the input of size {list(shape)} has only "
                                     f"{len(shape)}; the length must be at most 2·{len(shape)} = "
                                     f"{2 * len(shape)}")
    if mode not in PAD_MODES:
        raise ArgumentError("unsupported",
                            f"pad: unrecognised padding mode {mode!r}; mode must be one "
                            f"of {', '.join(repr(m) for m in PAD_MODES)}")
    count = len(amounts) // 2
    pairs = tuple((amounts[2 * i], amounts[2 * i + 1]) for i in reversed(range(count)))
    lengths = shape[len(shape) - count:]
    if mode == "constant":
        for dim, length, (before, after) in zip(range(len(shape) - count, len(shape)),
                                                lengths, pairs):
            kept = length - max(-before, 0) - max(-after, 0)
            if kept < 0:
                raise ArgumentError(
                    "value",
                    f"pad: negative padding crops more than dimension {dim} holds: cropping "
                    f"{max(-before, 0)} + {max(-after, 0)} from size {length} "
                    f"(pad {(before, after)}, input of size {list(shape)})")
        return pairs
    if value is not None and value != 0:
        raise ArgumentError("value",
                            f"pad: padding mode {mode!r} doesn't take a value argument (only "
                            f"'constant' fills with a value), got value={value!r}")
    if count not in (1, 2, 3) or len(shape) not in (count + 1, count + 2):
        raise ArgumentError(
            "unsupported",
            f"pad: {mode} padding with pad of length {len(amounts)} pads "
            f"{_pad_dims_text(count)} and needs a {count + 1}-D or {count + 2}-D input "
            f"(non-constant modes pad 1 to 3 dimensions), but got input of size {list(shape)}"
            f" ({len(shape)}-D)")
    batched = len(shape) == count + 2
    if mode != "circular" and any(size == 0 for size in shape[1 if batched else 0:]):
        raise ArgumentError("value",
                            f"pad: {mode} padding needs every dimension but the batch to be "
                            f"non-empty, got input of size {list(shape)}")
    for dim, length, (before, after) in zip(range(len(shape) - count, len(shape)),
                                            lengths, pairs):
        out = length + before + after
        where = f"(pad {(before, after)} at dimension {dim} of input of size {list(shape)})"
        if mode == "reflect" and (before >= length or after >= length):
            raise ArgumentError(
                "value",
                f"pad: reflect padding must be smaller than the dimension it pads, since it "
                f"mirrors about the edge element without repeating it: got padding "
                f"{max(before, after)} for size {length} {where}")
        if mode == "circular":
            if before > length or after > length:
                raise ArgumentError(
                    "value",
                    f"pad: circular padding may wrap around at most once, so it must be at "
                    f"most the size of the dimension: got padding {max(before, after)} for "
                    f"size {length} {where}")
            kept = length - max(-before, 0) - max(-after, 0)
            if out < 0:
                raise ArgumentError("value",
                                    f"pad: negative circular padding leaves a dimension of "
                                    f"size {length} + {before} + {after} = {out} {where}")
            if out > 0 and max(before, after, 0) > kept:
                raise ArgumentError(
                    "value",
                    f"pad: circular padding of {max(before, after)} wraps the {kept} element"
                    f"{'s' if kept != 1 else ''} left after cropping more than once {where}")
        elif out < 1:
            raise ArgumentError("value",
                                f"pad: {mode} padding leaves dimension {dim} with size "
                                f"{length} + {before} + {after} = {out}, but it must be at "
                                f"least 1 {where}")
    return pairs
