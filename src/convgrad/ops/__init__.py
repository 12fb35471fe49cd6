"""Tensor operations with their backward rules, one family per module.

Each operation computes its output with NumPy and hands ``tensor.from_op`` a closure that
maps ``∂L/∂out`` to ``∂L/∂input`` for every input, and the tensors that closure reads.
``methods`` attaches the operations to ``Tensor`` as its methods and operators.
"""
from . import methods  # noqa: F401  (binds x + y, x.sum(), x.add_(...) ... to Tensor)
