"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d.

A layer holds one kernel per (output channel, input channel of its group) and slides it over
the input — the notes' ``(x ⋆ w)[t] = Σ_τ x[t+τ] w[τ]`` — so it needs
C_out · C_in/groups · ∏k weights (+ C_out biases) whatever the input length: weights are
reused at every position (size(kernel) vs the dense layer's d1·d2).

    Conv:           weight (C_out, C_in/groups, *k)
    ConvTranspose:  weight (C_in, C_out/groups, *k)   (it is the adjoint of a Conv)

Default initialisation is PyTorch's: kaiming_uniform_(a=√5) for the weight, which is
U(±1/√fan_in), and U(±1/√fan_in) for the bias, with fan_in = weight.shape[1]·∏k — for a
transposed convolution that is C_out/groups·∏k, exactly as PyTorch computes it.

``padding_mode`` other than 'zeros' (reflect, replicate, circular) pads the input with
``F.pad`` first, then convolves with padding 0 — what PyTorch does.
"""
from __future__ import annotations

from .. import functional as F
from . import init
from .module import Module, empty_parameter, factory_dtype

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_PADDING_STRINGS = ("same", "valid")


def _ntuple(value, n: int) -> tuple:
    """An int repeated n times, or a sequence as a tuple (PyTorch's _single/_pair)."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * n


class _ConvNd(Module):
    """What Conv and ConvTranspose layers share: arguments, parameters, init and repr."""

    _spatial = 0
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding,
                 dilation, output_padding, groups: int, bias: bool, padding_mode: str,
                 device=None, dtype=None):
        super().__init__()
        dtype = factory_dtype(dtype, device)
        n = self._spatial
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"groups must be a positive integer, got groups={groups!r}")
        if in_channels % groups != 0:
            raise ValueError(f"in_channels must be divisible by groups: in_channels="
                             f"{in_channels}, groups={groups} (remainder {in_channels % groups})")
        if out_channels % groups != 0:
            raise ValueError(f"out_channels must be divisible by groups: out_channels="
                             f"{out_channels}, groups={groups} "
                             f"(remainder {out_channels % groups})")
        stride = _ntuple(stride, n)
        if isinstance(padding, str):
            if padding not in _PADDING_STRINGS:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{set(_PADDING_STRINGS)}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError(f"padding='same' is not supported for strided convolutions "
                                 f"(stride={stride})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = stride
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n)
        self.dilation = _ntuple(dilation, n)
        self.transposed = self._transposed
        self.output_padding = _ntuple(output_padding, n)
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad lists (before, after) from the last axis backwards.
        self._reversed_padding_repeated_twice = self._explicit_padding()
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = empty_parameter(shape, dtype)
        if bias:
            self.bias = empty_parameter((out_channels,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _explicit_padding(self) -> list:
        """Padding as F.pad's list: 'same' puts ⌊d(k−1)/2⌋ before, the rest after."""
        pads = [0, 0] * self._spatial
        for axis in range(self._spatial):
            if self.padding == "valid":
                before = after = 0
            elif self.padding == "same":
                total = self.dilation[axis] * (self.kernel_size[axis] - 1)
                before, after = total // 2, total - total // 2
            else:
                before = after = self.padding[axis]
            reversed_axis = self._spatial - 1 - axis
            pads[2 * reversed_axis], pads[2 * reversed_axis + 1] = before, after
        return pads

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        if self.bias is not None:
            # fan_in = 0 (an empty kernel) gives bound 0: a zero bias.
            bound = init.default_bias_bound(self.weight)
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _function = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         0, groups, bias, padding_mode, device, dtype)

    def forward(self, input):
        conv = type(self)._function
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)
        return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                    self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) or (C_in, L): ``F.conv1d`` with learned weights.

    Output length ⌊(L + 2p − d(k−1) − 1)/s⌋ + 1.
    """

    _spatial = 1
    _function = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W): ``F.conv2d`` with learned weights.

    Output size per axis ⌊(L + 2p − d(k−1) − 1)/s⌋ + 1.
    """

    _spatial = 2
    _function = staticmethod(F.conv2d)


class _ConvTranspose(_ConvNd):
    _transposed = True
    _function = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{type(self).__name__}, got padding_mode={padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size) -> tuple:
        """The output_padding that makes the output exactly ``output_size`` (PyTorch's rule:
        sizes from (L−1)s − 2p + d(k−1) + 1 up to that + s − 1 are reachable)."""
        if output_size is None:
            return self.output_padding
        n = self._spatial
        output_size = tuple(output_size)
        batched = input.ndim == n + 2
        if len(output_size) == n + (2 if batched else 1):
            output_size = output_size[-n:]
        if len(output_size) != n:
            raise ValueError(f"ConvTranspose{n}D: for {input.ndim}D input, output_size must "
                             f"have {n} or {n + (2 if batched else 1)} elements (got "
                             f"{len(output_size)})")
        spatial = input.shape[-n:]
        smallest = [(spatial[d] - 1) * self.stride[d] - 2 * self.padding[d]
                    + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(n)]
        largest = [smallest[d] + self.stride[d] - 1 for d in range(n)]
        for d in range(n):
            if not smallest[d] <= output_size[d] <= largest[d]:
                raise ValueError(f"requested an output size of {list(output_size)}, but valid "
                                 f"sizes range from {smallest} to {largest} (for an input of "
                                 f"{list(spatial)})")
        return tuple(output_size[d] - smallest[d] for d in range(n))

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return type(self)._function(input, self.weight, self.bias, self.stride, self.padding,
                                    output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution (the adjoint of Conv1d): each input cell spreads its value
    times the kernel over the output.  Output length (L − 1)s − 2p + d(k−1) + output_padding + 1.
    """

    _spatial = 1
    _function = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution (the adjoint of Conv2d), per axis output size
    (L − 1)s − 2p + d(k−1) + output_padding + 1."""

    _spatial = 2
    _function = staticmethod(F.conv_transpose2d)
