"""Step-by-step traces of convolution and pooling: the teaching version of every number.

``convgrad.explain`` works out one operation on one unbatched input the long way — the
output-size formula with its values, each window's products and sum, and the backward pass
as the list of contributions that add up to each gradient — and returns it as a ``Trace``
(see ``convgrad.explain.model`` for the data model and its JSON form).  It is a plain
reference implementation with Python loops, on purpose: it teaches, and the tests check it
against ``convgrad.functional`` and PyTorch.

The terminal front end is ``convgrad explain`` (``convgrad.explain.cli``); the web explorer
serves ``Trace.to_dict()`` through its JSON API.

    >>> from convgrad import explain
    >>> t = explain.conv2d([[[0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]]],
    ...                    [[[[1, 1], [1, 1]]]])
    >>> t.output
    [[[1.0, 0.0, 1.0], [2.0, 2.0, 2.0], [1.0, 2.0, 1.0]]]
    >>> t.axes[0].substituted
    '⌊(4 + 2·0 − 1·(2−1) − 1)/1⌋ + 1 = 3'
    >>> [term.product for term in t.window_at([0, 1, 0]).terms]
    [1.0, 0.0, 0.0, 1.0]
    >>> t.backward.grad_weight  # each weight is used 9 times, with ∂L/∂y = 1
    [[[[3.0, 3.0], [3.0, 3.0]]]]

Functions (PyTorch's arguments; the input is unbatched, ``(C, L)`` or ``(C, H, W)``):
``conv1d``, ``conv2d`` (plus ``padding_mode`` as on ``nn.Conv*d``), ``conv_transpose1d``,
``conv_transpose2d``, ``max_pool1d``, ``max_pool2d``, ``avg_pool1d``, ``avg_pool2d``; each
also takes ``grad_output`` (default all ones), ``backward`` (default True) and
``max_products`` (the size bound, default ``MAX_PRODUCTS``).  ``trace(op, ...)`` calls one by
name; ``OPS`` lists them.  Problems the user can fix raise ``TraceError``.
"""
from .model import (MAX_ELEMENTS, MAX_PRODUCTS, AxisSize, Backward, Cell, Contribution,
                    Gradient, PaddedInput, Term, Trace, TraceError, TraceTooLarge, Window)
from .conv import conv1d, conv2d
from .pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from .transpose import conv_transpose1d, conv_transpose2d

# operation name -> trace function; each takes PyTorch's arguments (unbatched input) plus
# ``grad_output=None`` (all ones), ``backward=True`` and ``max_products=MAX_PRODUCTS``.
OPS = {
    "conv1d": conv1d,
    "conv2d": conv2d,
    "conv_transpose1d": conv_transpose1d,
    "conv_transpose2d": conv_transpose2d,
    "max_pool1d": max_pool1d,
    "max_pool2d": max_pool2d,
    "avg_pool1d": avg_pool1d,
    "avg_pool2d": avg_pool2d,
}


def trace(op: str, *args, **kwargs) -> Trace:
    """``trace("conv2d", x, w, padding=1)``: the trace function named ``op``, called."""
    if op not in OPS:
        raise TraceError(f"unknown operation {op!r}; choose one of {', '.join(OPS)}")
    return OPS[op](*args, **kwargs)
