"""cross_entropy, nll_loss and mse_loss against PyTorch, every option, plus invariants."""
import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from parity import check_op, numerical_gradient, relative_error

REDUCTIONS = ["mean", "sum", "none"]
CLASSES = 5


def _targets(rng, shape, ignore_index=None, classes=CLASSES):
    """Class indices of ``shape``, a third of them set to ``ignore_index`` when given."""
    target = rng.integers(0, classes, shape)
    if ignore_index is not None:
        target[rng.random(shape) < 1 / 3] = ignore_index
        target.flat[0] = 1  # at least one position counts, so 'mean' is finite
    return target


def _probabilities(rng, shape):
    """Rows of class probabilities along dim 1."""
    logits = rng.standard_normal(shape)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _with_weight(fn, weight, module, **kwargs):
    """``fn(input, target, weight=..., **kwargs)``: weight is a constant of each library."""
    tensor = None if weight is None else module.tensor(weight)
    return lambda x, t: fn(x, t, weight=None if tensor is None else
                           (tensor.to(x.dtype) if module is torch else tensor.to(x.dtype)),
                           **kwargs)


def _pair(name, weight, **kwargs):
    ours, theirs = getattr(F, name), getattr(TF, name)
    return _with_weight(ours, weight, cg, **kwargs), _with_weight(theirs, weight, torch, **kwargs)


INDEX_SHAPES = [((6, CLASSES), (6,)), ((3, CLASSES, 4), (3, 4)), ((2, CLASSES, 3, 4), (2, 3, 4)),
                ((2, CLASSES, 2, 2, 3), (2, 2, 2, 3)), ((CLASSES,), ())]
INDEX_IDS = ["N", "N-L", "N-H-W", "N-D-H-W", "unbatched"]


