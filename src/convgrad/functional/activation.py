"""Activation functions: relu, leaky_relu, sigmoid, tanh, gelu, softmax, log_softmax.

The non-linearity σ in the notes' ``h = σ(W h_prev)``.  Signatures and derivative
conventions are PyTorch's, kinks included: relu'(0) = 0 and leaky_relu'(0) = negative_slope.

``inplace=True`` overwrites the input and returns it, as in PyTorch, with PyTorch's rules
(``ops/inplace.py``): a leaf that requires grad refuses, a tensor in the graph is rebased
onto the activation's node, and a backward that saved the old values (``w * x`` keeps x
for ∂/∂w) raises instead of using the new ones.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..kernels.loss import log_softmax as _log_softmax_kernel
from ..kernels.loss import softmax as _softmax_kernel
from ..ops import inplace as _inplace
from ..ops import unary as _unary
from ..tensor import Tensor, float32, from_op

_SQRT_HALF = 1 / math.sqrt(2.0)
_INV_SQRT_2PI = 1 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


def _require_float(input: Tensor, name: str) -> None:
    """PyTorch has no integer kernel for these functions: NotImplementedError, as there."""
    if input.dtype.kind != "f":
        raise NotImplementedError(
            f"{name}: input has dtype {input.dtype}; {name} is only defined for floating point "
            f"tensors (convert with .float())"
        )


def _as_float(input: Tensor) -> Tensor:
    """Integer and boolean inputs become float32, as PyTorch's sigmoid/tanh promote them."""
    return input if input.dtype.kind == "f" else input.to(float32)


# ----------------------------------------------------------------------------- element-wise
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``;  ∂/∂x = g where x > 0, else 0 (0 at the kink x = 0)."""
    return _inplace.relu_(input) if inplace else _unary.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where x > 0, else ``negative_slope·x``;  ∂/∂x = g or negative_slope·g.

    At the kink x = 0 PyTorch takes the slope branch: the derivative there is negative_slope.
    """
    _require_float(input, "leaky_relu")
    if inplace:
        return _inplace.apply(input, "leaky_relu_", _leaky_relu, negative_slope, True)
    return _leaky_relu(input, negative_slope)


def _leaky_relu(input: Tensor, negative_slope: float, in_place: bool = False) -> Tensor:
    """PyTorch saves the input for ``leaky_relu`` but the output for ``leaky_relu_``."""
    positive = input.data > 0
    slope = input.dtype.type(negative_slope)
    out = np.where(positive, input.data, input.data * slope)

    def backward(g):
        return (np.where(positive, g, g * slope),)

    if in_place:
        return from_op(out, (input,), backward, "LeakyReluBackward1", saved=(),
                       save_output=True)
    return from_op(out, (input,), backward, "LeakyReluBackward0", saved=(input,))


def sigmoid(input: Tensor) -> Tensor:
    """``σ(x) = 1 / (1 + e^−x)``;  ∂/∂x = g·σ(x)·(1 − σ(x)).  Integers become float32."""
    return _unary.sigmoid(_as_float(input))


def tanh(input: Tensor) -> Tensor:
    """``tanh x``;  ∂/∂x = g·(1 − tanh² x).  Integers become float32."""
    return _unary.tanh(_as_float(input))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit, ``x·Φ(x)`` with Φ the standard normal CDF.

    'none':  y = ½·x·(1 + erf(x/√2));   ∂/∂x = g·(Φ(x) + x·φ(x)),  φ(x) = e^(−x²/2)/√(2π)
    'tanh':  y = ½·x·(1 + tanh u),  u = √(2/π)·(x + 0.044715·x³);
             ∂/∂x = g·(½·(1 + tanh u) + ½·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²))
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError(
            f"gelu: approximate argument must be either 'none' or 'tanh', got {approximate!r}"
        )
    _require_float(input, "gelu")
    x = input.data
    half = x.dtype.type(0.5)
    if approximate == "none":
        from scipy.special import erf  # imported here: SciPy is only needed once gelu is used

        cdf = half * (1 + erf(x * x.dtype.type(_SQRT_HALF)))
        out = x * cdf

        def backward(g):
            pdf = np.exp(-half * x * x) * x.dtype.type(_INV_SQRT_2PI)
            return (g * (cdf + x * pdf),)
    else:
        k, c = x.dtype.type(_SQRT_2_OVER_PI), x.dtype.type(_GELU_CUBIC)
        inner = k * (x + c * x * x * x)
        t = np.tanh(inner)
        out = half * x * (1 + t)

        def backward(g):
            d_inner = k * (1 + 3 * c * x * x)
            return (g * (half * (1 + t) + half * x * (1 - t * t) * d_inner),)

    return from_op(out.astype(x.dtype, copy=False), (input,), backward, "GeluBackward0",
                   saved=(input,))


# ----------------------------------------------------------------------------- softmax
def _softmax_dim(input: Tensor, dim, name: str, stacklevel: int) -> int:
    """Validate ``dim``; without one, PyTorch's legacy choice (0 for 0/1/3-D, else 1) + warning
    (``stacklevel`` counted from this function, so that it names the user's line)."""
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. Change the call to "
            f"include dim=X as an argument.", UserWarning, stacklevel=stacklevel,
        )
        dim = 0 if input.ndim in (0, 1, 3) else 1
    rank = max(input.ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"{name}: Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], "
            f"but got {dim}) for an input of shape {tuple(input.shape)}"
        )
    return dim % rank


def _prepare_softmax(input: Tensor, dim, dtype, name: str, stacklevel: int):
    """``stacklevel`` is PyTorch's ``_stacklevel``: 3 names the caller of softmax itself
    (warn → helper → softmax → caller); this extra frame is added here."""
    if dtype is not None:
        input = input.to(np.dtype(dtype))
    _require_float(input, name)
    axis = _softmax_dim(input, dim, name, stacklevel + 1)
    # A 0-d tensor is a single class: the kernel sees shape (1,), the backward sums over all.
    x = input.data.reshape(1) if input.ndim == 0 else input.data
    return input, x, axis, (axis if input.ndim else None)


def _apply_kernel(kernel, x: np.ndarray, axis: int, shape: tuple) -> np.ndarray:
    """The kernel's result in ``shape``; an empty input gives an empty result, as PyTorch
    (the kernel's max over a size-0 dim has no value)."""
    if x.size == 0:
        return np.empty(shape, dtype=x.dtype)
    return kernel(x, axis).reshape(shape)


def softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``y_i = e^(x_i − max x) / Σ_j e^(x_j − max x)`` along ``dim``;  ∂/∂x = y ⊙ (g − Σ g ⊙ y)."""
    input, x, axis, grad_axis = _prepare_softmax(input, dim, dtype, "softmax", _stacklevel)
    out = _apply_kernel(_softmax_kernel, x, axis, input.shape)

    def backward(g):
        return (out * (g - (g * out).sum(axis=grad_axis, keepdims=True)),)

    return from_op(out, (input,), backward, "SoftmaxBackward0", saved=(), save_output=True)


def log_softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``y_i = x_i − max x − log Σ_j e^(x_j − max x)`` along ``dim``;  ∂/∂x = g − e^y · Σ g."""
    input, x, axis, grad_axis = _prepare_softmax(input, dim, dtype, "log_softmax",
                                                   _stacklevel)
    out = _apply_kernel(_log_softmax_kernel, x, axis, input.shape)

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=grad_axis, keepdims=True),)

    return from_op(out, (input,), backward, "LogSoftmaxBackward0", saved=(),
                   save_output=True)
