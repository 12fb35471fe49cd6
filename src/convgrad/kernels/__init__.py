"""Pure NumPy forward/backward pairs, no Tensor.

A kernel is ``forward(...) -> (out, cache)`` and ``backward(dout, cache) -> grads``; its
docstring states the formula it computes and the gradient formula, in the notes' notation.
"""
