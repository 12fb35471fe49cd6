"""The Tensor: a NumPy array plus what reverse-mode autograd needs to know about it.

``Tensor.data`` is the NumPy array itself (not a Tensor, unlike PyTorch's ``.data``).
``Tensor.grad`` is a Tensor, created on the first backward pass that reaches a leaf and
accumulated (``+=``) by every later one, as in PyTorch.

Dtypes follow PyTorch: Python floats become float32, NumPy float64 arrays stay float64,
integers become int64 and booleans stay bool.  Only floating tensors can require grad.
The operations themselves live in ``convgrad.ops``; the methods below only dispatch.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import autograd

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

_FLOAT_DTYPES = (float32, float64, np.dtype(np.float16))


def _as_array(data, dtype=None) -> np.ndarray:
    """Convert ``data`` to an ndarray with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        array = data
    else:
        array = np.asarray(data)
        # Python floats (and lists of them) are float32 by default, as torch's default dtype.
        if array.dtype == float64:
            array = array.astype(float32)
    if array.dtype.kind in "iu" and array.dtype != int64 and not isinstance(data, np.ndarray):
        array = array.astype(int64)
    if array.dtype.kind not in "fiub":
        raise TypeError(
            f"can't convert data of dtype {array.dtype} to a Tensor: only floating point, "
            "integer and boolean data are supported"
        )
    if dtype is not None:
        array = array.astype(np.dtype(dtype), copy=False)
    return array


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    >>> x = tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "_requires_grad", "_parents", "_backward", "_grad_fn",
                 "_retains_grad", "_in_graph", "__weakref__")
    # Make `ndarray + Tensor` call Tensor.__radd__ instead of broadcasting element-wise.
    __array_priority__ = 1000.0

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        self.data = np.array(_as_array(data, dtype), copy=True)
        self._init_graph_fields()
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array: np.ndarray) -> "Tensor":
        """A Tensor around ``array`` without copying (for operation outputs)."""
        out = cls.__new__(cls)
        out.data = array if isinstance(array, np.ndarray) else np.asarray(array)
        out._init_graph_fields()
        return out

    def _init_graph_fields(self) -> None:
        self.grad = None
        self._requires_grad = False
        self._parents = ()
        self._backward = None
        self._grad_fn = None
        self._retains_grad = False
        self._in_graph = False      # an input of a recorded operation (see autograd.from_op)

    # ------------------------------------------------------------------ attributes
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype not in _FLOAT_DTYPES:
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients, "
                f"this one has dtype {self.data.dtype}"
            )
        if not value and self._parents:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables; use "
                ".detach() to get a tensor that does not require grad"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return not self._parents

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def T(self) -> "Tensor":
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead."
            )
        return self.data

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.data.size} elements cannot be converted to Scalar"
            )
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory, as in PyTorch)."""
        return Tensor._wrap(self.data)

    def clone(self) -> "Tensor":
        return _shape.clone(self)

    def to(self, dtype) -> "Tensor":
        return _unary.cast(self, np.dtype(dtype))

    def float(self) -> "Tensor":
        return self.to(float32)

    def double(self) -> "Tensor":
        return self.to(float64)

    def long(self) -> "Tensor":
        return self.to(int64)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self.data.size} values is ambiguous"
            )
        return bool(self.data.item())

    def __array__(self, dtype=None, copy=None):
        array = self.data if dtype is None else self.data.astype(dtype)
        return np.array(array, copy=True) if copy else array

    def __repr__(self) -> str:
        body = np.array2string(
            self.data, separator=", ", prefix="tensor(", precision=4,
            floatmode="maxprec_equal" if self.data.dtype.kind == "f" else "maxprec",
        )
        extras = []
        if self.data.dtype not in (float32, int64, bool_):
            extras.append(f"dtype=convgrad.{self.data.dtype}")
        if self._grad_fn is not None:
            extras.append(f"grad_fn={self._grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Compute ``∂self/∂leaf`` for every leaf that requires grad, adding into ``.grad``.

        ``gradient`` is ``∂L/∂self``; it may be omitted only for a single-element tensor.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs, "
                    f"but this tensor has shape {tuple(self.shape)}; pass gradient= explicitly"
                )
            grad = np.ones_like(self.data)
        else:
            grad = _as_array(gradient, self.data.dtype)
            if grad.shape != self.shape:
                raise RuntimeError(
                    f"gradient has shape {tuple(grad.shape)} but the tensor has shape "
                    f"{tuple(self.shape)}: they must match"
                )
        autograd.run_backward(self, grad, retain_graph=retain_graph)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self._retains_grad = True

    def zero_(self) -> "Tensor":
        self.data[...] = 0
        return self

    def fill_(self, value) -> "Tensor":
        self.data[...] = value
        return self

    def copy_(self, other) -> "Tensor":
        self.data[...] = _as_array(other)
        return self

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return _arith.add(self, other)

    def __radd__(self, other):
        return _arith.add(other, self)

    def __sub__(self, other):
        return _arith.sub(self, other)

    def __rsub__(self, other):
        return _arith.sub(other, self)

    def __mul__(self, other):
        return _arith.mul(self, other)

    def __rmul__(self, other):
        return _arith.mul(other, self)

    def __truediv__(self, other):
        return _arith.div(self, other)

    def __rtruediv__(self, other):
        return _arith.div(other, self)

    def __pow__(self, other):
        return _arith.pow(self, other)

    def __rpow__(self, other):
        return _arith.pow(other, self)

    def __neg__(self):
        return _unary.neg(self)

    def __matmul__(self, other):
        return _matmul.matmul(self, other)

    def __rmatmul__(self, other):
        return _matmul.matmul(other, self)

    def __eq__(self, other):
        return _arith.compare(self, other, np.equal)

    def __ne__(self, other):
        return _arith.compare(self, other, np.not_equal)

    def __lt__(self, other):
        return _arith.compare(self, other, np.less)

    def __le__(self, other):
        return _arith.compare(self, other, np.less_equal)

    def __gt__(self, other):
        return _arith.compare(self, other, np.greater)

    def __ge__(self, other):
        return _arith.compare(self, other, np.greater_equal)

    __hash__ = object.__hash__

    def add(self, other):
        return _arith.add(self, other)

    def sub(self, other):
        return _arith.sub(self, other)

    def mul(self, other):
        return _arith.mul(self, other)

    def div(self, other):
        return _arith.div(self, other)

    def pow(self, exponent):
        return _arith.pow(self, exponent)

    def matmul(self, other):
        return _matmul.matmul(self, other)

    def maximum(self, other):
        return _arith.maximum(self, other)

    def minimum(self, other):
        return _arith.minimum(self, other)

    # ------------------------------------------------------------------ unary
    def exp(self):
        return _unary.exp(self)

    def log(self):
        return _unary.log(self)

    def sqrt(self):
        return _unary.sqrt(self)

    def abs(self):
        return _unary.abs(self)

    def neg(self):
        return _unary.neg(self)

    def clamp(self, min=None, max=None):
        return _unary.clamp(self, min, max)

    clip = clamp

    def relu(self):
        return _unary.relu(self)

    def sigmoid(self):
        return _unary.sigmoid(self)

    def tanh(self):
        return _unary.tanh(self)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim: bool = False):
        return _reduce.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        return _reduce.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        return _reduce.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        return _reduce.var(self, dim, unbiased, keepdim, correction=correction).sqrt()

    def max(self, dim=None, keepdim: bool = False):
        return _reduce.extreme(self, dim, keepdim, largest=True)

    def min(self, dim=None, keepdim: bool = False):
        return _reduce.extreme(self, dim, keepdim, largest=False)

    def amax(self, dim=(), keepdim: bool = False):
        return _reduce.amax(self, dim, keepdim, largest=True)

    def amin(self, dim=(), keepdim: bool = False):
        return _reduce.amax(self, dim, keepdim, largest=False)

    def argmax(self, dim=None, keepdim: bool = False):
        return _reduce.arg_extreme(self, dim, keepdim, largest=True)

    def argmin(self, dim=None, keepdim: bool = False):
        return _reduce.arg_extreme(self, dim, keepdim, largest=False)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape):
        return _shape.reshape(self, _shape.shape_arg(shape))

    def view(self, *shape):
        return _shape.reshape(self, _shape.shape_arg(shape))

    def permute(self, *dims):
        return _shape.permute(self, _shape.shape_arg(dims))

    def transpose(self, dim0: int, dim1: int):
        return _shape.transpose(self, dim0, dim1)

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.T

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return _shape.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return _shape.squeeze(self, dim)

    def unsqueeze(self, dim: int):
        return _shape.unsqueeze(self, dim)

    def expand(self, *sizes):
        return _shape.expand(self, _shape.shape_arg(sizes))

    def contiguous(self):
        return self

    def __getitem__(self, index):
        return _shape.getitem(self, index)


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (as ``torch.tensor``)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(value, like: Tensor | None = None) -> Tensor:
    """``value`` itself if it is a Tensor, else a constant tensor (no copy where possible).

    A Python number becomes a 0-d array of ``like``'s dtype, so ``x * 2`` keeps ``x``'s dtype
    exactly as PyTorch treats scalars.
    """
    if isinstance(value, Tensor):
        return value
    # (a bool tensor is no guide: True + 2 is 3, as in PyTorch, so the scalar keeps its type)
    if (like is not None and isinstance(value, numbers.Number) and not isinstance(value, bool)
            and like.dtype.kind != "b"):
        dtype = like.dtype if like.dtype.kind == "f" or isinstance(value, numbers.Integral) \
            else float32
        return Tensor._wrap(np.asarray(value, dtype=dtype))
    return Tensor._wrap(_as_array(value))


from .ops import arithmetic as _arith  # noqa: E402  (the ops import Tensor from here)
from .ops import matmul as _matmul  # noqa: E402
from .ops import reduce as _reduce  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops import unary as _unary  # noqa: E402
