"""Depth families (``convgrad.models.FAMILIES``): a residual network and its plain twin at
any depth of the family's form, by name — the same parameters, the depth the name says,
parity with the PyTorch twins, and one clear line for a depth the family does not have."""
import re

import numpy as np
import pytest

import convgrad as cg
from convgrad.models import FAMILIES, MODELS, get_model
from convgrad.train.config import ConfigError, TrainConfig
from parity import check_model, torch_twin

TOL = dict(rtol=1e-9, atol=1e-11)


def weight_layers(model):
    """Convolutions and linear layers: the weighted layers a depth counts."""
    return [name for name, p in model.named_parameters() if p.ndim >= 2]


@pytest.mark.parametrize("residual, plain, depth", [
    ("resnet1d-8", "plain1d-8", 8), ("resnet1d-26", "plain1d-26", 26),
    ("resnet14", "plain14", 14), ("reslenet-6", "lenet-6", 6), ("reslenet-14", "lenet-14", 14),
])
def test_a_family_name_builds_that_depth_with_and_without_shortcuts(residual, plain, depth):
    with_skips, without = get_model(residual), get_model(plain)
    assert len(weight_layers(with_skips)) == len(weight_layers(without)) == depth
    assert [(n, p.shape) for n, p in with_skips.named_parameters()] == \
        [(n, p.shape) for n, p in without.named_parameters()]
    shortcuts = [m for m in with_skips.modules() if type(m).__name__ in
                 ("Identity", "ZeroPadShortcut")]
    assert len(shortcuts) == (depth - 2) // 2       # one per block of two layers
    assert not [m for m in without.modules() if type(m).__name__ in
                ("Identity", "ZeroPadShortcut")]


def test_family_networks_equal_the_named_ones():
    for family_name, named in (("resnet1d-14", "resnet1d"), ("plain1d-14", "plain1d"),
                               ("resnet20", "resnet20")):
        cg.manual_seed(3)
        a = get_model(family_name).state_dict()
        cg.manual_seed(3)
        b = get_model(named).state_dict()
        assert list(a) == list(b)
        assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


@pytest.mark.parametrize("name, shape", [("plain1d-8", (3, 40)), ("resnet1d-20", (3, 1, 40)),
                                         ("reslenet-10", (2, 1, 8, 8)),
                                         ("lenet-6", (2, 1, 8, 8)),
                                         ("resnet8", (2, 3, 32, 32))])
def test_family_networks_match_their_torch_twins(name, shape):
    mine, theirs = torch_twin(name)
    mine.train()
    theirs.train()
    rng = np.random.default_rng(1)
    check_model(mine, theirs, rng.standard_normal(shape), rng, TOL)


@pytest.mark.parametrize("name, fragment", [
    ("plain1d-9", "the resnet1d family has depths 6n + 2"),
    ("resnet1d-2", "not 2"),
    ("lenet-8", "the lenet family has depths 4n + 2"),
    ("resnet21", "the cifar family has depths 6n + 2"),
])
def test_a_depth_outside_the_family_is_one_clear_error(name, fragment):
    assert name not in MODELS
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        TrainConfig(model=name)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        get_model(name)


def test_family_models_take_their_data_set_and_the_named_list_stays_finite():
    assert TrainConfig(model="plain1d-50").dataset == "mnist1d"
    assert TrainConfig(model="reslenet-10").dataset == "digits"
    assert TrainConfig(model="plain32").dataset == "cifar10"
    assert "plain1d-50" not in list(MODELS)
    for family in FAMILIES.values():
        for depth in family.examples:
            assert family.model_name(depth, True) in MODELS