@pytest.mark.parametrize("shapes", INDEX_SHAPES, ids=INDEX_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("ignore_index", [-100, 2], ids=["ignore-100", "ignore2"])
def test_cross_entropy_index_targets(shapes, reduction, weighted, label_smoothing, ignore_index,
                                     rng):
    input_shape, target_shape = shapes
    x = rng.standard_normal(input_shape) * 2
    target = _targets(rng, target_shape, ignore_index)
    weight = rng.uniform(0.2, 2.0, CLASSES) if weighted else None
    ours, theirs = _pair("cross_entropy", weight, reduction=reduction,
                         label_smoothing=label_smoothing, ignore_index=ignore_index)
    check_op(ours, theirs, x, target)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_float32_and_float64(dtype, reduction, rng):
    x = rng.standard_normal((8, CLASSES, 3)) * 3
    target = _targets(rng, (8, 3), -100)
    weight = rng.uniform(0.2, 2.0, CLASSES).astype(dtype)
    ours, theirs = _pair("cross_entropy", weight, reduction=reduction, label_smoothing=0.1)
    check_op(ours, theirs, x, target, dtype=dtype)


@pytest.mark.parametrize("shape", [(6, CLASSES), (3, CLASSES, 4), (2, CLASSES, 3, 4), (CLASSES,)],
                         ids=["N", "N-L", "N-H-W", "unbatched"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets(shape, reduction, weighted, label_smoothing, rng):
    # Both the logits and the probabilities require grad: torch differentiates both.
    x = rng.standard_normal(shape)
    probabilities = _probabilities(rng, shape if len(shape) > 1 else (1,) + shape).reshape(shape)
    weight = rng.uniform(0.2, 2.0, CLASSES) if weighted else None
    ours, theirs = _pair("cross_entropy", weight, reduction=reduction,
                         label_smoothing=label_smoothing)
    check_op(ours, theirs, x, probabilities)
    check_op(ours, theirs, x, probabilities, dtype=np.float32)


def test_probability_targets_equal_to_onehot_match_index_targets(rng):
    x = rng.standard_normal((6, CLASSES))
    target = rng.integers(0, CLASSES, 6)
    onehot = np.eye(CLASSES)[target]
    for smoothing in (0.0, 0.2):
        by_index = F.cross_entropy(cg.tensor(x), cg.tensor(target), label_smoothing=smoothing)
        by_probability = F.cross_entropy(cg.tensor(x), cg.tensor(onehot),
                                         label_smoothing=smoothing)
        np.testing.assert_allclose(by_index.item(), by_probability.item(), rtol=1e-12)


@pytest.mark.parametrize("shapes", INDEX_SHAPES, ids=INDEX_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("ignore_index", [-100, 3, -1], ids=["ignore-100", "ignore3", "ignore-1"])
def test_nll_loss(shapes, reduction, weighted, ignore_index, rng):
    input_shape, target_shape = shapes
    log_probs = rng.standard_normal(input_shape)
    target = _targets(rng, target_shape, ignore_index)
    weight = rng.uniform(0.2, 2.0, CLASSES) if weighted else None
    ours, theirs = _pair("nll_loss", weight, reduction=reduction, ignore_index=ignore_index)
    check_op(ours, theirs, log_probs, target)
    check_op(ours, theirs, log_probs, target, dtype=np.float32)


def test_nll_of_log_softmax_equals_cross_entropy(rng):
    x = cg.tensor(rng.standard_normal((4, CLASSES, 3)))
    target = cg.tensor(rng.integers(0, CLASSES, (4, 3)))
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, dim=1), target).item(),
                               F.cross_entropy(x, target).item(), rtol=1e-12)


def test_uint8_targets_are_accepted_like_torch(rng):
    x = rng.standard_normal((6, CLASSES))
    target = rng.integers(0, CLASSES, 6).astype(np.uint8)
    check_op(F.cross_entropy, TF.cross_entropy, x, target)
    check_op(F.nll_loss, TF.nll_loss, x, target)


def test_every_target_ignored_gives_nan_mean_and_zero_gradient(rng):
    x = rng.standard_normal((4, CLASSES))
    target = np.full(4, -100)
    for smoothing in (0.0, 0.1):
        check_op(lambda a, t: F.cross_entropy(a, t, label_smoothing=smoothing),
                 lambda a, t: TF.cross_entropy(a, t, label_smoothing=smoothing), x, target)
        ours = F.cross_entropy(cg.tensor(x), cg.tensor(target), label_smoothing=smoothing)
        assert np.isnan(ours.item())
    check_op(F.nll_loss, TF.nll_loss, x, target)
    check_op(lambda a, t: F.cross_entropy(a, t, reduction="sum"),
             lambda a, t: TF.cross_entropy(a, t, reduction="sum"), x, target)


def test_zero_total_weight_matches_torch_nan(rng):
    x = rng.standard_normal((4, 3))
    target = np.array([1, 2, 1, 2])
    weight = np.array([1.0, 0.0, 0.0])
    for name, kwargs in (("nll_loss", {}), ("cross_entropy", {}),
                         ("cross_entropy", {"label_smoothing": 0.3})):
        ours, theirs = _pair(name, weight, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # and no NumPy division warnings on the way
            check_op(ours, theirs, x, target)


def test_empty_batch_matches_torch():
    x = np.zeros((0, CLASSES))
    check_op(F.cross_entropy, TF.cross_entropy, x, np.zeros(0, dtype=np.int64))
    check_op(F.cross_entropy, TF.cross_entropy, x, np.zeros((0, CLASSES)))
    check_op(lambda a, t: F.nll_loss(a, t, reduction="sum"),
             lambda a, t: TF.nll_loss(a, t, reduction="sum"), x, np.zeros(0, dtype=np.int64))


def test_extreme_logits_stay_finite(rng):
    x = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [500.0, 500.0, 500.0]])
    target = np.array([0, 2, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_op(F.cross_entropy, TF.cross_entropy, x, target)
        check_op(F.cross_entropy, TF.cross_entropy, x, target, dtype=np.float32)


# ----------------------------------------------------------------------------- invariants
@pytest.mark.parametrize("shape,target_shape", [((6, CLASSES), (6,)), ((3, CLASSES, 4), (3, 4))])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradient_sums_to_zero_over_classes(shape, target_shape, reduction, rng):
    # ∂ℓ_i/∂z_ic = p_ic − onehot_ic, and Σ_c p_ic = 1 = Σ_c onehot_ic.
    for smoothing in (0.0, 0.4):
        x = cg.tensor(rng.standard_normal(shape) * 3, requires_grad=True)
        loss = F.cross_entropy(x, cg.tensor(rng.integers(0, CLASSES, target_shape)),
                               reduction=reduction, label_smoothing=smoothing)
        loss.backward(cg.tensor(rng.standard_normal(loss.shape)))
        np.testing.assert_allclose(x.grad.numpy().sum(axis=1), 0, atol=1e-12)
        assert np.abs(x.grad.numpy()).max() > 1e-3  # and it is not trivially zero


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(rng):
    x = rng.standard_normal((4, CLASSES))
    target = rng.integers(0, CLASSES, 4)
    logits = cg.tensor(x, requires_grad=True)
    F.cross_entropy(logits, cg.tensor(target)).backward()
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(logits.grad.numpy(), (p - np.eye(CLASSES)[target]) / 4,
                               rtol=1e-12)


def test_mean_divides_by_summed_weights_of_counted_targets(rng):
    x = rng.standard_normal((5, 3))
    target = np.array([0, 1, 2, -100, 1])
    weight = np.array([0.5, 2.0, 3.0])
    total = F.cross_entropy(cg.tensor(x), cg.tensor(target), weight=cg.tensor(weight),
                            reduction="sum").item()
    mean = F.cross_entropy(cg.tensor(x), cg.tensor(target), weight=cg.tensor(weight)).item()
    np.testing.assert_allclose(mean, total / (0.5 + 2.0 + 3.0 + 2.0), rtol=1e-12)


# ----------------------------------------------------------------------------- gradient checks
def _centred_difference_check(loss_fn, arrays, rng, grad_indices=(0,)):
    tensors = [cg.tensor(a.copy(), requires_grad=(i in grad_indices))
               for i, a in enumerate(arrays)]
    out = loss_fn(*tensors)
    upstream = rng.standard_normal(out.shape)
    out.backward(cg.tensor(upstream))
    for i in grad_indices:
        def scalar(values, i=i):
            args = list(arrays)
            args[i] = values
            return float((loss_fn(*map(cg.tensor, args)).numpy() * upstream).sum())

        numeric = numerical_gradient(scalar, arrays[i].copy(), eps=1e-5)
        # Per-element relative error: entries near 1e-4 carry ~1e-10 of difference noise.
        assert relative_error(tensors[i].grad.numpy(), numeric) < 1e-5


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_centred_difference_cross_entropy(reduction, rng):
    weight = cg.tensor(np.array([0.5, 1.5, 1.0]))
    x, target = rng.standard_normal((4, 3, 2)), np.array([[0, 2], [1, -100], [2, 2], [0, 1]])
    _centred_difference_check(
        lambda a, t: F.cross_entropy(a, t, weight=weight, reduction=reduction,
                                     label_smoothing=0.2), [x, target], rng)
    probabilities = _probabilities(rng, (4, 3, 2))
    _centred_difference_check(
        lambda a, t: F.cross_entropy(a, t, weight=weight, reduction=reduction,
                                     label_smoothing=0.2), [x, probabilities], rng, (0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_centred_difference_nll_and_mse(reduction, rng):
    x, target = rng.standard_normal((4, 3)), np.array([0, 2, -100, 1])
    _centred_difference_check(lambda a, t: F.nll_loss(a, t, reduction=reduction),
                              [x, target], rng)
    _centred_difference_check(
        lambda a, t, v: F.mse_loss(a, t, reduction=reduction, weight=v),
        [x, rng.standard_normal((4, 3)), rng.uniform(0.5, 2, (4, 3))], rng, (0, 1, 2))


# ----------------------------------------------------------------------------- mse
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mse_loss(reduction, dtype, rng):
    check_op(lambda a, b: F.mse_loss(a, b, reduction=reduction),
             lambda a, b: TF.mse_loss(a, b, reduction=reduction),
             rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2)), dtype=dtype)


@pytest.mark.parametrize("shapes", [((3, 1), (3,)), ((3, 1), (4,)), ((2, 3), (3,)),
                                    ((3,), (2, 3))])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_broadcasts_with_torchs_warning(shapes, reduction, rng):
    x, t = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    with pytest.warns(UserWarning, match="different to the input size"):
        check_op(lambda a, b: F.mse_loss(a, b, reduction=reduction),
                 lambda a, b: TF.mse_loss(a, b, reduction=reduction), x, t)


def test_mse_loss_same_shapes_do_not_warn(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.mse_loss(cg.tensor(rng.standard_normal(3)), cg.tensor(rng.standard_normal(3)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_weighted(reduction, rng):
    check_op(lambda a, b, v: F.mse_loss(a, b, reduction=reduction, weight=v),
             lambda a, b, v: TF.mse_loss(a, b, reduction=reduction, weight=v),
             rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
             rng.uniform(0.1, 2.0, (4, 3)))


def test_mse_loss_mixed_dtypes_promote_like_torch(rng):
    x32 = rng.standard_normal(3).astype(np.float32)
    for other in (rng.standard_normal(3), np.array([1, 2, 3])):
        ours = F.mse_loss(cg.tensor(x32), cg.tensor(other))
        theirs = TF.mse_loss(torch.tensor(x32), torch.tensor(other))
        assert str(ours.dtype) == str(theirs.dtype).split(".")[1]
        np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-6)


def test_negative_label_smoothing_means_none_as_in_torch_with_a_warning(rng):
    x = rng.standard_normal((4, 3))
    for target in (rng.integers(0, 3, 4), _probabilities(rng, (4, 3))):
        with pytest.warns(UserWarning, match=r"label_smoothing=-0\.1 is negative"):
            check_op(lambda a, t: F.cross_entropy(a, t, label_smoothing=-0.1),
                     lambda a, t: TF.cross_entropy(a, t, label_smoothing=-0.1), x, target)
        np.testing.assert_allclose(
            TF.cross_entropy(torch.tensor(x), torch.tensor(target), label_smoothing=-0.1).item(),
            TF.cross_entropy(torch.tensor(x), torch.tensor(target)).item(), rtol=1e-15)


def test_legacy_size_average_and_reduce_flags(rng):
    x, t = rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    for size_average, reduce in itertools.product([None, True, False], repeat=2):
        if size_average is None and reduce is None:
            continue
        kwargs = dict(size_average=size_average, reduce=reduce)
        with pytest.warns(UserWarning), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            check_op(lambda a, b: F.cross_entropy(a, b, **kwargs),
                     lambda a, b: TF.cross_entropy(a, b, **kwargs), x, t)
