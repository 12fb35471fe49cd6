"""``F.pad``: the notes' padding, which lets a kernel reach the border of its input.

Four modes, PyTorch's: ``constant`` (zeros or ``value``; negative amounts crop), and the
three that copy input elements — ``reflect`` (mirror about the edge, not repeating it),
``replicate`` (repeat the edge) and ``circular`` (wrap around).  ``pad`` lists
(before, after) pairs starting from the last dimension: ``(1, 1, 2, 2)`` pads W by 1 and
H by 2.  The copying modes pad 1 to 3 trailing dimensions of a batched or unbatched input.
"""
from __future__ import annotations

from .. import shapes
from ..kernels import pool as _kernel
from ..tensor import Tensor, from_op
from .torch_errors import torch_errors

_BACKWARD_NAMES = {"reflect": "ReflectionPad", "replicate": "ReplicationPad",
                   "circular": "CircularPad"}


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad (or, with negative amounts, crop) the last ``len(pad)//2`` dimensions of input.

    Along one padded dimension, output position j copies input position src(j), with
    u = j − before: reflect ``|u|`` mirrored about 0 and L−1, replicate ``clip(u, 0, L−1)``,
    circular ``u mod L`` (of what is left after any cropping, as PyTorch); constant writes
    ``value`` outside the input.
    Gradient: ∂L/∂x[i] = Σ_{j: src(j) = i} ∂L/∂y[j] — an element copied into the padding
    collects the gradient of every copy.
    """
    with torch_errors():
        pairs = shapes.pad_arguments(input.shape, pad, mode, value)
    out, cache = _kernel.pad_forward(input.data, pairs, mode, value)
    if mode == "constant":
        name = "ConstantPadNdBackward0"
    else:
        name = f"{_BACKWARD_NAMES[mode]}{len(pairs)}DBackward0"
    # PyTorch's reflection and replication pads save their input; constant and circular
    # padding (a copy into slices) save nothing.
    saved = (input,) if mode in ("reflect", "replicate") else ()
    return from_op(out, (input,), lambda g: (_kernel.pad_backward(g, cache),), name,
                   saved=saved)
