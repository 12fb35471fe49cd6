"""Bad arguments to linear, activations, dropout, batch_norm and the losses.

Each case is one call written once for both libraries: ``call(F, T)`` receives the functional
module and a tensor constructor.  PyTorch must raise, convgrad must raise the same exception
class, and convgrad's message must name the argument and the numbers (the regexes).
"""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F

_rng = np.random.default_rng(0)


def randn(*shape):
    return _rng.standard_normal(shape).astype(np.float32)


def ints(*values, dtype=np.int64):
    return np.array(values, dtype=dtype)


CASES = [
    # ---------------------------------------------------------------- losses
    ("ce_target_too_large", lambda F, T: F.cross_entropy(T(randn(4, 3)), T(ints(0, 3, 1, 2))),
     [r"Target 3", r"C = 3", r"\[0, 2\]"]),
    ("ce_target_negative", lambda F, T: F.cross_entropy(T(randn(4, 3)), T(ints(0, -1, 1, 2))),
     [r"Target -1", r"C = 3"]),
    ("nll_default_ignore_value_when_ignoring_another",
     lambda F, T: F.nll_loss(T(randn(4, 3)), T(ints(0, -100, 1, 2)), ignore_index=1),
     [r"Target -100", r"ignore_index=1"]),
    ("ce_spatial_target_out_of_range",
     lambda F, T: F.cross_entropy(T(randn(2, 3, 4)), T(np.full((2, 4), 7))),
     [r"Target 7", r"C = 3"]),
    ("ce_batch_size_mismatch", lambda F, T: F.cross_entropy(T(randn(4, 3)), T(ints(0, 1, 1))),
     [r"batch_size \(4\)", r"batch_size \(3\)"]),
    ("nll_batch_size_mismatch", lambda F, T: F.nll_loss(T(randn(4, 3)), T(ints(0, 1, 1))),
     [r"\(4\)", r"\(3\)"]),
    ("ce_spatial_target_shape",
     lambda F, T: F.cross_entropy(T(randn(2, 3, 5)), T(np.zeros((2, 4), np.int64))),
     [r"\[2, 5\]", r"\[2, 4\]"]),
    ("nll_4d_target_shape",
     lambda F, T: F.nll_loss(T(randn(2, 3, 5, 6)), T(np.zeros((2, 5, 7), np.int64))),
     [r"\[2, 5, 6\]", r"\[2, 5, 7\]"]),
    ("ce_multi_target_for_2d_input",
     lambda F, T: F.cross_entropy(T(randn(2, 3)), T(ints(1, 2).reshape(2, 1))),
     [r"\[2\]", r"\[2, 1\]"]),
    ("ce_unbatched_target_too_long",
     lambda F, T: F.cross_entropy(T(randn(3)), T(ints(1, 2))), [r"size: 2", r"\(3,\)"]),
    ("ce_float_target_wrong_shape",
     lambda F, T: F.cross_entropy(T(randn(4, 3)), T(randn(4))), [r"float32", r"\(4, 3\)"]),
    ("ce_int32_target",
     lambda F, T: F.cross_entropy(T(randn(4, 3)), T(ints(0, 1, 2, 0, dtype=np.int32))),
     [r"int32", r"Long or Byte"]),
    ("ce_zero_dim_input", lambda F, T: F.cross_entropy(T(randn()), T(ints(0)[0])),
     [r"0-d", r"\(C,\)"]),
    ("nll_zero_dim_input", lambda F, T: F.nll_loss(T(randn()), T(ints(0)[0])), [r"0-d"]),
    ("ce_weight_length",
     lambda F, T: F.cross_entropy(T(randn(4, 3)), T(ints(0, 1, 2, 0)), weight=T(randn(2))),
     [r"all 3 classes", r"\(2,\)"]),
    ("nll_weight_2d",
     lambda F, T: F.nll_loss(T(randn(4, 3)), T(ints(0, 1, 2, 0)), weight=T(randn(3, 1))),
     [r"3 classes", r"\(3, 1\)"]),
    ("ce_weight_dtype",
     lambda F, T: F.cross_entropy(T(randn(4, 3)), T(ints(0, 1, 2, 0)),
                                  weight=T(np.ones(3))), [r"float64", r"float32"]),
    ("ce_unknown_reduction",
     lambda F, T: F.cross_entropy(T(randn(4, 3)), T(ints(0, 1, 2, 0)), reduction="avg"),
     [r"avg", r"'mean'"]),
    ("nll_unknown_reduction",
     lambda F, T: F.nll_loss(T(randn(4, 3)), T(ints(0, 1, 2, 0)), reduction="foo"), [r"foo"]),
    ("mse_unknown_reduction",
     lambda F, T: F.mse_loss(T(randn(3)), T(randn(3)), reduction="elementwise"),
     [r"elementwise"]),
    ("ce_label_smoothing_above_one",
     lambda F, T: F.cross_entropy(T(randn(4, 3)), T(ints(0, 1, 2, 0)), label_smoothing=1.5),
     [r"label_smoothing", r"1\.5"]),
    ("ce_probabilities_with_ignore_index",
     lambda F, T: F.cross_entropy(T(randn(4, 3)), T(randn(4, 3)), ignore_index=1),
     [r"ignore_index=1", r"floating point target"]),
    ("ce_probabilities_weight_length",
     lambda F, T: F.cross_entropy(T(randn(4, 3)), T(randn(4, 3)), weight=T(randn(2))),
     [r"3 classes", r"\(2,\)"]),
    ("mse_shapes_do_not_broadcast", lambda F, T: F.mse_loss(T(randn(3)), T(randn(4))),
     [r"\(3,\)", r"\(4,\)"]),
    ("mse_weight_shape",
     lambda F, T: F.mse_loss(T(randn(3)), T(randn(3)), weight=T(randn(2))),
     [r"\(2,\)", r"\(3,\)"]),
    # ---------------------------------------------------------------- dropout
    ("dropout_p_above_one", lambda F, T: F.dropout(T(randn(3)), 1.1), [r"p=1\.1"]),
    ("dropout_p_negative", lambda F, T: F.dropout(T(randn(3)), -0.1), [r"p=-0\.1"]),
    ("dropout_integer_input", lambda F, T: F.dropout(T(ints(1, 2, 3)), 0.5), [r"int64"]),
    # ---------------------------------------------------------------- batch_norm
    ("bn_one_value_per_channel",
     lambda F, T: F.batch_norm(T(randn(1, 3)), T(np.zeros(3, np.float32)),
                               T(np.ones(3, np.float32)), training=True),
     [r"more than 1 value per channel", r"\(1, 3\)"]),
    ("bn_one_value_per_channel_3d",
     lambda F, T: F.batch_norm(T(randn(1, 3, 1)), None, None, training=True),
     [r"\(1, 3, 1\)"]),
    ("bn_running_mean_size",
     lambda F, T: F.batch_norm(T(randn(4, 3)), T(np.zeros(4, np.float32)),
                               T(np.ones(3, np.float32)), training=True),
     [r"running_mean", r"3 elements", r"\(4,\)"]),
    ("bn_running_var_size_eval",
     lambda F, T: F.batch_norm(T(randn(4, 3, 2)), T(np.zeros(3, np.float32)),
                               T(np.ones(5, np.float32))),
     [r"running_var", r"3 elements", r"\(5,\)"]),
    ("bn_weight_size",
     lambda F, T: F.batch_norm(T(randn(4, 3)), None, None, T(randn(2)), training=True),
     [r"weight", r"3 elements", r"\(2,\)"]),
    ("bn_bias_size",
     lambda F, T: F.batch_norm(T(randn(4, 3)), None, None, None, T(randn(4)), training=True),
     [r"bias", r"3 elements", r"\(4,\)"]),
    ("bn_eval_without_running_stats",
     lambda F, T: F.batch_norm(T(randn(4, 3)), None, None, training=False),
     [r"evaluation mode"]),
    ("bn_only_running_mean_when_training",
     lambda F, T: F.batch_norm(T(randn(4, 3)), T(np.zeros(3, np.float32)), None,
                               training=True), [r"running_var is None"]),
    ("bn_momentum_none",
     lambda F, T: F.batch_norm(T(randn(4, 3)), T(np.zeros(3, np.float32)),
                               T(np.ones(3, np.float32)), training=True, momentum=None),
     [r"momentum", r"num_batches_tracked"]),
    ("bn_eps_not_positive_when_training",
     lambda F, T: F.batch_norm(T(randn(4, 3)), None, None, training=True, eps=0.0),
     [r"eps", r"0\.0"]),
    ("bn_eps_negative_in_eval",
     lambda F, T: F.batch_norm(T(randn(4, 3)), T(np.zeros(3, np.float32)),
                               T(np.ones(3, np.float32)), eps=-1.0), [r"-1\.0"]),
    ("bn_parameter_dtype",
     lambda F, T: F.batch_norm(T(randn(4, 3)), None, None, T(np.ones(3)), training=True),
     [r"float64", r"float32"]),
    ("bn_one_dimensional_input",
     lambda F, T: F.batch_norm(T(randn(4)), None, None, training=True), [r"\(4,\)"]),
    # ---------------------------------------------------------------- linear
    ("linear_in_features", lambda F, T: F.linear(T(randn(2, 3)), T(randn(4, 5))),
     [r"3 features", r"\(4, 5\)", r"in_features = 5"]),
    ("linear_bias_size",
     lambda F, T: F.linear(T(randn(2, 3)), T(randn(4, 3)), T(randn(5))),
     [r"\(5,\)", r"\(2, 4\)"]),
    ("linear_zero_dim_input", lambda F, T: F.linear(T(randn()), T(randn(4, 3))), [r"0-d"]),
    ("linear_3d_weight", lambda F, T: F.linear(T(randn(2, 3)), T(randn(2, 4, 3))),
     [r"3-D", r"\(2, 4, 3\)"]),
    ("linear_dtype_mismatch",
     lambda F, T: F.linear(T(randn(2, 3)), T(np.ones((4, 3)))), [r"float32", r"float64"]),
    ("linear_vector_weight_with_bias_on_matrix_input",
     lambda F, T: F.linear(T(randn(5, 4)), T(randn(4)), T(randn(5))),
     [r"\(5, 4\)", r"\(4,\)"]),
    # ---------------------------------------------------------------- activations
    ("softmax_dim_too_large", lambda F, T: F.softmax(T(randn(2, 3)), dim=2),
     [r"\[-2, 1\]", r"got 2"]),
    ("log_softmax_dim_too_negative", lambda F, T: F.log_softmax(T(randn(2, 3)), dim=-3),
     [r"\[-2, 1\]", r"got -3", r"\(2, 3\)"]),
    ("softmax_integer_input", lambda F, T: F.softmax(T(ints(1, 2)), dim=0), [r"int64"]),
    ("gelu_unknown_approximation", lambda F, T: F.gelu(T(randn(3)), approximate="fast"),
     [r"'fast'", r"'tanh'"]),
    ("gelu_integer_input", lambda F, T: F.gelu(T(ints(1, 2))), [r"int64"]),
    ("leaky_relu_integer_input", lambda F, T: F.leaky_relu(T(ints(1, -2))), [r"int64"]),
]


