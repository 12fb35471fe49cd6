"""Step-by-step traces of convolution and pooling: the teaching version of every number.

``convgrad.explain`` works out one operation on one unbatched input the long way — the
output-size formula with its values, each window's products and sum, and the backward pass
as the list of contributions that add up to each gradient — and returns it as a ``Trace``
(see ``convgrad.explain.model`` for the data model and its JSON form).  It is a plain
reference implementation with Python loops, on purpose: it teaches, and the tests check it
against ``convgrad.functional`` and PyTorch.

The terminal front end is ``convgrad explain`` (``convgrad.explain.cli``); the web explorer
serves ``Trace.to_dict()`` through its JSON API.
"""
from .model import (MAX_ELEMENTS, MAX_PRODUCTS, AxisSize, Backward, Cell, Contribution,
                    Gradient, PaddedInput, Term, Trace, TraceError, TraceTooLarge, Window)
