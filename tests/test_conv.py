"""conv1d, conv2d, conv_transpose1d, conv_transpose2d against PyTorch, option by option.

Every case compares the forward pass and the gradients of every input (for a random upstream
gradient) with PyTorch, in float64 at tight tolerance and in float32; a few small cases are
also checked by centred differences, independently of PyTorch.
"""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from convgrad.kernels import conv as conv_kernel
from convgrad.kernels import conv_routes, conv_transpose
from parity import check_op, check_raises_like, numerical_gradient, relative_error

# PyTorch warns that 'same' with an even kernel may copy the input; that is its business.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

# (input shape, weight shape, has bias, keyword arguments)
CONV1D_CASES = {
    "plain": ((2, 3, 9), (4, 3, 3), True, {}),
    "no bias": ((2, 3, 9), (4, 3, 3), False, {}),
    "stride": ((2, 3, 10), (4, 3, 3), True, dict(stride=3)),
    "padding int": ((2, 3, 6), (4, 3, 3), True, dict(padding=2)),
    "padding tuple": ((2, 3, 6), (4, 3, 4), True, dict(padding=(1,))),
    "valid": ((2, 3, 7), (4, 3, 4), True, dict(padding="valid")),
    "same odd kernel": ((2, 3, 7), (4, 3, 5), True, dict(padding="same")),
    "same even kernel": ((2, 3, 7), (4, 3, 4), True, dict(padding="same")),
    "same even kernel dilated": ((2, 3, 8), (4, 3, 2), True, dict(padding="same", dilation=3)),
    "same odd kernel dilated": ((2, 3, 8), (4, 3, 3), True, dict(padding="same", dilation=2)),
    "dilation": ((2, 3, 11), (4, 3, 3), True, dict(dilation=3)),
    "stride padding dilation": ((2, 3, 13), (4, 3, 3), True, dict(stride=2, padding=2, dilation=2)),
    "groups": ((2, 4, 8), (6, 2, 3), True, dict(groups=2)),
    "depthwise": ((2, 4, 8), (4, 1, 3), True, dict(groups=4, padding=1)),
    "depthwise multiplier": ((2, 3, 8), (6, 1, 3), False, dict(groups=3)),
    "1x1": ((2, 5, 7), (3, 5, 1), True, {}),
    "kernel spans input": ((2, 3, 5), (4, 3, 5), True, {}),
    "unbatched": ((3, 9), (4, 3, 3), True, dict(padding=1, stride=2)),
    "unbatched same": ((3, 6), (2, 3, 4), False, dict(padding="same")),
    "single example": ((1, 1, 4), (1, 1, 2), False, {}),
}

CONV2D_CASES = {
    "plain": ((2, 3, 6, 5), (4, 3, 3, 3), True, {}),
    "no bias": ((2, 3, 6, 5), (4, 3, 3, 2), False, {}),
    "stride int": ((2, 3, 8, 7), (4, 3, 3, 3), True, dict(stride=2)),
    "stride tuple": ((2, 3, 8, 7), (4, 3, 3, 2), True, dict(stride=(3, 1))),
    "padding int": ((2, 3, 5, 4), (4, 3, 3, 3), True, dict(padding=1)),
    "padding tuple": ((2, 3, 5, 4), (4, 3, 3, 2), True, dict(padding=(2, 0))),
    "valid": ((2, 3, 6, 5), (4, 3, 2, 3), True, dict(padding="valid")),
    "same odd": ((2, 3, 6, 5), (4, 3, 3, 5), True, dict(padding="same")),
    "same even": ((2, 3, 6, 5), (4, 3, 4, 2), True, dict(padding="same")),
    "same even dilated": ((2, 3, 7, 6), (4, 3, 2, 4), True, dict(padding="same", dilation=(3, 1))),
    "same dilated tuple": ((2, 3, 7, 8), (4, 3, 3, 2), True, dict(padding="same", dilation=(2, 3))),
    "same groups": ((2, 4, 5, 6), (6, 2, 2, 3), True, dict(padding="same", groups=2)),
    "dilation": ((2, 3, 9, 8), (4, 3, 3, 3), True, dict(dilation=2)),
    "dilation tuple": ((2, 3, 9, 8), (4, 3, 3, 2), True, dict(dilation=(1, 3))),
    "everything": ((2, 4, 11, 9), (6, 2, 3, 2), True,
                   dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)),
    "groups 3": ((2, 6, 5, 5), (9, 2, 3, 3), True, dict(groups=3)),
    "depthwise": ((2, 4, 6, 6), (4, 1, 3, 3), True, dict(groups=4, padding=1)),
    "depthwise strided": ((2, 3, 7, 7), (6, 1, 3, 3), False, dict(groups=3, stride=2)),
    "1x1": ((2, 5, 4, 3), (3, 5, 1, 1), True, {}),
    "1x1 strided": ((2, 5, 5, 4), (3, 5, 1, 1), True, dict(stride=2)),
    "unbatched": ((3, 6, 5), (4, 3, 3, 3), True, dict(padding=1)),
    "unbatched groups": ((4, 6, 5), (2, 2, 3, 2), False, dict(groups=2, stride=2)),
    "list arguments": ((2, 3, 8, 7), (4, 3, 3, 3), True, dict(stride=[2, 1], padding=[1, 0])),
}

