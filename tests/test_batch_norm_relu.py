"""F.batch_norm_relu, convgrad's fused ``relu(batch_norm(x) + residual)``, against PyTorch's
three separate operations: outputs, running statistics and gradients, in training and in
evaluation, and the BatchNorm layers' ``forward_relu`` that the residual blocks call."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from convgrad.kernels import blas
from parity import check_op, check_raises_like, numerical_gradient, relative_error

SHAPES = [(6, 3), (4, 3, 5), (3, 3, 4, 5)]


def _running_stats(module, channels: int, dtype):
    """Non-trivial running statistics, the same for both libraries."""
    rng = np.random.default_rng(11)
    mean = rng.standard_normal(channels).astype(dtype)
    var = rng.uniform(0.5, 2.0, channels).astype(dtype)
    return module.tensor(mean), module.tensor(var)


def _fused(training, momentum=0.1, eps=1e-5):
    """convgrad: (x, r[, γ, β]) -> (z, running mean, running var), r None when not given."""
    def call(x, residual=None, weight=None, bias=None):
        rm, rv = _running_stats(cg, x.shape[1], np.dtype(str(x.dtype).split(".")[-1]))
        z = F.batch_norm_relu(x, rm, rv, weight, bias, training, momentum, eps,
                              residual=residual)
        return z, rm, rv
    return call


def _unfused(training, momentum=0.1, eps=1e-5):
    """PyTorch: the same with batch_norm, an addition and relu."""
    def call(x, residual=None, weight=None, bias=None):
        rm, rv = _running_stats(torch, x.shape[1],
                                np.dtype(str(x.dtype).split(".")[-1]))
        y = TF.batch_norm(x, rm, rv, weight, bias, training, momentum, eps)
        return TF.relu(y if residual is None else y + residual), rm, rv
    return call


def _inputs(rng, shape, residual: bool, affine: bool) -> list:
    x = rng.standard_normal(shape) * 2 + 0.5
    r = [rng.standard_normal(shape)] if residual else []
    if affine and not residual:
        r = [None]
    params = [rng.standard_normal(shape[1]), rng.standard_normal(shape[1])] if affine else []
    return [x, *r, *params]


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{len(s)}d" for s in SHAPES])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("residual", [True, False], ids=["residual", "no-residual"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_batch_norm_plus_residual_then_relu_in_torch(shape, training, residual, affine,
                                                            dtype, rng):
    check_op(_fused(training), _unfused(training), *_inputs(rng, shape, residual, affine),
             dtype=dtype)


@pytest.mark.parametrize("shape", SHAPES[1:], ids=["3d", "4d"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_channels_last_inputs_as_convolutions_return_them(shape, training, rng):
    check_op(_fused(training), _unfused(training), *_inputs(rng, shape, True, True),
             layout="channels_last")
    check_op(_fused(training), _unfused(training), *_inputs(rng, shape, True, True),
             layout="channels_last", dtype=np.float32)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_far_from_zero_statistics_take_the_centred_route(training, rng):
    """|μ| > 2σ: statistics and gradients come from x − μ (the kernels' second route)."""
    x = rng.standard_normal((8, 4, 6)) * 0.5 + 30
    check_op(_fused(training), _unfused(training), x, rng.standard_normal(x.shape),
             rng.standard_normal(4), rng.standard_normal(4))


@pytest.mark.parametrize("mean", [30.0, 100.0])
def test_float32_gradients_far_from_zero_stay_near_float64(mean, rng):
    """Activations around 100 with σ = 0.5: Σg·x − μ·Σg would cancel away most of float32's
    digits (PyTorch's own float32 ∂L/∂γ is off by ~4e-5 here); convgrad's gradients stay
    within a few ulps of the float64 answer from the same float32 inputs."""
    x = (rng.standard_normal((8, 4, 6)) * 0.5 + mean).astype(np.float32)
    r, g = (rng.standard_normal(x.shape).astype(np.float32) for _ in range(2))
    w, b = (rng.standard_normal(4).astype(np.float32) for _ in range(2))

    def gradients(library, fn, dtype):
        tensors = [library.tensor(a.astype(dtype), requires_grad=True) for a in (x, r, w, b)]
        z = fn(tensors)
        (z * library.tensor(g.astype(dtype))).sum().backward()
        return [t.grad.numpy().astype(np.float64) for t in tensors]

    exact = gradients(torch, lambda t: TF.relu(TF.batch_norm(t[0], None, None, t[2], t[3],
                                                             True) + t[1]), np.float64)
    ours = gradients(cg, lambda t: F.batch_norm_relu(t[0], None, None, t[2], t[3], True,
                                                     residual=t[1]), np.float32)
    for name, mine, truth in zip(("x", "residual", "weight", "bias"), ours, exact):
        assert np.abs(mine - truth).max() <= 4e-6 * max(1.0, np.abs(truth).max()), name


@pytest.mark.parametrize("momentum", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("eps", [1e-5, 0.5])
def test_momentum_and_eps(momentum, eps, rng):
    x = rng.standard_normal((5, 3, 4))
    check_op(_fused(True, momentum, eps), _unfused(True, momentum, eps), x,
             rng.standard_normal(x.shape), rng.standard_normal(3), rng.standard_normal(3))


def test_zero_and_nan_outputs_pass_gradients_as_torchs_relu():
    """z = 0 exactly gives no gradient and z = NaN passes it, as PyTorch's ReLU."""
    x = np.array([[[0.0, 1.0, -2.0, np.nan]], [[0.0, -1.0, 3.0, 0.5]]])   # (2, 1, 4)
    var = np.ones(1) - 1e-5                                                 # σ = 1 exactly
    assert var[0] + 1e-5 == 1.0

    def mine(x, r):
        return F.batch_norm_relu(x, cg.zeros(1, dtype=cg.float64), cg.tensor(var), None,
                                 None, False, residual=r)

    def theirs(x, r):
        y = TF.batch_norm(x, torch.zeros(1, dtype=torch.float64), torch.tensor(var), None,
                          None, False)
        return TF.relu(y + r)

    check_op(mine, theirs, x, np.zeros_like(x))


def test_centred_difference_gradients(rng):
    shape = (3, 2, 4)
    x, r = rng.standard_normal(shape), rng.standard_normal(shape)
    w, b = rng.standard_normal(2), rng.standard_normal(2)
    upstream = rng.standard_normal(shape)

    def run(args, grad=False):
        tensors = [cg.tensor(a.copy(), requires_grad=grad) for a in args]
        out = F.batch_norm_relu(tensors[0], None, None, tensors[2], tensors[3], True,
                                residual=tensors[1])
        return tensors, out

    tensors, out = run((x, r, w, b), grad=True)
    out.backward(cg.tensor(upstream))
    for i, array in enumerate((x, r, w, b)):
        def loss(values, i=i):
            args = [x, r, w, b]
            args[i] = values
            return float((run(args)[1].numpy() * upstream).sum())

        numeric = numerical_gradient(loss, array.copy())
        assert relative_error(tensors[i].grad.numpy(), numeric) < 1e-6


def test_empty_batch_matches_torch():
    check_op(_fused(True), _unfused(True), np.zeros((0, 3, 2)), np.zeros((0, 3, 2)),
             np.ones(3), np.zeros(3))


def test_one_graph_node_named_for_what_it_does(rng):
    x = cg.tensor(rng.standard_normal((4, 3, 5)), requires_grad=True)
    z = F.batch_norm_relu(x, None, None, training=True, residual=x * 2)
    assert z.grad_fn.name == "BatchNormReluBackward0"
    assert F.batch_norm_relu(x, None, None, training=True).grad_fn.name == \
        "BatchNormReluBackward0"
    assert F.batch_norm(x, None, None, training=True).grad_fn.name == "NativeBatchNormBackward0"


def test_a_residual_of_another_shape_raises_as_the_addition_would(rng):
    x = rng.standard_normal((4, 3, 5))
    message = check_raises_like(
        lambda: F.batch_norm_relu(cg.tensor(x), None, None, training=True,
                                  residual=cg.tensor(x[:, :, :4])),
        lambda: TF.relu(TF.batch_norm(torch.tensor(x), None, None, training=True)
                        + torch.tensor(x[:, :, :4])),
        "residual", r"\(4, 3, 5\)", r"\(4, 3, 4\)")
    assert "batch_norm_relu" in message


def test_bad_batch_norm_arguments_raise_as_batch_norm():
    check_raises_like(
        lambda: F.batch_norm_relu(cg.tensor(np.ones((1, 3))), None, None, training=True),
        lambda: TF.relu(TF.batch_norm(torch.ones(1, 3), None, None, training=True)),
        "more than 1 value per channel")


# ----------------------------------------------------------------------- the layers' form
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("spatial", [1, 2])
def test_forward_relu_trains_and_evaluates_as_the_separate_layers_in_torch(momentum, spatial,
                                                                          rng):
    shape = (4, 3, 5) if spatial == 1 else (4, 3, 5, 2)
    mine = (cg.nn.BatchNorm1d if spatial == 1 else cg.nn.BatchNorm2d)(3, momentum=momentum)
    theirs = (torch.nn.BatchNorm1d if spatial == 1 else torch.nn.BatchNorm2d)(
        3, momentum=momentum).double()
    mine = mine.double()
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(weight))
        theirs.bias.copy_(torch.tensor(bias))
    mine.weight.data[...] = weight
    mine.bias.data[...] = bias
    for training in (True, True, False):
        mine.train(training)
        theirs.train(training)
        x, r = rng.standard_normal(shape), rng.standard_normal(shape)
        upstream = rng.standard_normal(shape)
        cx, cr = cg.tensor(x, requires_grad=True), cg.tensor(r, requires_grad=True)
        tx, tr = torch.tensor(x, requires_grad=True), torch.tensor(r, requires_grad=True)
        z = mine.forward_relu(cx, cr)
        expected = TF.relu(theirs(tx) + tr)
        np.testing.assert_allclose(z.detach().numpy(), expected.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        (z * cg.tensor(upstream)).sum().backward()
        (expected * torch.tensor(upstream)).sum().backward()
        for a, b in ((cx, tx), (cr, tr), (mine.weight, theirs.weight),
                     (mine.bias, theirs.bias)):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            np.testing.assert_allclose(getattr(mine, name).numpy(),
                                       getattr(theirs, name).numpy(), rtol=1e-12)


def test_forward_hooks_see_the_batch_norms_own_output(rng):
    """A hook on the layer sees batch_norm(x), not the fused relu(batch_norm(x) + r)."""
    norm = cg.nn.BatchNorm1d(3).double()
    seen = []
    norm.register_forward_hook(lambda module, args, output: seen.append(output.detach().numpy()))
    x, r = rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 3, 5))
    z = norm.forward_relu(cg.tensor(x), cg.tensor(r))
    expected_y = TF.batch_norm(torch.tensor(x), None, None, training=True).numpy()
    np.testing.assert_allclose(seen[0], expected_y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(z.detach().numpy(), np.maximum(expected_y + r, 0), rtol=1e-10,
                               atol=1e-12)


@pytest.fixture
def two_threads():
    previous = cg.get_num_threads()
    cg.set_num_threads(2)
    yield
    cg.set_num_threads(previous)


def _fused_gradients(x, r, w, b, g, training, layout):
    """convgrad's fused output and the gradients of Σ g·z for x, r, γ, β."""
    tensors = [cg.tensor(a, requires_grad=True) for a in (x, r, w, b)]
    if layout == "channels_last":
        tensors[:2] = [cg.tensor(np.ascontiguousarray(a.transpose(0, 2, 3, 1))
                                 .transpose(0, 3, 1, 2), requires_grad=True) for a in (x, r)]
    rm, rv = _running_stats(cg, x.shape[1], x.dtype)
    z = F.batch_norm_relu(tensors[0], rm, rv, tensors[2], tensors[3], training,
                          residual=tensors[1])
    (z * cg.tensor(g)).sum().backward()
    return [z.detach().numpy(), rm.numpy(), rv.numpy()] + [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("mean", [0.5, 30.0], ids=["near-zero", "far-from-zero"])
def test_big_batch_norms_shared_between_threads_match_one_thread_and_torch_and_repeat(
        layout, training, mean, two_threads, rng):
    """Above the size threshold the passes run in row blocks on two threads, the per-channel
    sums added block by block: PyTorch's results (float64), one thread's results up to the
    order of the float32 sums, and the same bits every run."""
    from convgrad.kernels.channels import channel_view

    shape = (16, 8, 32, 32)               # 131 072 numbers: over the threshold
    x = rng.standard_normal(shape) * 0.5 + mean
    r, g = rng.standard_normal(shape), rng.standard_normal(shape)
    w, b = rng.standard_normal(8), rng.standard_normal(8)
    if blas.can_control_threads():       # else there are no workers and nothing is split
        assert len(channel_view(x, False).row_blocks()) == 2
    check_op(_fused(training), _unfused(training), x, r, w, b,
             layout=None if layout == "channels_first" else layout)
    x, r, g, w, b = (a.astype(np.float32) for a in (x, r, g, w, b))
    first, second = (_fused_gradients(x, r, w, b, g, training, layout) for _ in range(2))
    for one, again in zip(first, second):
        np.testing.assert_array_equal(one, again)
    cg.set_num_threads(1)
    for split, whole in zip(first, _fused_gradients(x, r, w, b, g, training, layout)):
        np.testing.assert_allclose(split, whole, rtol=1e-5, atol=1e-4)
