"""PyTorch's exception classes for the argument errors of ``convgrad.shapes``.

``shapes`` checks every convolution, pooling and padding argument and raises its one neutral
``ArgumentError``.  The functions here promise PyTorch's behaviour, so they translate it into
the class PyTorch raises for the same mistake; the message stays as it is.
"""
from __future__ import annotations

from contextlib import contextmanager

from ..shapes import ArgumentError

# ArgumentError.kind -> the class PyTorch raises
TORCH_CLASSES = {
    "type": TypeError,                  # its argument parser: stride=1.5, kernel_size=True
    "value": RuntimeError,              # a value or combination it refuses
    "unsupported": NotImplementedError,  # a padding mode it has no kernel for
    "too_few_dims": RuntimeError,        # (avg_pool2d: IndexError, see below)
}


@contextmanager
def torch_errors(**classes):
    """Run the block; an ``ArgumentError`` leaves it as PyTorch's class for its kind.

    ``classes`` overrides the class for a kind where one PyTorch function differs, e.g.
    ``torch_errors(too_few_dims=IndexError)`` for ``avg_pool2d``, which fails while indexing
    the dimensions it expects.
    """
    try:
        yield
    except ArgumentError as error:
        raise {**TORCH_CLASSES, **classes}[error.kind](str(error)) from None