# conv_transpose: weight (C_in, C_out/groups, *k)
TRANSPOSE1D_CASES = {
    "plain": ((2, 3, 5), (3, 4, 3), True, {}),
    "no bias": ((2, 3, 5), (3, 4, 3), False, {}),
    "stride": ((2, 3, 5), (3, 4, 3), True, dict(stride=2)),
    "stride larger than kernel": ((2, 3, 4), (3, 2, 2), True, dict(stride=3)),
    "padding": ((2, 3, 5), (3, 4, 3), True, dict(padding=1)),
    "output_padding with stride": ((2, 3, 5), (3, 4, 3), True,
                                   dict(stride=3, padding=1, output_padding=2)),
    "output_padding with dilation": ((2, 3, 5), (3, 4, 3), True,
                                     dict(dilation=3, output_padding=2)),
    "output_padding past the padding": ((2, 3, 4), (3, 2, 2), True,
                                        dict(stride=4, padding=1, output_padding=3)),
    "dilation": ((2, 3, 5), (3, 4, 3), True, dict(dilation=2, padding=2)),
    "groups": ((2, 4, 5), (4, 3, 3), True, dict(groups=2, stride=2)),
    "depthwise": ((2, 4, 5), (4, 1, 3), False, dict(groups=4)),
    "unbatched": ((3, 5), (3, 4, 3), True, dict(stride=2, output_padding=1)),
}

TRANSPOSE2D_CASES = {
    "plain": ((2, 3, 4, 5), (3, 4, 3, 2), True, {}),
    "no bias": ((2, 3, 4, 5), (3, 4, 3, 3), False, {}),
    "stride": ((2, 3, 4, 3), (3, 2, 3, 3), True, dict(stride=2)),
    "stride tuple": ((2, 3, 4, 3), (3, 2, 3, 2), True, dict(stride=(1, 3))),
    "padding": ((2, 3, 4, 5), (3, 2, 3, 3), True, dict(padding=(1, 2))),
    "output_padding": ((2, 3, 4, 3), (3, 2, 3, 3), True,
                       dict(stride=2, padding=1, output_padding=1)),
    "output_padding tuple": ((2, 3, 3, 3), (3, 2, 3, 2), True,
                             dict(stride=(3, 2), padding=(1, 0), output_padding=(2, 1))),
    "output_padding from dilation": ((2, 3, 3, 3), (3, 2, 2, 2), True,
                                     dict(dilation=(3, 2), output_padding=(2, 1))),
    "dilation": ((2, 3, 4, 4), (3, 2, 3, 2), True, dict(dilation=(2, 3))),
    "groups": ((2, 4, 3, 4), (4, 3, 3, 3), True, dict(groups=2, stride=2, padding=1)),
    "groups 3": ((2, 6, 3, 3), (6, 1, 2, 2), True, dict(groups=3)),
    "everything": ((2, 4, 3, 4), (4, 2, 3, 2), True,
                   dict(stride=(2, 3), padding=(1, 1), output_padding=(1, 2), groups=2,
                        dilation=(2, 1))),
    "unbatched": ((3, 4, 3), (3, 2, 3, 3), True, dict(stride=2, padding=1)),
}

