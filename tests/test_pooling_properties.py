"""Hypothesis over valid random pooling and padding configurations.

For each drawn configuration: the output shape equals the output-size formula, and the
values, indices and gradients equal PyTorch's.  One invariant ties pooling to convolution:
average pooling (count_include_pad, floor mode) is a depthwise convolution with the constant
kernel 1/(k_h·k_w) — every window element weighted equally, the padding counted as zeros.
"""
import numpy as np
import torch.nn.functional as TF
from hypothesis import assume, given
from hypothesis import strategies as st

import convgrad as cg
import convgrad.functional as F
from parity import check_op


def formula_size(length, kernel, stride, padding, dilation, ceil_mode):
    """⌊(L + 2p − d(k−1) − 1)/s⌋ + 1, or ⌈·⌉ with ceil_mode minus a window starting ≥ L + p."""
    span = length + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= length + padding:
        out -= 1
    return out


def sees_the_input(length, kernel, stride, padding, dilation, out):
    """Every window has a tap inside [0, L) (a dilated window can step over a short input)."""
    for t in range(out):
        taps = range(t * stride - padding, t * stride - padding + dilation * kernel, dilation)
        if not any(0 <= i < length for i in taps):
            return False
    return True


@st.composite
def axis_config(draw, dilated):
    """One spatial axis: (length, kernel, stride, padding, dilation) with p ≤ k/2, output ≥ 1."""
    kernel = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 4))
    padding = draw(st.integers(0, kernel // 2))
    dilation = draw(st.integers(1, 3)) if dilated else 1
    shortest = max(1, dilation * (kernel - 1) + 1 - 2 * padding)
    length = draw(st.integers(shortest, shortest + 6))
    return length, kernel, stride, padding, dilation


@st.composite
def pool_config(draw, dilated):
    h, w = draw(axis_config(dilated)), draw(axis_config(dilated))
    ceil_mode = draw(st.booleans())
    batch = draw(st.sampled_from([(), (1,), (2,)]))          # () is an unbatched input
    channels = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    return h, w, ceil_mode, batch + (channels,), seed


def _args(h, w, default_stride):
    (H, kh, sh, ph, dh), (W, kw, sw, pw, dw) = h, w
    stride = None if default_stride else (sh, sw)
    return (H, W), (kh, kw), stride, (ph, pw), (dh, dw)


@given(pool_config(dilated=True), st.booleans())
def test_max_pool2d_matches_torch(config, default_stride):
    h, w, ceil_mode, lead, seed = config
    if default_stride:
        h, w = h[:2] + (h[1],) + h[3:], w[:2] + (w[1],) + w[3:]    # stride = kernel_size
    (H, W), kernel, stride, padding, dilation = _args(h, w, default_stride)
    sizes = [formula_size(*axis[:5], ceil_mode) for axis in (h, w)]
    for axis, out in zip((h, w), sizes):
        # PyTorch's backward writes out of bounds for a window of padding only: skip those.
        assume(out >= 1 and sees_the_input(*axis, out))
    x = np.random.default_rng(seed).standard_normal(lead + (H, W))
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                  ceil_mode=ceil_mode, return_indices=True)
    values, indices = check_op(lambda t: F.max_pool2d(t, **kwargs),
                               lambda t: TF.max_pool2d(t, **kwargs), x)
    assert values.shape == indices.shape == lead + tuple(sizes)


@st.composite
def avg_config(draw):
    h, w, ceil_mode, lead, seed = draw(pool_config(dilated=False))
    count_include_pad = draw(st.booleans())
    divisor = draw(st.one_of(st.none(), st.integers(-4, 6).filter(bool)))
    return h, w, ceil_mode, lead, seed, count_include_pad, divisor


@given(avg_config())
def test_avg_pool2d_matches_torch(config):
    h, w, ceil_mode, lead, seed, count_include_pad, divisor = config
    (H, W), kernel, stride, padding, _ = _args(h, w, False)
    sizes = tuple(formula_size(*axis[:5], ceil_mode) for axis in (h, w))
    assume(min(sizes) >= 1)
    x = np.random.default_rng(seed).standard_normal(lead + (H, W))
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad, divisor_override=divisor)
    out = check_op(lambda t: F.avg_pool2d(t, **kwargs), lambda t: TF.avg_pool2d(t, **kwargs), x)
    assert out.shape == lead + sizes


@given(pool_config(dilated=False))
def test_avg_pool2d_is_a_depthwise_convolution_with_a_constant_kernel(config):
    h, w, _, lead, seed = config
    (H, W), kernel, stride, padding, _ = _args(h, w, False)
    rng = np.random.default_rng(seed)
    x_data = rng.standard_normal(lead + (H, W))
    channels = lead[-1]
    weight = cg.tensor(np.full((channels, 1) + kernel, 1.0 / (kernel[0] * kernel[1])))
    x_pool, x_conv = (cg.tensor(x_data, requires_grad=True) for _ in range(2))
    pooled = F.avg_pool2d(x_pool, kernel, stride, padding, count_include_pad=True)
    convolved = F.conv2d(x_conv, weight, stride=stride, padding=padding, groups=channels)
    np.testing.assert_allclose(pooled.data, convolved.data, rtol=1e-12, atol=1e-14)
    upstream = cg.tensor(rng.standard_normal(pooled.shape))
    pooled.backward(upstream)
    convolved.backward(upstream)
    np.testing.assert_allclose(x_pool.grad.numpy(), x_conv.grad.numpy(), rtol=1e-12,
                               atol=1e-14)


@st.composite
def pad_config(draw):
    """A mode, an input, and per-dimension (before, after) amounts that mode accepts."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    dims = draw(st.integers(1, 3))
    batch = draw(st.sampled_from([(), (2,)]))
    lengths = tuple(draw(st.integers(1, 5)) for _ in range(dims))
    shape = batch + (draw(st.integers(1, 3)),) + lengths
    pad = []
    for length in reversed(lengths):                 # pad lists the last dimension first
        if mode == "reflect":
            before, after = (draw(st.integers(-length + 1, length - 1)) for _ in range(2))
            assume(length + before + after >= 1)
        elif mode == "replicate":
            before, after = (draw(st.integers(-length + 1, 4)) for _ in range(2))
            assume(length + before + after >= 1)
        elif mode == "circular":
            before, after = (draw(st.integers(-length + 1, length)) for _ in range(2))
            kept = length - max(-before, 0) - max(-after, 0)
            assume(kept >= 1 and max(before, after) <= kept)
        else:
            before, after = (draw(st.integers(-length, 4)) for _ in range(2))
            assume(length - max(-before, 0) - max(-after, 0) >= 0)
        pad += [before, after]
    return mode, shape, tuple(pad), draw(st.integers(0, 2**32 - 1))


@given(pad_config())
def test_pad_matches_torch(config):
    mode, shape, pad, seed = config
    x = np.random.default_rng(seed).standard_normal(shape)
    out = check_op(lambda t: F.pad(t, pad, mode=mode), lambda t: TF.pad(t, pad, mode=mode), x)
    expected = list(shape)
    for i in range(len(pad) // 2):                   # pair i pads dimension −1 − i
        expected[-1 - i] += pad[2 * i] + pad[2 * i + 1]
    assert out.shape == tuple(expected)
