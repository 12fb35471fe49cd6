"""convgrad: convolutional neural networks from first principles.

A NumPy tensor with reverse-mode autograd whose every operation matches PyTorch.

>>> import convgrad as cg
>>> x = cg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([[2., 4.],
        [6., 8.]])

Importing convgrad changes nothing outside it.  Its two process-wide speed settings are
explicit: :func:`set_num_threads` (convgrad's worker threads; OpenBLAS is kept on one thread
only while they compute) and :func:`keep_freed_memory` (glibc's malloc thresholds, for the
length of a ``with`` block; ``convgrad train`` and the benchmarks use it).
"""
from . import ops  # noqa: F401  (attaches the operations to Tensor as its methods)
from ._memory import keep_freed_memory
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, empty, from_numpy, full, ones, ones_like, rand, randint, randn,
                       zeros, zeros_like)
from .kernels.parallel import get_num_threads, set_num_threads
from .ops.arithmetic import maximum, minimum
from .ops.shape import cat, stack
from .random import manual_seed
from .tensor import Tensor, as_tensor, bool_, device, float32, float64, int64, tensor

__version__ = "0.1.0"

# Layers, optimizers and the model summary: they build on everything above.
from . import nn, optim  # noqa: E402
from .summary import summary  # noqa: E402


def __getattr__(name):
    # convgrad.load_run lives in the training package, imported on first use (it costs
    # ~80 ms that `import convgrad` alone should not pay).
    if name == "load_run":
        from .train.load import load_run
        return load_run
    raise AttributeError(f"module 'convgrad' has no attribute {name!r}")