OPS = {
    "conv1d": (F.conv1d, TF.conv1d, CONV1D_CASES),
    "conv2d": (F.conv2d, TF.conv2d, CONV2D_CASES),
    "conv_transpose1d": (F.conv_transpose1d, TF.conv_transpose1d, TRANSPOSE1D_CASES),
    "conv_transpose2d": (F.conv_transpose2d, TF.conv_transpose2d, TRANSPOSE2D_CASES),
}
ALL_CASES = [(op, name) for op, (_, _, cases) in OPS.items() for name in cases]


def _inputs(rng, input_shape, weight_shape, has_bias, bias_size):
    inputs = [rng.standard_normal(input_shape), rng.standard_normal(weight_shape)]
    if has_bias:
        inputs.append(rng.standard_normal(bias_size))
    return inputs


def _bias_size(op, weight_shape, kwargs):
    if op.startswith("conv_transpose"):
        return weight_shape[1] * kwargs.get("groups", 1)
    return weight_shape[0]


@pytest.mark.parametrize("op,case", ALL_CASES, ids=[f"{op}-{case}" for op, case in ALL_CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_with_torch(op, case, dtype, rng):
    cg_fn, torch_fn, cases = OPS[op]
    input_shape, weight_shape, has_bias, kwargs = cases[case]
    inputs = _inputs(rng, input_shape, weight_shape, has_bias, _bias_size(op, weight_shape, kwargs))
    # float32: sums of a few dozen products carry rounding of ~1e-6 absolute in either library
    out = check_op(cg_fn, torch_fn, *inputs, dtype=dtype, kwargs=kwargs,
                   atol=1e-5 if dtype == np.float32 else None)
    assert out.dtype == dtype


@pytest.mark.parametrize("op", list(OPS))
def test_bias_passed_by_keyword_and_position_agree(op, rng):
    cg_fn, _, cases = OPS[op]
    input_shape, weight_shape, _, kwargs = cases["plain"]
    x, w, b = _inputs(rng, input_shape, weight_shape, True, _bias_size(op, weight_shape, kwargs))
    x, w, b = cg.tensor(x), cg.tensor(w), cg.tensor(b)
    np.testing.assert_array_equal(cg_fn(x, w, b).numpy(), cg_fn(x, w, bias=b).numpy())


def test_zero_batch_gives_an_empty_output_like_torch(rng):
    check_op(F.conv2d, TF.conv2d, rng.standard_normal((0, 3, 5, 5)),
             rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), kwargs=dict(padding=1))
    check_op(F.conv_transpose2d, TF.conv_transpose2d, rng.standard_normal((0, 3, 4, 4)),
             rng.standard_normal((3, 2, 3, 3)), kwargs=dict(stride=2))


@pytest.mark.parametrize("op", list(OPS))
def test_input_without_grad_gets_none_and_weight_gradients_still_match(op, rng):
    # A network's first layer: its input needs no gradient, so none is computed.
    cg_fn, torch_fn, cases = OPS[op]
    input_shape, weight_shape, _, kwargs = cases["plain"]
    x, w, b = _inputs(rng, input_shape, weight_shape, True, _bias_size(op, weight_shape, kwargs))
    upstream = None
    grads = []
    for lib, tensor, fn in ((cg, cg.tensor, cg_fn), (torch, torch.tensor, torch_fn)):
        xt = tensor(x)
        wt, bt = tensor(w, requires_grad=True), tensor(b, requires_grad=True)
        out = fn(xt, wt, bt, **kwargs)
        if upstream is None:
            upstream = rng.standard_normal(tuple(out.shape))
        (out * tensor(upstream)).sum().backward()
        assert xt.grad is None
        grads.append((wt.grad.numpy(), bt.grad.numpy()))
    for mine, theirs in zip(*grads):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_only_the_bias_requiring_grad(rng):
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    bias = cg.tensor(rng.standard_normal(4), requires_grad=True)
    out = F.conv2d(cg.tensor(x), cg.tensor(w), bias, padding=1)
    out.sum().backward()
    np.testing.assert_allclose(bias.grad.numpy(), np.full(4, 2 * 25.0))


# issue 9: with padding past d(k−1) on both sides and C_in ≥ 4, the stride-1 grid's output
# rows were longer than its row stride, and backward crashed ("could not broadcast").
PADDED_PAST_THE_KERNEL = {
    "1x1 input, 1x1 kernel, padding 1": (F.conv2d, TF.conv2d, (1, 4, 1, 1), (1, 4, 1, 1), 1),
    "3x3 kernel, padding 3": (F.conv2d, TF.conv2d, (2, 4, 5, 5), (8, 4, 3, 3), 3),
    "1x1 kernel on 2x2, padding 1": (F.conv2d, TF.conv2d, (2, 4, 2, 2), (3, 4, 1, 1), 1),
    "conv1d, padding 3": (F.conv1d, TF.conv1d, (2, 4, 6), (3, 4, 2), 3),
    "conv1d dilated, padding 5": (F.conv1d, TF.conv1d, (1, 5, 9), (2, 5, 3), 5),
}


@pytest.mark.parametrize("case", list(PADDED_PAST_THE_KERNEL))
@pytest.mark.parametrize("input_grad", [True, False])
def test_padding_past_the_kernel_with_four_channels(case, input_grad, rng):
    mine, theirs, x_shape, w_shape, padding = PADDED_PAST_THE_KERNEL[case]
    dilation = 2 if "dilated" in case else 1
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    grads = []
    for lib, fn in ((cg, mine), (torch, theirs)):
        xt, wt = lib.tensor(x, requires_grad=input_grad), lib.tensor(w, requires_grad=True)
        out = fn(xt, wt, padding=padding, dilation=dilation)
        (out * lib.tensor(np.cos(np.arange(out.numel()).reshape(out.shape)))).sum().backward()
        grads.append((out.detach().numpy(), wt.grad.numpy(),
                      xt.grad.numpy() if input_grad else xt.grad))
    for mine_value, their_value in zip(*grads):
        if their_value is None:
            assert mine_value is None
        else:
            np.testing.assert_allclose(mine_value, their_value, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("channels,stride", [(3, 1), (4, 1), (4, 2)])   # im2col, grid, phases
@pytest.mark.parametrize("transposed", [False, True])
def test_backward_kernel_computes_only_what_is_asked(channels, stride, transposed, rng):
    x = rng.standard_normal((2, channels, 6, 6)).astype(np.float32)
    w = rng.standard_normal((channels, 3, 3, 3) if transposed else (3, channels, 3, 3)
                            ).astype(np.float32)
    s = (stride, stride)
    if transposed:
        y, cache = conv_transpose.conv_transpose_forward(x, w, None, s, (1, 1), (0, 0), (1, 1), 1)
        backward = conv_transpose.conv_transpose_backward
    else:
        y, cache = conv_routes.conv_forward(x, w, None, s, ((1, 1), (1, 1)), (1, 1), 1)
        backward = conv_routes.conv_backward
    g = rng.standard_normal(y.shape).astype(np.float32)
    assert backward(g, cache, need_input=False, need_weight=False, need_bias=False) == (None,) * 3
    dx, dw, db = backward(g, cache, need_input=False, need_weight=True, need_bias=False)
    assert dx is None and db is None and dw.shape == w.shape
    dx, dw, db = backward(g, cache, need_input=True, need_weight=False, need_bias=True)
    assert dw is None and dx.shape == x.shape and db.shape == (y.shape[1],)
    assert dx.dtype == db.dtype == np.float32


@pytest.mark.parametrize("op", list(OPS))
def test_float32_stays_float32_in_every_gradient(op, rng):
    cg_fn, _, cases = OPS[op]
    input_shape, weight_shape, _, kwargs = cases["plain"]
    arrays = _inputs(rng, input_shape, weight_shape, True, _bias_size(op, weight_shape, kwargs))
    x, w, b = (cg.tensor(a.astype(np.float32), requires_grad=True) for a in arrays)
    out = cg_fn(x, w, b, **kwargs)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


def test_conv_kernel_keeps_float32_in_every_array(rng):
    x = rng.standard_normal((2, 3, 7, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y, cache = conv_kernel.conv_forward(x, w, b, (2, 1), ((1, 1), (0, 1)), (1, 2), 1)
    assert y.dtype == cache.cols.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv_kernel.conv_backward(np.ones_like(y), cache))


def test_window_matrix_is_rebuilt_when_not_kept(rng):
    # The window matrix costs ∏k times the input: functional keeps it only when the weight
    # requires grad; without it the backward pass rebuilds it and gets the same ∂L/∂w.
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 2))
    args = (None, (2, 1), ((1, 1), (0, 1)), (1, 2), 1)
    y, kept = conv_kernel.conv_forward(x, w, *args, keep_cols=True)
    _, rebuilt = conv_kernel.conv_forward(x, w, *args, keep_cols=False)
    assert kept.cols is not None and rebuilt.cols is None
    g = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(conv_kernel.conv_backward(g, kept)[1],
                                  conv_kernel.conv_backward(g, rebuilt)[1])


def test_weight_gradient_of_a_sum_is_the_sum_of_each_window(rng):
    x = cg.tensor(rng.standard_normal((1, 2, 5, 5)))
    w = cg.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    F.conv2d(x, w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(),
                               np.broadcast_to(_window_sums(x.numpy()[0]), (3, 2, 3, 3)),
                               rtol=1e-12)


def _window_sums(x):
    """Σ over the 3×3 output positions of x[c, s+σ, t+τ]: ∂(Σ y)/∂w[o, c, σ, τ] for any o."""
    return np.array([[[x[c, s:s + 3, t:t + 3].sum() for t in range(3)] for s in range(3)]
                     for c in range(x.shape[0])])


def test_gradients_accumulate_across_backward_calls(rng):
    x = cg.tensor(rng.standard_normal((2, 3, 5, 5)), requires_grad=True)
    w = cg.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    first_x, first_w = x.grad.numpy().copy(), w.grad.numpy().copy()
    F.conv2d(x, w, padding=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first_x, rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), 2 * first_w, rtol=1e-12)


