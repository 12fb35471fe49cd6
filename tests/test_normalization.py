"""F.batch_norm against PyTorch: outputs, gradients and running statistics, step by step."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from parity import check_op, numerical_gradient, relative_error

SHAPES = [(6, 3), (4, 3, 5), (3, 3, 4, 5)]


def _stats(module, channels, dtype, rng_seed=7):
    """Non-trivial running statistics, the same for both libraries."""
    rng = np.random.default_rng(rng_seed)
    mean = rng.standard_normal(channels).astype(dtype)
    var = rng.uniform(0.5, 2.0, channels).astype(dtype)
    return module.tensor(mean), module.tensor(var)


def _batch_norm_call(module, fn, training, momentum, with_stats=True, **extra):
    """f(x, weight, bias) -> (y, running_mean, running_var), fresh statistics per call."""
    def call(x, weight=None, bias=None):
        if with_stats:
            rm, rv = _stats(module, x.shape[1], np.dtype(str(x.dtype).split(".")[-1]))
        else:
            rm = rv = None
        kwargs = dict(training=training, **extra)
        if momentum is not None:
            kwargs["momentum"] = momentum
        y = fn(x, rm, rv, weight, bias, **kwargs)
        return (y, rm, rv) if with_stats else y
    return call


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{len(s)}d" for s in SHAPES])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_output_gradients_and_running_stats(shape, training, affine, dtype, rng):
    x = rng.standard_normal(shape) * 2 + 0.5
    params = [rng.standard_normal(shape[1]), rng.standard_normal(shape[1])] if affine else []
    check_op(_batch_norm_call(cg, F.batch_norm, training, None),
             _batch_norm_call(torch, TF.batch_norm, training, None), x, *params, dtype=dtype)


@pytest.mark.parametrize("momentum", [0.0, 0.1, 0.5, 1.0, 0.9])
def test_momentum_variants(momentum, rng):
    x = rng.standard_normal((5, 3, 4))
    check_op(_batch_norm_call(cg, F.batch_norm, True, momentum),
             _batch_norm_call(torch, TF.batch_norm, True, momentum),
             x, rng.standard_normal(3), rng.standard_normal(3))


@pytest.mark.parametrize("eps", [1e-5, 1e-3, 0.5])
def test_eps_inside_the_square_root(eps, rng):
    x = rng.standard_normal((4, 2, 3))
    for training in (True, False):
        check_op(_batch_norm_call(cg, F.batch_norm, training, None, eps=eps),
                 _batch_norm_call(torch, TF.batch_norm, training, None, eps=eps),
                 x, rng.standard_normal(2), rng.standard_normal(2))


def test_training_without_running_statistics(rng):
    for shape in SHAPES:
        check_op(_batch_norm_call(cg, F.batch_norm, True, None, with_stats=False),
                 _batch_norm_call(torch, TF.batch_norm, True, None, with_stats=False),
                 rng.standard_normal(shape), rng.standard_normal(shape[1]),
                 rng.standard_normal(shape[1]))


def test_weight_only_and_bias_only(rng):
    x = rng.standard_normal((4, 3, 2))
    for training in (True, False):
        check_op(lambda a, w: _batch_norm_call(cg, F.batch_norm, training, None)(a, w),
                 lambda a, w: _batch_norm_call(torch, TF.batch_norm, training, None)(a, w),
                 x, rng.standard_normal(3))
        check_op(lambda a, b: _batch_norm_call(cg, F.batch_norm, training, None)(a, None, b),
                 lambda a, b: _batch_norm_call(torch, TF.batch_norm, training, None)(a, None, b),
                 x, rng.standard_normal(3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_running_statistics_over_several_training_steps_then_eval(dtype, rng):
    channels = 4
    ours = [cg.tensor(np.zeros(channels, dtype)), cg.tensor(np.ones(channels, dtype))]
    theirs = [torch.zeros(channels, dtype=torch.float64 if dtype == np.float64 else torch.float32),
              torch.ones(channels, dtype=torch.float64 if dtype == np.float64 else torch.float32)]
    weight, bias = rng.standard_normal(channels).astype(dtype), rng.standard_normal(channels).astype(dtype)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for step, momentum in enumerate([0.1, 0.1, 0.3, 0.1, 0.05]):
        # Batches whose statistics drift, so that each update visibly moves the buffers.
        x = (rng.standard_normal((8, channels, 3, 3)) * (1 + step) + step).astype(dtype)
        y = F.batch_norm(cg.tensor(x), *ours, cg.tensor(weight), cg.tensor(bias),
                         training=True, momentum=momentum)
        expected = TF.batch_norm(torch.tensor(x), *theirs, torch.tensor(weight),
                                 torch.tensor(bias), training=True, momentum=momentum)
        np.testing.assert_allclose(y.numpy(), expected.numpy(), **tol)
        for mine, ref in zip(ours, theirs):
            np.testing.assert_allclose(mine.numpy(), ref.numpy(), **tol)
    x = rng.standard_normal((5, channels, 3, 3)).astype(dtype)
    y = F.batch_norm(cg.tensor(x), *ours, cg.tensor(weight), cg.tensor(bias), training=False)
    expected = TF.batch_norm(torch.tensor(x), *theirs, torch.tensor(weight),
                             torch.tensor(bias), training=False)
    np.testing.assert_allclose(y.numpy(), expected.numpy(), **tol)
    assert ours[0].dtype == dtype and ours[1].dtype == dtype


def test_running_var_uses_the_unbiased_variance(rng):
    x = rng.standard_normal((3, 2, 2))
    rm, rv = cg.tensor(np.zeros(2)), cg.tensor(np.zeros(2))
    F.batch_norm(cg.tensor(x), rm, rv, training=True, momentum=1.0)
    np.testing.assert_allclose(rm.numpy(), x.mean(axis=(0, 2)), rtol=1e-14)
    np.testing.assert_allclose(rv.numpy(), x.var(axis=(0, 2), ddof=1), rtol=1e-14)


def test_cumulative_average_is_momentum_one_over_batches_seen(rng):
    """nn.BatchNorm(momentum=None) = F.batch_norm with momentum 1/num_batches_tracked."""
    module = torch.nn.BatchNorm1d(3, momentum=None).double()
    rm, rv = cg.tensor(np.zeros(3)), cg.tensor(np.ones(3))
    batches = [rng.standard_normal((6, 3, 4)) * (k + 1) for k in range(4)]
    for seen, x in enumerate(batches, start=1):
        module(torch.tensor(x))
        F.batch_norm(cg.tensor(x), rm, rv, training=True, momentum=1.0 / seen)
        np.testing.assert_allclose(rm.numpy(), module.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(rv.numpy(), module.running_var.numpy(), rtol=1e-12)
    # ... which is the plain average of the batch statistics.
    np.testing.assert_allclose(rm.numpy(), np.mean([b.mean(axis=(0, 2)) for b in batches], 0),
                               rtol=1e-12)


def test_training_output_is_normalised(rng):
    x = cg.tensor(rng.standard_normal((16, 3, 5)) * 4 + 10)
    y = F.batch_norm(x, None, None, training=True).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1, rtol=1e-4)  # ε = 1e-5 shrinks it slightly


def test_float32_resnet_sized_activation(rng):
    x = rng.standard_normal((16, 16, 16, 16)) * 2 + 0.5
    # ∂L/∂γ and ∂L/∂β are float32 sums of 4096 terms of size ~1 (totals up to ~150), where
    # both libraries carry a few ulps of rounding (measured: ~2e-5 each against float64).
    check_op(_batch_norm_call(cg, F.batch_norm, True, None),
             _batch_norm_call(torch, TF.batch_norm, True, None),
             x, rng.standard_normal(16), rng.standard_normal(16), dtype=np.float32, atol=1e-4)


def test_float32_statistics_stay_accurate_far_from_zero(rng):
    """Activations around 100: the float32 mean needs the two-pass correction.

    PyTorch's own float32 result is off by ~1e-5 here; convgrad stays within a few ulps of
    the float64 answer computed from the same float32 inputs.
    """
    x = (rng.standard_normal((16, 16, 16, 16)) + 100).astype(np.float32)
    exact = TF.batch_norm(torch.tensor(x, dtype=torch.float64), None, None, training=True)
    ours = F.batch_norm(cg.tensor(x), None, None, training=True).numpy()
    theirs = TF.batch_norm(torch.tensor(x), None, None, training=True).numpy()
    our_error = np.abs(ours - exact.numpy()).max()
    assert our_error < 2e-6
    assert our_error <= np.abs(theirs - exact.numpy()).max()


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_float32_gradients_stay_accurate_far_from_zero(training, rng):
    """Activations around 100 with σ = 0.5: Σg·x − μ·Σg cancels most of float32's digits
    (PyTorch's own float32 gradients are off by up to ~4e-5 here); convgrad's stay within a
    few ulps of the float64 answer computed from the same float32 inputs."""
    x = (rng.standard_normal((8, 4, 6)) * 0.5 + 100).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w, b = (rng.standard_normal(4).astype(np.float32) for _ in range(2))
    mean, var = np.full(4, 100.0, np.float32), np.full(4, 0.25, np.float32)

    def gradients(library, fn, dtype):
        leaves = [library.tensor(a.astype(dtype), requires_grad=True) for a in (x, w, b)]
        stats = [library.tensor(a.astype(dtype)) for a in (mean, var)]
        (fn(leaves[0], *stats, *leaves[1:], training) * library.tensor(g.astype(dtype))
         ).sum().backward()
        return [t.grad.numpy().astype(np.float64) for t in leaves]

    exact = gradients(torch, TF.batch_norm, np.float64)
    for name, mine, truth in zip(("x", "weight", "bias"),
                                 gradients(cg, F.batch_norm, np.float32), exact):
        assert np.abs(mine - truth).max() <= 4e-6 * max(1.0, np.abs(truth).max()), name


def test_non_contiguous_input(rng):
    x = rng.standard_normal((4, 5, 3)).transpose(0, 2, 1)  # (4, 3, 5), not C-contiguous
    check_op(_batch_norm_call(cg, F.batch_norm, True, 0.2),
             _batch_norm_call(torch, TF.batch_norm, True, 0.2),
             np.asarray(x), rng.standard_normal(3), rng.standard_normal(3))
    permuted = cg.tensor(rng.standard_normal((4, 5, 3)), requires_grad=True).permute(0, 2, 1)
    F.batch_norm(permuted, None, None, training=True).sum().backward()


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_centred_difference_gradients(training, rng):
    x, w, b = rng.standard_normal((3, 2, 4)), rng.standard_normal(2), rng.standard_normal(2)
    upstream = rng.standard_normal((3, 2, 4))
    mean, var = np.array([0.3, -0.2]), np.array([1.5, 0.7])

    def run(args, grad=False):
        tensors = [cg.tensor(a.copy(), requires_grad=grad) for a in args]
        out = F.batch_norm(tensors[0], cg.tensor(mean.copy()), cg.tensor(var.copy()),
                           tensors[1], tensors[2], training=training)
        return tensors, out

    tensors, out = run((x, w, b), grad=True)
    out.backward(cg.tensor(upstream))
    for i, array in enumerate((x, w, b)):
        def loss(values, i=i):
            args = [x, w, b]
            args[i] = values
            return float((run(args)[1].numpy() * upstream).sum())

        numeric = numerical_gradient(loss, array.copy())
        assert relative_error(tensors[i].grad.numpy(), numeric) < 1e-6


def test_empty_batch_matches_torch():
    check_op(_batch_norm_call(cg, F.batch_norm, True, None),
             _batch_norm_call(torch, TF.batch_norm, True, None),
             np.zeros((0, 3, 2)), np.ones(3), np.zeros(3))
