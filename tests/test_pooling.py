"""max/avg/adaptive pooling against PyTorch (values, indices, gradients), and centred differences.

Every parity case runs in float64 (tight) and float32.  PyTorch's edge rules get their own
cases: ceil_mode's dropped last window, count_include_pad clipped to [−p, L + p), ties going
to the first maximum, NaN propagation, −∞ windows, unbatched and empty-batch inputs.
"""
import math

import numpy as np
import pytest
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from convgrad.shapes import pool_output_size
from parity import check_op, numerical_gradient, relative_error

DTYPES = [np.float64, np.float32]


def both(name, *args, **kwargs):
    """The same call for convgrad and torch: ``F.name(x, *args, **kwargs)``."""
    return (lambda x: getattr(F, name)(x, *args, **kwargs),
            lambda x: getattr(TF, name)(x, *args, **kwargs))


# ----------------------------------------------------------------------------- max pool
MAX_POOL2D = [  # kernel_size, stride, padding, dilation, ceil_mode
    (2, None, 0, 1, False),
    (3, 2, 1, 1, False),
    ((3, 2), (2, 1), (1, 1), 1, False),
    (3, 1, 1, 2, False),
    ((2, 3), (1, 2), (1, 0), (2, 1), False),
    (3, 2, 1, 1, True),
    (2, 2, 0, 1, True),
    ((3, 1), (3, 2), (1, 0), (1, 2), True),
    (1, 1, 0, 1, False),
    (4, 3, 2, 1, True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", MAX_POOL2D)
def test_max_pool2d_parity(kernel, stride, padding, dilation, ceil_mode, dtype, rng):
    x = rng.standard_normal((2, 3, 7, 8))
    check_op(*both("max_pool2d", kernel, stride, padding, dilation, ceil_mode), x, dtype=dtype)
    # The indices too: flat positions h·W + w in each channel's unpadded plane.
    check_op(*both("max_pool2d", kernel, stride, padding, dilation, ceil_mode,
                   return_indices=True), x, dtype=dtype)


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", MAX_POOL2D)
def test_max_pool2d_values_without_gradient(kernel, stride, padding, dilation, ceil_mode, rng):
    # No gradient and no indices wanted: convgrad takes its values-only path.
    x = rng.standard_normal((2, 3, 7, 8))
    x[0, 1, 2, 3] = np.nan
    out = check_op(*both("max_pool2d", kernel, stride, padding, dilation, ceil_mode), x,
                   grad=False)
    assert not out.requires_grad
    with cg.no_grad():
        np.testing.assert_array_equal(
            F.max_pool2d(cg.tensor(x, requires_grad=True), kernel, stride, padding, dilation,
                         ceil_mode).data, out.data)


MAX_POOL1D = [  # kernel_size, stride, padding, dilation, ceil_mode
    (2, None, 0, 1, False),
    (3, 2, 1, 1, False),
    (3, 1, 1, 3, False),
    (4, 3, 2, 1, True),
    (2, 3, 1, 1, True),
    ((3,), (2,), (1,), (2,), True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", MAX_POOL1D)
@pytest.mark.parametrize("return_indices", [False, True])
def test_max_pool1d_parity(kernel, stride, padding, dilation, ceil_mode, return_indices,
                           dtype, rng):
    x = rng.standard_normal((2, 3, 11))
    check_op(*both("max_pool1d", kernel, stride, padding, dilation, ceil_mode, return_indices),
             x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_unbatched(dtype, rng):
    check_op(*both("max_pool2d", 3, 2, 1, return_indices=True), rng.standard_normal((3, 7, 6)),
             dtype=dtype)
    check_op(*both("max_pool1d", 3, 2, 1, return_indices=True), rng.standard_normal((3, 9)),
             dtype=dtype)


def test_max_pool_empty_batch():
    check_op(*both("max_pool2d", 2, return_indices=True), np.zeros((0, 2, 5, 5)))
    check_op(*both("max_pool1d", 2), np.zeros((0, 2, 5)))


def test_ceil_mode_drops_a_window_that_would_start_in_the_right_padding():
    # L=4, k=2, s=3, p=1: ⌈(4 + 2 − 1 − 1)/3⌉ + 1 = 3, but window 2 would start at
    # 2·3 = 6 ≥ L + p = 5 (entirely in the padding), so PyTorch drops it: 2 windows.
    assert pool_output_size(4, 2, 3, 1, 1, True) == 2
    x = np.arange(1.0, 5.0).reshape(1, 1, 4)
    out = check_op(*both("max_pool1d", 2, 3, 1, ceil_mode=True, return_indices=True), x)
    assert out[0].shape == (1, 1, 2)
    np.testing.assert_array_equal(out[1].data, [[[0, 3]]])
    # In 2-D, with the drop on H only (H = 4) and an extra ceil window kept on W (W = 6).
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 6))
    out = check_op(*both("max_pool2d", 2, 3, 1, ceil_mode=True), x)
    assert out.shape == (2, 2, 2, 3)


def test_ties_go_to_the_first_maximum_in_scan_order():
    x = np.array([[[[1.0, 2.0, 2.0],
                    [2.0, 2.0, 0.0],
                    [2.0, 1.0, 2.0]]]])
    out, indices = check_op(*both("max_pool2d", 2, 1, return_indices=True), x)
    np.testing.assert_array_equal(indices.data, [[[[1, 1], [3, 4]]]])
    # Overlapping windows that pick the same element add their gradients into it.
    x = np.array([[[1.0, 2.0, 2.0, 1.0]]])
    check_op(*both("max_pool1d", 2, 1), x)
    ones = np.ones((1, 1, 4, 4))
    check_op(*both("max_pool2d", 3, 1, 1, return_indices=True), ones)


def test_nan_propagates_and_the_last_nan_gets_the_index():
    x = np.array([[[1.0, np.nan, 3.0, np.nan, 2.0, 0.0, 5.0, 1.0]]])
    values, indices = check_op(*both("max_pool1d", 4, return_indices=True), x)
    assert np.isnan(values.data[0, 0, 0]) and values.data[0, 0, 1] == 5.0
    np.testing.assert_array_equal(indices.data, [[[3, 6]]])
    x2 = np.random.default_rng(3).standard_normal((1, 2, 5, 5))
    x2[0, 0, 1, 2] = np.nan
    x2[0, 1, 4, 4] = np.nan
    check_op(*both("max_pool2d", 3, 2, 1, return_indices=True), x2)


def test_windows_of_minus_infinity_point_at_their_first_real_element():
    x = np.array([[[-np.inf, -np.inf, -np.inf, 1.0]]])
    values, indices = check_op(*both("max_pool1d", 2, padding=1, return_indices=True), x,
                               grad=False)
    np.testing.assert_array_equal(indices.data, [[[0, 1, 3]]])
    check_op(*both("max_pool2d", 3, 2, 1, return_indices=True),
             np.full((1, 1, 4, 5), -np.inf), grad=False)


def test_a_window_that_misses_the_input_gives_minus_infinity_and_no_gradient():
    # k=2, d=2, p=1 on H=1: the first window's taps are rows −1 and 1, both outside the
    # input.  PyTorch returns −∞ with an index past the plane (and its backward writes out
    # of bounds there, so only the forward is compared); convgrad sends that window nothing.
    x = np.random.default_rng(5).standard_normal((2, 2, 1, 4))
    torch_call = lambda t: TF.max_pool2d(t, (2, 1), 1, (1, 0), (2, 1), return_indices=True)
    values, _ = check_op(lambda t: F.max_pool2d(t, (2, 1), 1, (1, 0), (2, 1),
                                                return_indices=True), torch_call, x, grad=False)
    out = values.data
    assert out.shape == (2, 2, 1, 4) and np.all(out == -np.inf)
    t = cg.tensor(x, requires_grad=True)
    F.max_pool2d(t, (2, 1), 1, (1, 0), (2, 1)).sum().backward()
    np.testing.assert_array_equal(t.grad.data, np.zeros_like(x))


def test_max_pool_integer_input():
    x = np.random.default_rng(1).integers(-50, 50, (2, 3, 6, 5))
    check_op(*both("max_pool2d", 3, 2, 1, return_indices=True), x, grad=False)
    check_op(*both("max_pool1d", 3, 2, 1, return_indices=True), x[0], grad=False)


def test_indices_are_int64_without_gradient(rng):
    x = cg.tensor(rng.standard_normal((1, 2, 4, 4)), requires_grad=True)
    out, indices = F.max_pool2d(x, 2, return_indices=True)
    assert indices.dtype == np.int64 and not indices.requires_grad and out.requires_grad
    assert out.grad_fn is not None and "MaxPool2D" in repr(out.grad_fn)


# ----------------------------------------------------------------------------- avg pool
AVG_POOL2D = [  # kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    (2, None, 0, False, True, None),
    (3, 2, 1, False, True, None),
    (3, 2, 1, False, False, None),
    ((3, 2), (2, 1), (1, 1), False, True, None),
    (3, 2, 1, True, True, None),       # ceil windows hang past L + p: clipped divisor
    (3, 2, 1, True, False, None),
    (2, 2, 0, True, True, None),       # ceil window of real elements only
    (4, 3, 2, True, True, None),
    (3, 2, 1, False, True, 4),
    (3, 2, 1, True, False, -3),
    ((1, 3), (1, 2), (0, 1), True, True, None),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode, count_include_pad, divisor",
                         AVG_POOL2D)
def test_avg_pool2d_parity(kernel, stride, padding, ceil_mode, count_include_pad, divisor,
                           dtype, rng):
    x = rng.standard_normal((2, 3, 7, 8))
    check_op(*both("avg_pool2d", kernel, stride, padding, ceil_mode, count_include_pad,
                   divisor), x, dtype=dtype)


AVG_POOL1D = [  # kernel_size, stride, padding, ceil_mode, count_include_pad
    (2, None, 0, False, True),
    (3, 2, 1, False, True),
    (3, 2, 1, True, True),
    (3, 2, 1, True, False),
    (4, 3, 2, True, True),
    (4, 3, 2, True, False),
    ((5,), (1,), (2,), False, False),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode, count_include_pad", AVG_POOL1D)
def test_avg_pool1d_parity(kernel, stride, padding, ceil_mode, count_include_pad, dtype, rng):
    x = rng.standard_normal((2, 3, 10))
    check_op(*both("avg_pool1d", kernel, stride, padding, ceil_mode, count_include_pad), x,
             dtype=dtype)


def test_count_include_pad_divisor_is_clipped_to_the_padded_input():
    # L=6, k=3, s=2, p=1, ceil_mode: the last window covers [5, 8) but L + p = 7, so with
    # count_include_pad it divides by 2 (one real element, one pad), not by k = 3.
    x = np.arange(1.0, 7.0).reshape(1, 1, 6)
    with_pad = check_op(*both("avg_pool1d", 3, 2, 1, True, True), x)
    real_only = check_op(*both("avg_pool1d", 3, 2, 1, True, False), x)
    np.testing.assert_allclose(with_pad.data, [[[1.0, 3.0, 5.0, 3.0]]])
    np.testing.assert_allclose(real_only.data, [[[1.5, 3.0, 5.0, 6.0]]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool_unbatched_and_empty(dtype, rng):
    check_op(*both("avg_pool2d", 3, 2, 1, True, False), rng.standard_normal((3, 7, 6)),
             dtype=dtype)
    check_op(*both("avg_pool1d", 3, 2, 1), rng.standard_normal((3, 9)), dtype=dtype)
    check_op(*both("avg_pool2d", 2), np.zeros((0, 2, 4, 4)), dtype=dtype)


def test_avg_pool_integer_input_truncates_toward_zero():
    x = np.array([[[-7, -3, 5, 8, -1]]])
    out = check_op(*both("avg_pool1d", 3, 1, 1), x, grad=False)
    np.testing.assert_array_equal(out.data, [[[-3, -1, 3, 4, 2]]])
    x2 = np.random.default_rng(2).integers(-20, 20, (2, 2, 5, 6))
    check_op(*both("avg_pool2d", 3, 2, 1, True, False), x2, grad=False)
    check_op(*both("avg_pool2d", 2, divisor_override=-3), x2, grad=False)


# ----------------------------------------------------------------------------- adaptive
ADAPTIVE2D = [((5, 7), (3, 4)), ((4, 4), 1), ((4, 6), 2), ((3, 5), (7, 9)),
              ((6, 5), (None, 3)), ((6, 5), [2, None]), ((5, 5), (5, 5))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size, output_size", ADAPTIVE2D)
def test_adaptive_avg_pool2d_parity(size, output_size, dtype, rng):
    check_op(*both("adaptive_avg_pool2d", output_size), rng.standard_normal((2, 3) + size),
             dtype=dtype)
    check_op(*both("adaptive_avg_pool2d", output_size), rng.standard_normal((3,) + size),
             dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("length, output_size", [(5, 3), (8, 4), (7, 1), (4, 9), (6, (2,))])
def test_adaptive_avg_pool1d_parity(length, output_size, dtype, rng):
    check_op(*both("adaptive_avg_pool1d", output_size), rng.standard_normal((2, 3, length)),
             dtype=dtype)
    check_op(*both("adaptive_avg_pool1d", output_size), rng.standard_normal((3, length)),
             dtype=dtype)


def test_adaptive_windows_are_torchs():
    # L=5 into 3: [0, 2), [1, 4), [3, 5) — overlapping where 5/3 is not an integer.
    x = np.arange(5.0).reshape(1, 1, 5)
    out = check_op(*both("adaptive_avg_pool1d", 3), x)
    np.testing.assert_allclose(out.data, [[[0.5, 2.0, 3.5]]])


def test_adaptive_empty_output_and_empty_channels():
    out = check_op(*both("adaptive_avg_pool2d", (0, 2)), np.ones((2, 3, 4, 4)), grad=False)
    assert out.shape == (2, 3, 0, 2)
    check_op(*both("adaptive_avg_pool2d", 2), np.ones((1, 0, 4, 4)), grad=False)
    t = cg.tensor(np.ones((2, 3, 4, 4)), requires_grad=True)
    F.adaptive_avg_pool2d(t, (0, 2)).sum().backward()     # torch refuses this backward
    np.testing.assert_array_equal(t.grad.data, np.zeros((2, 3, 4, 4)))


def test_float32_stays_float32_and_float64_is_kept(rng):
    for name, args in [("max_pool2d", (2,)), ("avg_pool2d", (2,)),
                       ("adaptive_avg_pool2d", (2,))]:
        for dtype in (np.float32, np.float64):
            x = cg.tensor(rng.standard_normal((1, 2, 4, 4)).astype(dtype), requires_grad=True)
            y = getattr(F, name)(x, *args)
            y.backward(cg.tensor(np.ones(y.shape, dtype=dtype)))
            assert y.dtype == dtype and x.grad.dtype == dtype


# ----------------------------------------------------------------------------- centred differences
def _distinct(shape, seed):
    """Values at least 0.1 apart, so a ±1e-6 nudge never changes which element is a max."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)


GRADIENT_CASES = [
    ("max_pool2d", dict(kernel_size=3, stride=1, padding=1)),           # overlapping windows
    ("max_pool2d", dict(kernel_size=2, stride=(1, 2), dilation=2, ceil_mode=True)),
    ("max_pool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                        count_include_pad=False)),
    ("avg_pool2d", dict(kernel_size=(2, 3), stride=1, padding=(1, 1), divisor_override=5)),
    ("avg_pool1d", dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ("adaptive_avg_pool2d", dict(output_size=(3, 2))),
    ("adaptive_avg_pool1d", dict(output_size=4)),
]


@pytest.mark.parametrize("name, kwargs", GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_gradient_matches_centred_differences(name, kwargs):
    shape = (2, 2, 5) if name.endswith("1d") else (2, 2, 5, 4)
    x = _distinct(shape, seed=len(kwargs))
    fn = getattr(F, name)
    upstream = np.random.default_rng(11).standard_normal(fn(cg.tensor(x), **kwargs).shape)
    loss = lambda a: float((fn(cg.tensor(a), **kwargs).data * upstream).sum())
    t = cg.tensor(x, requires_grad=True)
    fn(t, **kwargs).backward(cg.tensor(upstream))
    expected = numerical_gradient(loss, x.copy())
    assert relative_error(t.grad.data, expected) < 1e-6


def test_gradients_accumulate_across_calls(rng):
    x = cg.tensor(rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    first = x.grad.data.copy()
    F.avg_pool2d(x, 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, first + 0.25)
    assert math.isclose(first.sum(), 4.0)


def test_ceil_mode_lets_a_kernel_longer_than_the_input_make_one_window():
    # L=3, k=4: ⌊(3 − 3 − 1)/4⌋ + 1 = 0 windows without ceil_mode (an error), but
    # ⌈−1/4⌉ + 1 = 1 with it: a single window hanging past the end, as in PyTorch.
    x = np.array([[[1.0, 2.0, 3.0]]])
    for name in ("avg_pool1d", "max_pool1d"):
        out = check_op(*both(name, 4, ceil_mode=True), x)
        assert out.shape == (1, 1, 1)
    check_op(*both("avg_pool2d", (4, 3), ceil_mode=True, count_include_pad=False),
             np.random.default_rng(0).standard_normal((1, 2, 3, 2)))