def test_no_grad_records_nothing(rng):
    x = cg.tensor(rng.standard_normal((1, 2, 4, 4)), requires_grad=True)
    w = cg.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    with cg.no_grad():
        out = F.conv2d(x, w)
    assert not out.requires_grad
    assert F.conv2d(x, w).grad_fn is not None


def test_non_contiguous_input(rng):
    # A transposed view (NHWC memory seen as NCHW) works without the caller copying it.
    nhwc = rng.standard_normal((2, 6, 5, 3))
    check_op(lambda x, w: F.conv2d(x.permute(0, 3, 1, 2), w, padding=1),
             lambda x, w: TF.conv2d(x.permute(0, 3, 1, 2), w, padding=1),
             nhwc, rng.standard_normal((4, 3, 3, 3)))


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_integer_convolution_matches_torch(dtype, rng):
    x = rng.integers(-5, 5, (2, 3, 6, 6)).astype(dtype)
    w = rng.integers(-3, 3, (4, 3, 3, 3)).astype(dtype)
    b = rng.integers(-3, 3, 4).astype(dtype)
    mine = F.conv2d(cg.tensor(x), cg.tensor(w), cg.tensor(b), stride=2, padding=1).numpy()
    theirs = TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=2, padding=1)
    assert mine.dtype == dtype
    np.testing.assert_array_equal(mine, theirs.numpy())
    # PyTorch's transposed convolution takes int64 but no other integer type.
    wt = w.transpose(1, 0, 2, 3).copy()
    if dtype == np.int64:
        mine_t = F.conv_transpose2d(cg.tensor(x), cg.tensor(wt), stride=2).numpy()
        theirs_t = TF.conv_transpose2d(torch.tensor(x), torch.tensor(wt), stride=2)
        np.testing.assert_array_equal(mine_t, theirs_t.numpy())
    else:
        check_raises_like(lambda: F.conv_transpose2d(cg.tensor(x), cg.tensor(wt)),
                          lambda: TF.conv_transpose2d(torch.tensor(x), torch.tensor(wt)),
                          "int32")


