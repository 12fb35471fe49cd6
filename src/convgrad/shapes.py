"""Pure integer maths for convolution and pooling: output sizes, padding, argument checks.

Every formula here is PyTorch's; every error names the argument and the numbers, so that a
student who asks for an impossible layer learns which constraint failed and by how much.
Nothing in this module touches an array.
"""
from __future__ import annotations

from collections.abc import Sequence


def ntuple(value, n: int, name: str) -> tuple:
    """``value`` as an n-tuple of ints: an int is repeated, a sequence must have length n."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a sequence of {n} ints, got {value!r}")
    if isinstance(value, int):
        return (value,) * n
    if isinstance(value, Sequence) and not isinstance(value, str):
        values = tuple(value)
        if len(values) == 1:
            values = values * n
        if len(values) != n or not all(isinstance(v, int) and not isinstance(v, bool)
                                       for v in values):
            raise RuntimeError(
                f"expected {name} to be a single integer value or a list of {n} values to "
                f"match the convolution dimensions, but got {name}={list(values)}"
            )
        return values
    raise TypeError(f"{name} must be an int or a sequence of {n} ints, got {value!r}")


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


# --- pooling argument checks (below this line) ---
