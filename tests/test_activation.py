"""Activations and softmax against PyTorch: values, gradients, kinks, dims, dtypes, overflow."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from parity import check_op, numerical_gradient, relative_error

ACTIVATIONS = [
    ("relu", lambda m, x: m.relu(x)),
    ("leaky_relu", lambda m, x: m.leaky_relu(x)),
    ("leaky_relu_0.2", lambda m, x: m.leaky_relu(x, 0.2)),
    ("leaky_relu_negative_slope", lambda m, x: m.leaky_relu(x, negative_slope=-0.3)),
    ("sigmoid", lambda m, x: m.sigmoid(x)),
    ("tanh", lambda m, x: m.tanh(x)),
    ("gelu", lambda m, x: m.gelu(x)),
    ("gelu_tanh", lambda m, x: m.gelu(x, approximate="tanh")),
    ("softmax_dim1", lambda m, x: m.softmax(x, dim=1)),
    ("softmax_dim-1", lambda m, x: m.softmax(x, dim=-1)),
    ("softmax_dim0", lambda m, x: m.softmax(x, 0)),
    ("log_softmax_dim1", lambda m, x: m.log_softmax(x, dim=1)),
    ("log_softmax_dim-1", lambda m, x: m.log_softmax(x, -1)),
    ("log_softmax_dim0", lambda m, x: m.log_softmax(x, dim=0)),
]


def _both(fn):
    return (lambda x: fn(F, x)), (lambda x: fn(TF, x))


# Every activation on every shape, except dim=1 on a 1-D input (an error, tested elsewhere).
PARITY_CASES = [(name, fn, shape) for name, fn in ACTIVATIONS
                for shape in [(7,), (4, 5), (2, 3, 4, 5)]
                if not ("dim1" in name and len(shape) == 1)]


@pytest.mark.parametrize("name,fn,shape", PARITY_CASES,
                         ids=[f"{c[0]}-{len(c[2])}d" for c in PARITY_CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_with_torch(name, fn, shape, dtype, rng):
    x = rng.standard_normal(shape) * 3
    # gelu(tanh)'s float32 derivative near |x| ≈ 5 depends on the last bit of tanh(u) ≈ ±1:
    # torch's float32 value is 0 at x = −5.13 where the float64 truth is −6.4e-7 and ours is
    # −1.1e-6, so absolute agreement there is ~1e-6 · |upstream|, not 1e-6.
    atol = 1e-5 if name == "gelu_tanh" and dtype == np.float32 else None
    check_op(*_both(fn), x, dtype=dtype, atol=atol)


@pytest.mark.parametrize("name,fn", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_derivative_at_kinks_and_zero_matches_torch(name, fn):
    # 0 is the kink of relu/leaky_relu; equal entries stress softmax; ±0 and tiny values too.
    x = np.array([[0.0, -0.0, 1e-12, -1e-12, 0.0], [2.0, 2.0, 2.0, -3.0, 0.0]])
    check_op(*_both(fn), x)


def test_kink_conventions_explicitly():
    x = cg.tensor([-1.0, 0.0, 1.0], requires_grad=True)
    F.relu(x).backward(cg.ones(3))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])   # relu'(0) = 0
    x.grad = None
    F.leaky_relu(x, 0.1).backward(cg.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), [0.1, 0.1, 1.0])       # leaky_relu'(0) = slope


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_large_inputs_do_not_overflow(fn):
    x = np.array([[1e4, 0.0, -1e4], [1000.0, 1000.0, 999.0], [-1e30, 0.0, 88.0]])
    torch_fn = TF.softmax if fn is F.softmax else TF.log_softmax
    for dtype in (np.float32, np.float64):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow RuntimeWarning from NumPy
            out = fn(cg.tensor(x.astype(dtype)), dim=1).numpy()
        assert np.all(np.isfinite(out))
        expected = torch_fn(torch.tensor(x.astype(dtype)), dim=1).numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-30)
    check_op(lambda a: fn(a, dim=1), lambda a: torch_fn(a, dim=1), x)


def test_softmax_rows_sum_to_one_and_match_exp_log_softmax(rng):
    x = cg.tensor(rng.standard_normal((3, 4, 5)) * 10)
    p = F.softmax(x, dim=1).numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(F.log_softmax(x, dim=1).numpy()), p, rtol=1e-12)


def test_log_softmax_minus_infinity_entries_match_torch():
    x = np.array([[-np.inf, 0.0, 1.0], [-np.inf, -np.inf, 2.0]])
    for fn, torch_fn in ((F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)):
        np.testing.assert_allclose(fn(cg.tensor(x), dim=1).numpy(),
                                   torch_fn(torch.tensor(x), dim=1).numpy())


def test_softmax_without_dim_warns_and_uses_torchs_legacy_choice(rng):
    for shape in [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)]:
        x = rng.standard_normal(shape)
        for fn, torch_fn in ((F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)):
            with pytest.warns(UserWarning, match="Implicit dimension"):
                ours = fn(cg.tensor(x)).numpy()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = torch_fn(torch.tensor(x)).numpy()
            np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_implicit_dim_warning_points_at_the_callers_line():
    """Functional calls and layer calls alike: the warning names this file, as in PyTorch."""
    x = cg.tensor(np.zeros((2, 3)))
    calls = [lambda: F.softmax(x), lambda: F.log_softmax(x),
             lambda: cg.nn.Softmax()(x), lambda: cg.nn.LogSoftmax()(x)]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert len(caught) == 1 and "Implicit dimension" in str(caught[0].message)
        assert caught[0].filename == __file__, caught[0].filename


def test_softmax_dtype_argument_and_zero_dim():
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    check_op(lambda a: F.softmax(a, dim=1, dtype=np.float64),
             lambda a: TF.softmax(a, dim=1, dtype=torch.float64), x, dtype=np.float32)
    check_op(lambda a: F.log_softmax(a, dim=0), lambda a: TF.log_softmax(a, dim=0),
             np.array(2.5))
    check_op(lambda a: F.softmax(a, dim=-1), lambda a: TF.softmax(a, dim=-1), np.array(2.5))


def test_integer_inputs_follow_torch():
    ints = np.array([3, -2, 0])
    assert F.relu(cg.tensor(ints)).dtype == np.int64
    np.testing.assert_array_equal(F.relu(cg.tensor(ints)).numpy(), [3, 0, 0])
    for fn, torch_fn in ((F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh)):
        out = fn(cg.tensor(ints))
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.numpy(), torch_fn(torch.tensor(ints)).numpy(), rtol=1e-6)


def test_gelu_values_at_known_points():
    # GELU(x) = x·Φ(x): Φ(0) = ½, Φ(1) = 0.8413447460685429, Φ(−1) = 1 − Φ(1).
    out = F.gelu(cg.tensor(np.array([0.0, 1.0, -1.0]))).numpy()
    np.testing.assert_allclose(out, [0.0, 0.8413447460685429, -(1 - 0.8413447460685429)],
                               rtol=1e-14)


@pytest.mark.parametrize("name,fn", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_centred_difference_gradients(name, fn, rng):
    x = rng.standard_normal((3, 4))
    x[np.abs(x) < 1e-3] = 0.5  # stay away from the relu kink, where differences are one-sided
    upstream = rng.standard_normal((3, 4))

    def loss(values):
        return float((fn(F, cg.tensor(values)).numpy() * upstream).sum())

    t = cg.tensor(x.copy(), requires_grad=True)
    fn(F, t).backward(cg.tensor(upstream))
    assert relative_error(t.grad.numpy(), numerical_gradient(loss, x.copy())) < 1e-6


def test_inplace_without_graph_overwrites_and_returns_input():
    x = cg.tensor([-1.0, 2.0, -3.0])
    assert F.relu(x, inplace=True) is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0, 0.0])
    y = cg.tensor([-1.0, 2.0])
    assert F.leaky_relu(y, 0.5, inplace=True) is y
    np.testing.assert_array_equal(y.numpy(), [-0.5, 2.0])


def test_inplace_inside_a_graph():
    leaf = cg.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.relu(leaf, inplace=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        TF.relu(torch.tensor([-1.0, 2.0], requires_grad=True), inplace=True)
    hidden = leaf * 3
    out = F.relu(hidden, inplace=True)
    np.testing.assert_array_equal(out.detach().numpy(), [0.0, 6.0])
    out.sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), [0.0, 3.0])


def test_inplace_on_values_an_earlier_operation_saved_raises_like_torch():
    # w * x keeps x for ∂/∂w; overwriting x in place makes that gradient unknowable.
    for lib, functional in ((cg, F), (torch, TF)):
        w = lib.tensor([2.0, 3.0], requires_grad=True)
        x = lib.tensor([-1.0, 4.0])
        y = (w * x).sum()
        assert functional.relu(x, inplace=True) is x
        np.testing.assert_array_equal(x.numpy(), [0.0, 4.0])
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_relu_gradient_at_nan_is_passed_through_like_torch():
    values = np.array([np.nan, -1.0, 0.0, 2.0])
    mine = cg.tensor(values, requires_grad=True)
    F.relu(mine).sum().backward()
    theirs = torch.tensor(values, requires_grad=True)
    TF.relu(theirs).sum().backward()
    np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())   # [1, 0, 0, 1]