def test_grad_fn_is_named_like_torch(rng):
    x = cg.tensor(rng.standard_normal((1, 2, 4)), requires_grad=True)
    w = cg.tensor(rng.standard_normal((3, 2, 2)))
    assert "ConvolutionBackward0" in repr(F.conv1d(x, w).grad_fn)
    w_transposed = cg.tensor(rng.standard_normal((2, 3, 2)))
    assert "ConvolutionBackward0" in repr(F.conv_transpose1d(x, w_transposed).grad_fn)


# ------------------------------------------------------------------ centred differences
GRADCHECK_CASES = {
    "conv1d": (F.conv1d, (2, 2, 7), (3, 2, 3), 3, dict(stride=2, padding=1, dilation=2)),
    "conv1d same even": (F.conv1d, (1, 2, 5), (2, 2, 4), 2, dict(padding="same")),
    "conv2d": (F.conv2d, (2, 2, 5, 4), (2, 2, 3, 2), 2, dict(stride=(2, 1), padding=(1, 0))),
    "conv2d groups dilation": (F.conv2d, (1, 4, 6, 5), (4, 2, 2, 2), 4,
                               dict(groups=2, dilation=(2, 1), padding=1)),
    "conv_transpose1d": (F.conv_transpose1d, (2, 2, 4), (2, 3, 3), 3,
                         dict(stride=2, padding=1, output_padding=1)),
    "conv_transpose2d": (F.conv_transpose2d, (1, 4, 3, 3), (4, 1, 2, 3), 2,
                         dict(stride=(2, 1), groups=2, dilation=(1, 2), output_padding=(1, 0))),
}