def _check(call, must_mention):
    from parity import check_raises_like

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mse_loss's broadcasting warning comes before its error
        return check_raises_like(lambda: call(F, cg.tensor), lambda: call(TF, torch.tensor),
                                 *must_mention)


@pytest.mark.parametrize("name,call,must_mention", CASES, ids=[c[0] for c in CASES])
def test_raises_like_torch(name, call, must_mention):
    _check(call, must_mention)


def test_catalogue_is_large_enough():
    assert len(CASES) >= 12


def test_valid_neighbours_of_the_error_cases_do_not_raise():
    """The checks are not over-eager: the closest valid calls go through in both libraries."""
    valid = [
        lambda F, T: F.cross_entropy(T(randn(4, 3)), T(ints(0, 2, 1, -100))),
        lambda F, T: F.cross_entropy(T(randn(4, 3)), T(ints(0, 2, 1, 5)), ignore_index=5),
        lambda F, T: F.cross_entropy(T(randn(3)), T(ints(1))),
        lambda F, T: F.cross_entropy(T(randn(4, 3)), T(randn(4, 3)), label_smoothing=1.0),
        lambda F, T: F.batch_norm(T(randn(1, 3, 2)), None, None, training=True),
        lambda F, T: F.batch_norm(T(randn(1, 3)), T(np.zeros(3, np.float32)),
                                  T(np.ones(3, np.float32)), training=False, eps=0.0),
        lambda F, T: F.batch_norm(T(randn(4, 3)), None, None, T(randn(1, 3)), training=True),
        lambda F, T: F.dropout(T(randn(3)), 1.0),
        lambda F, T: F.linear(T(randn(2, 3)), T(randn(3))),
        lambda F, T: F.softmax(T(randn()), dim=-1),
    ]
    for call in valid:
        call(TF, torch.tensor)
        call(F, cg.tensor)
