"""F.linear against PyTorch: leading dims, bias variants, 1-D operands, gradients."""
import numpy as np
import pytest
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from parity import check_op, numerical_gradient, relative_error


@pytest.mark.parametrize("input_shape", [(5, 4), (4,), (2, 3, 4), (2, 1, 3, 4), (0, 4)])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_any_leading_dims(input_shape, with_bias, dtype, rng):
    inputs = [rng.standard_normal(input_shape), rng.standard_normal((6, 4))]
    if with_bias:
        inputs.append(rng.standard_normal(6))
    check_op(F.linear, TF.linear, *inputs, dtype=dtype)


@pytest.mark.parametrize("bias_shape", [(1,), (), (3, 6), (2, 1, 6), (2, 3, 1)])
def test_bias_broadcasts_into_the_output_as_torch(bias_shape, rng):
    check_op(F.linear, TF.linear, rng.standard_normal((2, 3, 4)), rng.standard_normal((6, 4)),
             rng.standard_normal(bias_shape))


def test_one_dimensional_weight_gives_one_output_per_row(rng):
    check_op(F.linear, TF.linear, rng.standard_normal((5, 4)), rng.standard_normal(4))
    check_op(F.linear, TF.linear, rng.standard_normal((2, 5, 4)), rng.standard_normal(4),
             rng.standard_normal(()))
    check_op(F.linear, TF.linear, rng.standard_normal(4), rng.standard_normal(4),
             rng.standard_normal(()))
    check_op(F.linear, TF.linear, rng.standard_normal(4), rng.standard_normal(4))


def test_linear_is_x_times_weight_transposed_plus_bias(rng):
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    out = F.linear(cg.tensor(x), cg.tensor(w), cg.tensor(b)).numpy()
    np.testing.assert_allclose(out, x @ w.T + b, rtol=1e-14)
    assert out.dtype == np.float64


def test_float32_stays_float32(rng):
    x = cg.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    w = cg.tensor(rng.standard_normal((2, 4)).astype(np.float32))
    assert F.linear(x, w).dtype == np.float32


def test_weight_gradient_sums_over_every_row_that_reuses_it(rng):
    # ∂L/∂W = Gᵀ X: with G = 1 each W[j, k] collects Σ_rows x[row, k].
    x = rng.standard_normal((2, 5, 3))
    w = cg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    F.linear(cg.tensor(x), w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.tile(x.reshape(-1, 3).sum(0), (4, 1)),
                               rtol=1e-12)


def test_centred_difference_gradients(rng):
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    upstream = rng.standard_normal((2, 3, 5))
    tensors = [cg.tensor(a.copy(), requires_grad=True) for a in (x, w, b)]
    F.linear(*tensors).backward(cg.tensor(upstream))
    for i, array in enumerate((x, w, b)):
        def loss(values, i=i):
            args = [x, w, b]
            args[i] = values
            return float((F.linear(*map(cg.tensor, args)).numpy() * upstream).sum())

        numeric = numerical_gradient(loss, array.copy())
        assert relative_error(tensors[i].grad.numpy(), numeric) < 1e-7
