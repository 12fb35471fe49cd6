"""``Linear``: the fully connected layer of the notes, ``z = W x + b``.

Weight (out_features, in_features), bias (out_features,).  Every output uses every input:
d_in·d_out weights, the cost the notes hold against a convolution's size(kernel).
"""
from __future__ import annotations

from .. import functional as F
from . import init
from .module import Module, empty_parameter, factory_dtype


class Linear(Module):
    """``y = x Wᵀ + b`` over the last dimension of x.

    Default initialisation (PyTorch's): W ~ U(±1/√in_features) (kaiming_uniform_, a=√5),
    b ~ U(±1/√in_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        dtype = factory_dtype(dtype, device)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = empty_parameter((out_features, in_features), dtype)
        if bias:
            self.bias = empty_parameter((out_features,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        if self.bias is not None:
            bound = init.default_bias_bound(self.weight)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
