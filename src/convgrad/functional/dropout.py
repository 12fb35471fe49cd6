"""Dropout: during training, zero each element with probability p and rescale the rest.

    keep ~ Bernoulli(1 − p) per element,   y = x · keep / (1 − p),   ∂L/∂x = g · keep / (1 − p)

Dividing by 1 − p keeps E[y] = x, so evaluation (``training=False``) is the identity.  The
mask comes from convgrad's global generator (``convgrad.manual_seed``): the same seed gives
the same mask.  (The masks are not PyTorch's: the two libraries draw different numbers.)
"""
from __future__ import annotations

import numpy as np

from ..ops import inplace as _inplace
from ..random import default_generator
from ..tensor import Tensor, from_op


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p``, scale the kept ones by 1/(1 − p).

    ``p = 1`` zeroes everything (and the gradient); ``p = 0`` or ``training=False`` returns the
    input itself, as PyTorch does.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got p={p}")
    if not training or p == 0 or input.data.size == 0:
        return input
    if input.dtype.kind != "f":
        raise RuntimeError(
            f"dropout: input has dtype {input.dtype}, but the rescaled result 1/(1 − p) = "
            f"{1 / (1 - p) if p < 1 else 'inf'} is floating point: convert with .float()"
        )
    if p == 1:
        keep = np.zeros(input.shape, dtype=bool)
        scale = input.dtype.type(0)
    else:
        # float32 uniforms are plenty for a keep/drop decision and half the cost of float64.
        keep = default_generator().random(input.shape, dtype=np.float32) >= np.float32(p)
        scale = input.dtype.type(1 / (1 - p))

    def dropped(x: Tensor) -> Tensor:
        out = x.data * keep
        out *= scale

        def backward(g):
            grad = g * keep
            grad *= scale
            return (grad,)

        return from_op(out, (x,), backward, "NativeDropoutBackward0", saved=())

    return _inplace.apply(input, "dropout_", dropped) if inplace else dropped(input)
