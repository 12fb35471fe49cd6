"""nn.init and default initialisation: fans, gains and bounds against torch's own formulas,
sample statistics, and reproducibility through convgrad.manual_seed."""
import math

import numpy as np
import pytest
import torch
import torch.nn as tnn

import convgrad as cg
import convgrad.nn as nn
from convgrad.nn import init
from parity import check_raises_like


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv1d", None), ("conv_transpose2d", None), ("sigmoid", None),
    ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
    ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_equals_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == \
        tnn.init.calculate_gain(nonlinearity, param)


def test_calculate_gain_errors_like_torch():
    check_raises_like(lambda: init.calculate_gain("swish"),
                      lambda: tnn.init.calculate_gain("swish"), "swish")
    check_raises_like(lambda: init.calculate_gain("leaky_relu", "a"),
                      lambda: tnn.init.calculate_gain("leaky_relu", "a"), "not a valid number")


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3), (6, 2, 3, 5), (7, 1)])
def test_fans_equal_torch(shape):
    assert init._calculate_fan_in_and_fan_out(cg.zeros(*shape)) == \
        tnn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))


def test_fan_of_a_vector_raises_like_torch():
    check_raises_like(lambda: init.xavier_uniform_(cg.zeros(4)),
                      lambda: tnn.init.xavier_uniform_(torch.zeros(4)), "fewer than 2", r"\(4,\)")
    check_raises_like(lambda: init.kaiming_uniform_(cg.zeros(4, 4), mode="fan_avg"),
                      lambda: tnn.init.kaiming_uniform_(torch.zeros(4, 4), mode="fan_avg"),
                      "fan_avg")


# Layers whose default init is U(±1/√fan_in) for weight and bias; fan_in as torch computes
# it from the weight (for a transposed conv: C_out/groups · ∏k).
DEFAULT_INIT = [
    lambda lib: lib.Linear(300, 40),
    lambda lib: lib.Conv1d(8, 64, 5, groups=2),
    lambda lib: lib.Conv2d(6, 33, (3, 2), groups=3),
    lambda lib: lib.ConvTranspose1d(40, 60, 3, groups=2),
    lambda lib: lib.ConvTranspose2d(16, 24, 3, groups=4),
]


@pytest.mark.parametrize("make", DEFAULT_INIT)
def test_default_init_is_uniform_within_one_over_root_fan_in(make):
    mine, theirs = make(nn), make(tnn)
    fan_in, _ = tnn.init._calculate_fan_in_and_fan_out(theirs.weight)
    bound = 1 / math.sqrt(fan_in)
    w = mine.weight.data.astype(np.float64)
    assert w.shape == tuple(theirs.weight.shape)
    assert np.all(np.abs(w) <= bound)
    # U(−b, b): the extremes approach ±b and the standard deviation is b/√3.
    assert w.max() > 0.9 * bound and w.min() < -0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound / math.sqrt(3)
    # torch's weights obey the same bound: the same distribution.
    assert np.all(np.abs(theirs.weight.detach().numpy()) <= bound + 1e-7)
    b = mine.bias.data
    assert np.all(np.abs(b) <= bound) and np.ptp(b) > 0


def test_batchnorm_starts_as_the_identity_transform():
    bn = nn.BatchNorm2d(5)
    np.testing.assert_array_equal(bn.weight.data, np.ones(5))
    np.testing.assert_array_equal(bn.bias.data, np.zeros(5))
    np.testing.assert_array_equal(bn.running_var.data, np.ones(5))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity, a", [("relu", 0), ("leaky_relu", 0.1), ("tanh", 0)])
def test_kaiming_statistics(mode, nonlinearity, a):
    shape = (200, 50, 3)
    fan = 150 if mode == "fan_in" else 600
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    w = init.kaiming_uniform_(cg.zeros(*shape), a=a, mode=mode, nonlinearity=nonlinearity).data
    assert np.all(np.abs(w) <= math.sqrt(3) * std + 1e-7)
    assert abs(w.std() - std) < 0.03 * std
    w = init.kaiming_normal_(cg.zeros(*shape), a=a, mode=mode, nonlinearity=nonlinearity).data
    assert abs(w.std() - std) < 0.03 * std and abs(w.mean()) < 0.03 * std


def test_xavier_statistics():
    shape, gain = (300, 100, 2), 1.7
    fan_in, fan_out = 200, 600
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    w = init.xavier_uniform_(cg.zeros(*shape), gain=gain).data
    assert np.all(np.abs(w) <= math.sqrt(3) * std + 1e-7) and w.max() > 0.99 * math.sqrt(3) * std
    w = init.xavier_normal_(cg.zeros(*shape), gain=gain).data
    assert abs(w.std() - std) < 0.03 * std


def test_fill_functions_write_in_place_and_keep_dtype():
    t = cg.zeros(3, 4, dtype=cg.float64)
    array = t.data
    assert init.ones_(t) is t and t.data is array and np.all(array == 1)
    init.zeros_(t)
    assert np.all(array == 0)
    init.constant_(t, 2.5)
    assert np.all(array == 2.5) and t.dtype == np.float64
    init.uniform_(t, -3, -2)
    assert np.all((array >= -3) & (array < -2))
    init.normal_(t, mean=10, std=0.01)
    assert np.all(np.abs(array - 10) < 0.1)
    p = nn.Linear(2, 2).weight
    init.zeros_(p)
    assert p.requires_grad and np.all(p.data == 0)


def test_zero_element_tensor_warns_like_torch():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(cg.zeros(0, 3))


def test_seeded_models_are_reproducible_and_seeds_differ():
    cg.manual_seed(7)
    first = nn.Sequential(nn.Conv1d(1, 4, 3), nn.Linear(4, 2)).state_dict()
    cg.manual_seed(7)
    second = nn.Sequential(nn.Conv1d(1, 4, 3), nn.Linear(4, 2)).state_dict()
    cg.manual_seed(8)
    third = nn.Sequential(nn.Conv1d(1, 4, 3), nn.Linear(4, 2)).state_dict()
    for key in first:
        np.testing.assert_array_equal(first[key].data, second[key].data)
        assert not np.array_equal(first[key].data, third[key].data)


def test_an_explicit_generator_leaves_the_global_one_alone():
    cg.manual_seed(0)
    expected = cg.rand(3).data
    cg.manual_seed(0)
    init.normal_(cg.zeros(5), generator=np.random.default_rng(1))
    np.testing.assert_array_equal(cg.rand(3).data, expected)
