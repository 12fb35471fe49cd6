"""``convgrad.functional`` (import as ``F``): PyTorch's ``torch.nn.functional``, in NumPy.

Same names, signatures, layouts (NCL / NCHW) and semantics; where PyTorch raises, these
raise the same exception class with a message naming the argument and the numbers.
One addition of convgrad's own: ``batch_norm_relu``, ``relu(batch_norm(x) + residual)`` as a
single fused operation (what ends each convolution of a residual block).
"""
# One module per family of operations; each line below re-exports one family.
from .activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .dropout import dropout
from .linear import linear
from .loss import cross_entropy, mse_loss, nll_loss
from .normalization import batch_norm, batch_norm_relu  # the second: convgrad's fused block end
from .conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from .padding import pad
from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
