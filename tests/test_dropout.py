"""F.dropout: seeded masks, keep rate, scaling, gradient, and PyTorch's special cases."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F


def test_same_seed_same_mask_different_seed_different_mask():
    x = cg.ones(50, 40)
    cg.manual_seed(123)
    first = F.dropout(x, 0.3).numpy()
    cg.manual_seed(123)
    again = F.dropout(x, 0.3).numpy()
    cg.manual_seed(124)
    other = F.dropout(x, 0.3).numpy()
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()
    # Successive calls without reseeding draw fresh masks.
    cg.manual_seed(123)
    F.dropout(x, 0.3)
    assert (F.dropout(x, 0.3).numpy() != first).any()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_kept_fraction_and_scaling(p):
    cg.manual_seed(0)
    n = 1_000_000
    y = F.dropout(cg.ones(n), p).numpy()
    kept = y != 0
    # Binomial(n, 1−p): the standard deviation of the kept fraction is √(p(1−p)/n) ≤ 5e-4.
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
    # Inverted dropout keeps the expectation: E[y] = x.
    assert abs(y.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_is_mask_over_keep_probability(dtype, rng):
    p = 0.4
    x = cg.tensor(rng.standard_normal((30, 20)).astype(dtype), requires_grad=True)
    cg.manual_seed(5)
    y = F.dropout(x, p)
    assert y.dtype == dtype
    upstream = rng.standard_normal((30, 20)).astype(dtype)
    y.backward(cg.tensor(upstream))
    mask = (y.detach().numpy() != 0).astype(dtype)
    np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy() * mask / (1 - p),
                               rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), upstream * mask / dtype(1 - p), rtol=1e-6)
    assert 0 < mask.mean() < 1


def test_evaluation_and_p_zero_return_the_input_itself_as_torch():
    x = cg.tensor([1.0, -2.0, 3.0])
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    t = torch.tensor([1.0, -2.0, 3.0])
    assert TF.dropout(t, 0.5, training=False) is t and TF.dropout(t, 0.0) is t


def test_p_one_zeroes_values_and_gradient():
    x = cg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.detach().numpy(), TF.dropout(torch.tensor([1.0, -2.0, 3.0]),
                                                                 1.0).numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_inplace():
    x = cg.ones(200)
    cg.manual_seed(1)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x
    assert set(np.unique(x.numpy())) == {0.0, 2.0}
    leaf = cg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.dropout(leaf, 0.5, inplace=True)


def test_default_p_is_one_half_and_training_on():
    cg.manual_seed(3)
    y = F.dropout(cg.ones(100_000)).numpy()
    assert abs((y != 0).mean() - 0.5) < 0.01
    assert set(np.unique(y)) == {0.0, 2.0}
