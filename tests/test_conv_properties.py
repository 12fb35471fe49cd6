"""Property tests: random valid convolutions (shapes, strides, paddings, dilations, groups).

For each drawn configuration the output shape equals the formula in ``shapes.py`` and the
values and gradients equal PyTorch's.  Two invariants are checked inside convgrad itself: a
1×1 convolution is a linear map over channels, and a grouped convolution is the per-group
convolutions concatenated.
"""
import numpy as np
import pytest
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import convgrad as cg
import convgrad.functional as F
from convgrad import shapes
from parity import check_op

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


@st.composite
def conv_configs(draw, spatial):
    """A valid conv{1,2}d call: arrays (input, weight, bias or not) and keyword arguments."""
    groups = draw(st.integers(1, 3))
    in_channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    kernel = draw(st.tuples(*[st.integers(1, 4)] * spatial))
    dilation = draw(st.tuples(*[st.integers(1, 3)] * spatial))
    mode = draw(st.sampled_from(["ints", "ints", "valid", "same"]))
    stride = (1,) * spatial if mode == "same" else draw(st.tuples(*[st.integers(1, 3)] * spatial))
    if mode == "ints":
        padding = draw(st.tuples(*[st.integers(0, 3)] * spatial))
        pads = padding
    else:
        padding, pads = mode, (0,) * spatial
    lengths = []
    for k, d, p in zip(kernel, dilation, pads):
        shortest = 1 if mode == "same" else max(1, d * (k - 1) + 1 - 2 * p)
        lengths.append(draw(st.integers(shortest, shortest + 5)))
    batched = draw(st.booleans())
    input_shape = ((draw(st.integers(1, 2)),) if batched else ()) + (in_channels, *lengths)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(input_shape),
              rng.standard_normal((out_channels, in_channels // groups, *kernel))]
    if draw(st.booleans()):
        arrays.append(rng.standard_normal(out_channels))
    return arrays, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def expected_conv_shape(input_shape, weight_shape, kwargs):
    lengths, kernel = input_shape[-len(weight_shape) + 2:], weight_shape[2:]
    if kwargs["padding"] == "same":
        sizes = tuple(lengths)
    else:
        pads = (0,) * len(kernel) if kwargs["padding"] == "valid" else kwargs["padding"]
        sizes = tuple(shapes.conv_output_size(length, k, s, p, d) for length, k, s, p, d
                      in zip(lengths, kernel, kwargs["stride"], pads, kwargs["dilation"]))
    return tuple(input_shape[:-len(kernel) - 1]) + (weight_shape[0],) + sizes


@given(conv_configs(spatial=1))
def test_conv1d_matches_torch_and_the_formula(config):
    arrays, kwargs = config
    out = check_op(F.conv1d, TF.conv1d, *arrays, kwargs=kwargs)
    assert out.shape == expected_conv_shape(arrays[0].shape, arrays[1].shape, kwargs)


@given(conv_configs(spatial=2))
def test_conv2d_matches_torch_and_the_formula(config):
    arrays, kwargs = config
    out = check_op(F.conv2d, TF.conv2d, *arrays, kwargs=kwargs)
    assert out.shape == expected_conv_shape(arrays[0].shape, arrays[1].shape, kwargs)


@st.composite
def conv_transpose2d_configs(draw):
    groups = draw(st.integers(1, 3))
    in_channels = groups * draw(st.integers(1, 2))
    out_per_group = draw(st.integers(1, 2))
    kernel = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
    stride = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    dilation = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    lengths = draw(st.tuples(st.integers(1, 5), st.integers(1, 5)))
    # output_padding < max(stride, dilation); padding leaves at least one output cell:
    # 2p ≤ (L−1)s + d(k−1) + output_padding.
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = tuple(draw(st.integers(0, min(3, ((n - 1) * s + d * (k - 1) + extra) // 2)))
                    for n, s, d, k, extra in zip(lengths, stride, dilation, kernel, output_padding))
    batched = draw(st.booleans())
    input_shape = ((draw(st.integers(1, 2)),) if batched else ()) + (in_channels, *lengths)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    arrays = [rng.standard_normal(input_shape),
              rng.standard_normal((in_channels, out_per_group, *kernel))]
    if draw(st.booleans()):
        arrays.append(rng.standard_normal(out_per_group * groups))
    return arrays, dict(stride=stride, padding=padding, output_padding=output_padding,
                        groups=groups, dilation=dilation)


@given(conv_transpose2d_configs())
def test_conv_transpose2d_matches_torch_and_the_formula(config):
    arrays, kwargs = config
    out = check_op(F.conv_transpose2d, TF.conv_transpose2d, *arrays, kwargs=kwargs)
    x_shape, w_shape = arrays[0].shape, arrays[1].shape
    sizes = tuple(shapes.conv_transpose_output_size(n, k, s, p, d, extra) for n, k, s, p, d, extra
                  in zip(x_shape[-2:], w_shape[2:], kwargs["stride"], kwargs["padding"],
                         kwargs["dilation"], kwargs["output_padding"]))
    assert out.shape == tuple(x_shape[:-3]) + (w_shape[1] * kwargs["groups"],) + sizes


# ------------------------------------------------------------------ invariants
def _grads(fn, arrays):
    """fn's output and the gradients of every input for one fixed upstream gradient."""
    tensors = [cg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    upstream = np.cos(np.arange(out.detach().numpy().size)).reshape(out.shape)
    (out * cg.tensor(upstream)).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


@given(batch=st.integers(1, 3), in_channels=st.integers(1, 4), out_channels=st.integers(1, 4),
       height=st.integers(1, 4), width=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_1x1_convolution_is_a_linear_map_over_channels(batch, in_channels, out_channels, height,
                                                       width, seed):
    # y[n, o, h, w] = Σ_c W[o, c] x[n, c, h, w] + b[o]: a dense layer applied at every pixel.
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, in_channels, height, width))
    w = rng.standard_normal((out_channels, in_channels, 1, 1))
    b = rng.standard_normal(out_channels)
    conv_out, conv_grads = _grads(lambda x, w, b: F.conv2d(x, w, b), [x, w, b])
    linear_out, linear_grads = _grads(
        lambda x, w, b: F.linear(x.permute(0, 2, 3, 1), w.reshape(out_channels, in_channels),
                                 b).permute(0, 3, 1, 2), [x, w, b])
    np.testing.assert_allclose(conv_out, np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x)
                               + b[:, None, None], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv_out, linear_out, rtol=1e-12, atol=1e-12)
    for mine, linear in zip(conv_grads, linear_grads):
        np.testing.assert_allclose(mine, linear, rtol=1e-12, atol=1e-12)


@given(groups=st.integers(2, 3), in_per_group=st.integers(1, 3), out_per_group=st.integers(1, 3),
       kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1),
       length=st.integers(3, 6), seed=st.integers(0, 2**16))
def test_grouped_convolution_is_per_group_convolutions_concatenated(
        groups, in_per_group, out_per_group, kernel, stride, padding, length, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, groups * in_per_group, length, length + 1))
    w = rng.standard_normal((groups * out_per_group, in_per_group, kernel, kernel))
    b = rng.standard_normal(groups * out_per_group)
    args = dict(stride=stride, padding=padding)

    def per_group(x, w, b):
        parts = []
        for g in range(groups):
            inputs, outputs = slice(g * in_per_group, (g + 1) * in_per_group), \
                slice(g * out_per_group, (g + 1) * out_per_group)
            parts.append(F.conv2d(x[:, inputs], w[outputs], b[outputs], **args))
        return cg.cat(parts, dim=1)

    grouped_out, grouped_grads = _grads(lambda x, w, b: F.conv2d(x, w, b, groups=groups, **args),
                                        [x, w, b])
    split_out, split_grads = _grads(per_group, [x, w, b])
    np.testing.assert_allclose(grouped_out, split_out, rtol=1e-12, atol=1e-12)
    for grouped, split in zip(grouped_grads, split_grads):
        np.testing.assert_allclose(grouped, split, rtol=1e-12, atol=1e-12)
