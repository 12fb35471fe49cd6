"""F.pad against PyTorch in every mode, forward and backward, and centred differences.

The copying modes (reflect, replicate, circular) pad 1 to 3 trailing dimensions of a batched
or unbatched input; constant pads any number and crops with negative amounts.  Negative
amounts in the copying modes follow PyTorch: reflect and replicate mirror/clip about the
original edges, circular wraps what is left after cropping.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from parity import check_op, numerical_gradient, relative_error

DTYPES = [np.float64, np.float32]
MODES = ["constant", "reflect", "replicate", "circular"]


def both(pad, **kwargs):
    return (lambda x: F.pad(x, pad, **kwargs), lambda x: TF.pad(x, pad, **kwargs))


# (input shape, pad): every supported pad length, batched and unbatched.
COPYING_CASES = [
    ((3, 6), (2, 3)),                       # 1 dim, unbatched
    ((2, 3, 6), (1, 0)),                    # 1 dim, batched
    ((2, 3, 6), (5, 5)),                    # reflect's largest: L − 1
    ((3, 4, 5), (1, 2, 3, 0)),              # 2 dims, unbatched
    ((2, 3, 4, 5), (3, 1, 2, 2)),           # 2 dims, batched
    ((2, 3, 4, 5, 3), (1, 2, 0, 1, 2, 1)),  # 3 dims, batched
    ((2, 3, 6), (-2, 3)),                   # crop one side, pad the other
    ((2, 3, 6), (4, -1)),
    ((2, 4, 5), (-1, 2, 1, -2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", COPYING_CASES)
def test_copying_modes_parity(shape, pad, mode, dtype, rng):
    check_op(*both(pad, mode=mode), rng.standard_normal(shape), dtype=dtype)


CONSTANT_CASES = [
    ((5,), (2, 3)),
    ((2, 3, 4, 5), (1, 1)),
    ((2, 3, 4, 5), (1, 2, 3, 4, 1, 0, 2, 1)),   # every dimension, batch included
    ((2, 3, 4, 5), (-1, 2, 2, -3)),              # crops
    ((2, 3, 4), (-4, 0)),                        # crop a dimension to nothing
    ((2, 3, 4), (-4, 2)),                        # then pad it back with the value
    ((2, 3, 4), ()),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [None, 0.0, -2.5, float("nan")])
@pytest.mark.parametrize("shape, pad", CONSTANT_CASES)
def test_constant_parity(shape, pad, value, dtype, rng):
    check_op(*both(pad, mode="constant", value=value), rng.standard_normal(shape), dtype=dtype)


def test_the_values_of_each_mode():
    x = np.arange(4.0).reshape(1, 4)
    expected = {
        "constant": [0, 0, 0, 0, 1, 2, 3, 0, 0],
        "reflect": [3, 2, 1, 0, 1, 2, 3, 2, 1],
        "replicate": [0, 0, 0, 0, 1, 2, 3, 3, 3],
        "circular": [1, 2, 3, 0, 1, 2, 3, 0, 1],
    }
    for mode, values in expected.items():
        out = check_op(*both((3, 2), mode=mode), x)
        np.testing.assert_array_equal(out.data, [values])


def test_negative_padding_in_the_copying_modes():
    x = np.arange(4.0).reshape(1, 4)
    # Reflect mirrors about the original last element even after cropping the first two.
    out = check_op(*both((-2, 3), mode="reflect"), x)
    np.testing.assert_array_equal(out.data, [[2, 3, 2, 1, 0]])
    # Circular crops first, then wraps the part that is left: [1, 2, 3] + [1, 2].
    out = check_op(*both((-1, 2), mode="circular"), x)
    np.testing.assert_array_equal(out.data, [[1, 2, 3, 1, 2]])
    # Circular may crop a dimension to nothing.
    out = check_op(*both((-2, -2), mode="circular"), x, grad=False)
    assert out.shape == (1, 0)


@pytest.mark.parametrize("mode", MODES)
def test_integer_input(mode):
    x = np.arange(24).reshape(2, 3, 4)
    check_op(*both((2, 1), mode=mode), x, grad=False)


def test_constant_value_is_cast_like_torch():
    x = np.arange(4).reshape(1, 4)
    out = check_op(*both((1, 1), value=-2.7), x, grad=False)      # truncated toward 0
    np.testing.assert_array_equal(out.data, [[-2, 0, 1, 2, 3, -2]])


def test_a_zero_value_is_accepted_by_the_copying_modes(rng):
    check_op(*both((1, 1), mode="reflect", value=0), rng.standard_normal((2, 3, 4)))


def test_empty_batch(rng):
    for mode in MODES:
        check_op(*both((1, 2), mode=mode), np.zeros((0, 3, 4)))


@pytest.mark.parametrize("mode", MODES)
def test_dtype_kept_and_grad_fn_named(mode, rng):
    for dtype in (np.float32, np.float64):
        x = cg.tensor(rng.standard_normal((2, 3, 4)).astype(dtype), requires_grad=True)
        y = F.pad(x, (1, 2), mode=mode)
        y.sum().backward()
        assert y.dtype == dtype and x.grad.dtype == dtype
    assert ("Constant" if mode == "constant" else mode[:4].capitalize()) in repr(y.grad_fn)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pad", [(2, 1, 1, 2), (-1, 3, 2, -1)])
def test_gradient_matches_centred_differences(mode, pad):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 5))
    upstream = rng.standard_normal(F.pad(cg.tensor(x), pad, mode=mode).shape)
    loss = lambda a: float((F.pad(cg.tensor(a), pad, mode=mode).data * upstream).sum())
    t = cg.tensor(x, requires_grad=True)
    F.pad(t, pad, mode=mode).backward(cg.tensor(upstream))
    assert relative_error(t.grad.numpy(), numerical_gradient(loss, x.copy())) < 1e-6


def test_an_element_copied_into_the_padding_collects_every_copy():
    # Replicating the last element 3 times: its gradient is 1 (itself) + 3 (copies).
    x = cg.tensor(np.arange(4.0).reshape(1, 4), requires_grad=True)
    F.pad(x, (0, 3), mode="replicate").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1, 1, 4]])
    t = torch.arange(4.0).reshape(1, 4).requires_grad_()
    TF.pad(t, (0, 3), mode="replicate").sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[1, 1, 1, 4]])
