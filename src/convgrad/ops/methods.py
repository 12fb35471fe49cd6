"""The Tensor's methods and operators, each one line that calls the operation computing it.

``tensor.py`` defines the class and cannot import the operations (they import it), so the
methods are written here, on a plain class, and attached to ``Tensor`` when ``convgrad.ops``
is imported — which ``import convgrad`` (or any ``convgrad.*`` module) always does first.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, float32, float64, int64
from . import arithmetic, inplace, matmul, reduce, shape, unary


class TensorMethods:
    """Everything here becomes an attribute of :class:`convgrad.Tensor`."""

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return arithmetic.add(self, other)

    def __radd__(self, other):
        return arithmetic.add(other, self)

    def __sub__(self, other):
        return arithmetic.sub(self, other)

    def __rsub__(self, other):
        return arithmetic.sub(other, self)

    def __mul__(self, other):
        return arithmetic.mul(self, other)

    def __rmul__(self, other):
        return arithmetic.mul(other, self)

    def __truediv__(self, other):
        return arithmetic.div(self, other)

    def __rtruediv__(self, other):
        return arithmetic.div(other, self)

    def __pow__(self, other):
        return arithmetic.pow(self, other)

    def __rpow__(self, other):
        return arithmetic.pow(other, self)

    def __neg__(self):
        return unary.neg(self)

    def __matmul__(self, other):
        return matmul.matmul(self, other)

    def __rmatmul__(self, other):
        return matmul.matmul(other, self)

    def __eq__(self, other):
        return arithmetic.compare(self, other, np.equal)

    def __ne__(self, other):
        return arithmetic.compare(self, other, np.not_equal)

    def __lt__(self, other):
        return arithmetic.compare(self, other, np.less)

    def __le__(self, other):
        return arithmetic.compare(self, other, np.less_equal)

    def __gt__(self, other):
        return arithmetic.compare(self, other, np.greater)

    def __ge__(self, other):
        return arithmetic.compare(self, other, np.greater_equal)

    def add(self, other, *, alpha=1):
        return arithmetic.add(self, inplace._scaled(other, alpha))

    def sub(self, other, *, alpha=1):
        return arithmetic.sub(self, inplace._scaled(other, alpha))

    def mul(self, other):
        return arithmetic.mul(self, other)

    def div(self, other):
        return arithmetic.div(self, other)

    def pow(self, exponent):
        return arithmetic.pow(self, exponent)

    def matmul(self, other):
        return matmul.matmul(self, other)

    def maximum(self, other):
        return arithmetic.maximum(self, other)

    def minimum(self, other):
        return arithmetic.minimum(self, other)

    # ------------------------------------------------------------------ unary
    def exp(self):
        return unary.exp(self)

    def log(self):
        return unary.log(self)

    def sqrt(self):
        return unary.sqrt(self)

    def abs(self):
        return unary.abs(self)

    def neg(self):
        return unary.neg(self)

    def clamp(self, min=None, max=None):
        return unary.clamp(self, min, max)

    clip = clamp

    def relu(self):
        return unary.relu(self)

    def sigmoid(self):
        return unary.sigmoid(self)

    def tanh(self):
        return unary.tanh(self)

    # ------------------------------------------------------------------ dtype and device
    def to(self, *args, **kwargs):
        return unary.to(self, *args, **kwargs)

    def float(self):
        return unary.cast(self, float32)

    def double(self):
        return unary.cast(self, float64)

    def long(self):
        return unary.cast(self, int64)

    def clone(self):
        return shape.clone(self)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim: bool = False):
        return reduce.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        return reduce.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        return reduce.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        return reduce.var(self, dim, unbiased, keepdim, correction=correction).sqrt()

    def max(self, dim=None, keepdim: bool = False):
        return reduce.extreme(self, dim, keepdim, largest=True)

    def min(self, dim=None, keepdim: bool = False):
        return reduce.extreme(self, dim, keepdim, largest=False)

    def amax(self, dim=(), keepdim: bool = False):
        return reduce.amax(self, dim, keepdim, largest=True)

    def amin(self, dim=(), keepdim: bool = False):
        return reduce.amax(self, dim, keepdim, largest=False)

    def argmax(self, dim=None, keepdim: bool = False):
        return reduce.arg_extreme(self, dim, keepdim, largest=True)

    def argmin(self, dim=None, keepdim: bool = False):
        return reduce.arg_extreme(self, dim, keepdim, largest=False)

    # ------------------------------------------------------------------ shape
    def reshape(self, *sizes):
        return shape.reshape(self, shape.shape_arg(sizes))

    def view(self, *sizes):
        return shape.reshape(self, shape.shape_arg(sizes))

    def permute(self, *dims):
        return shape.permute(self, shape.shape_arg(dims))

    def transpose(self, dim0: int, dim1: int):
        return shape.transpose(self, dim0, dim1)

    @property
    def T(self):
        return shape.permute(self, tuple(reversed(range(self.ndim))))

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.T

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return shape.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return shape.squeeze(self, dim)

    def unsqueeze(self, dim: int):
        return shape.unsqueeze(self, dim)

    def expand(self, *sizes):
        return shape.expand(self, shape.shape_arg(sizes))

    def contiguous(self):
        return self

    def __getitem__(self, index):
        return shape.getitem(self, index)

    # ------------------------------------------------------------------ in place
    def __setitem__(self, index, value):
        inplace.setitem(self, index, value)

    def zero_(self):
        return inplace.zero_(self)

    def fill_(self, value):
        return inplace.fill_(self, value)

    def copy_(self, src):
        return inplace.copy_(self, src)

    def add_(self, other, *, alpha=1):
        return inplace.add_(self, other, alpha=alpha)

    def sub_(self, other, *, alpha=1):
        return inplace.sub_(self, other, alpha=alpha)

    def mul_(self, other):
        return inplace.mul_(self, other)

    def div_(self, other):
        return inplace.div_(self, other)

    def pow_(self, exponent):
        return inplace.pow_(self, exponent)

    def clamp_(self, min=None, max=None):
        return inplace.clamp_(self, min, max)

    clip_ = clamp_

    def neg_(self):
        return inplace.neg_(self)

    def relu_(self):
        return inplace.relu_(self)

    def sigmoid_(self):
        return inplace.sigmoid_(self)

    def tanh_(self):
        return inplace.tanh_(self)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_
    __ipow__ = pow_


# What Python puts in every class's namespace (``__hash__`` is None here because the class
# defines ``__eq__``; Tensor keeps its identity hash, as torch.Tensor).
_CLASS_ATTRIBUTES = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__",
                     "__hash__"}

for _name, _method in vars(TensorMethods).items():
    if _name not in _CLASS_ATTRIBUTES:
        setattr(Tensor, _name, _method)
