"""Tensor operations with their backward rules, one family per module.

Each operation computes its output with NumPy and hands ``autograd.from_op`` a closure
that maps ``∂L/∂out`` to ``∂L/∂input`` for every input.
"""