@pytest.mark.parametrize("case", list(GRADCHECK_CASES))
def test_centred_difference_gradients(case, rng):
    fn, x_shape, w_shape, out_channels, kwargs = GRADCHECK_CASES[case]
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(out_channels)]
    tensors = [cg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors, **kwargs)
    upstream = rng.standard_normal(out.shape)
    (out * cg.tensor(upstream)).sum().backward()

    for i, (array, tensor) in enumerate(zip(arrays, tensors)):
        def loss(value, i=i):
            args = [cg.tensor(a) for a in arrays]
            args[i] = cg.tensor(value)
            return float((fn(*args, **kwargs).numpy() * upstream).sum())

        numeric = numerical_gradient(loss, array.copy())
        assert relative_error(tensor.grad.numpy(), numeric) < 1e-6, f"input {i}"


def test_weight_gradient_adds_every_reuse_1d():
    # ∂L/∂w[τ] = Σ_t ∂L/∂y[t] · x[t+τ]: with ∂L/∂y = 1, w[τ] collects x over every position.
    x = np.array([[[1.0, 2.0, 4.0, 8.0, 16.0]]])
    w = cg.tensor(np.array([[[0.5, -1.0, 2.0]]]), requires_grad=True)
    F.conv1d(cg.tensor(x), w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[[1 + 2 + 4, 2 + 4 + 8, 4 + 8 + 16]]])


def test_input_gradient_collects_from_every_window_1d():
    # ∂L/∂x[i] = Σ_τ ∂L/∂y[i−τ] · w[τ]: the middle cells are read by three windows.
    x = cg.tensor(np.zeros((1, 1, 5)), requires_grad=True)
    w = np.array([[[1.0, 10.0, 100.0]]])
    F.conv1d(x, cg.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[1, 11, 111, 110, 100]]])


def test_transposed_convolution_is_the_adjoint_of_the_convolution(rng):
    # ⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩ for the same weight and arguments.
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 2))
    args = dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2), groups=2)
    y = F.conv2d(cg.tensor(x), cg.tensor(w), **args).numpy()
    probe = rng.standard_normal(y.shape)
    # output_padding recovers the input size that the stride made ambiguous
    shortest = F.conv_transpose2d(cg.tensor(probe), cg.tensor(w), **args).shape[2:]
    extra = tuple(a - b for a, b in zip(x.shape[2:], shortest))
    back = F.conv_transpose2d(cg.tensor(probe), cg.tensor(w), output_padding=extra, **args).numpy()
    assert back.shape == x.shape
    np.testing.assert_allclose((y * probe).sum(), (x * back).sum(), rtol=1e-12)
