"""convgrad.interop.torch: state dicts, layers and registry models moved to PyTorch and
back, with equal outputs."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn as nn
from convgrad.interop.torch import (from_torch, load_torch_state_dict, tensor_from_torch,
                                    tensor_to_torch, to_numpy_state_dict, to_torch,
                                    to_torch_model, to_torch_state_dict, torch_model)
from convgrad.models import MODELS, get_model

SHAPES = {"mnist1d": (3, 1, 40), "mnist": (2, 1, 28, 28), "digits": (3, 1, 8, 8),
          "cifar10": (2, 3, 32, 32)}


@pytest.mark.parametrize("name", ["logistic", "mlp", "cnn", "lenet5", "lenet5-small",
                                  "resnet1d", "plain1d", "resnet20", "plain20"])
def test_registry_models_move_to_torch_with_equal_outputs(name):
    cg.manual_seed(0)
    model = get_model(name).double().train()
    twin = to_torch_model(model, name)
    assert twin.training and next(twin.parameters()).dtype == torch.float64
    x = np.random.default_rng(0).standard_normal(SHAPES[MODELS[name].dataset])
    np.testing.assert_allclose(model(cg.tensor(x)).data, twin(torch.tensor(x)).detach().numpy(),
                               rtol=1e-9, atol=1e-11)
    # Training mode moved the running statistics identically in both.
    for key, value in twin.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key].numpy(), value.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registry_model_has_a_torch_version_with_the_same_keys(name):
    mine, theirs = get_model(name).state_dict(), torch_model(name).state_dict()
    assert [(k, tuple(v.shape)) for k, v in mine.items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.items()]


def test_weights_trained_in_torch_load_back_into_convgrad():
    torch.manual_seed(0)
    twin = torch_model("cnn")
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.1)
    x = torch.randn(8, 40)
    for _ in range(3):
        optimizer.zero_grad()
        twin(x).pow(2).mean().backward()
        optimizer.step()
    model = get_model("cnn")
    result = load_torch_state_dict(model, twin)
    assert not result.missing_keys and not result.unexpected_keys
    assert model.conv1.weight.dtype == np.float32
    np.testing.assert_allclose(model(cg.tensor(x.numpy())).data, twin(x).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match='Missing key.*"linear.bias"'):
        load_torch_state_dict(get_model("cnn"), {k: v for k, v in twin.state_dict().items()
                                                 if k != "linear.bias"})


def test_state_dict_conversions_keep_dtypes_and_copy():
    bn = nn.BatchNorm1d(3).double()
    sd = to_torch_state_dict(bn)
    assert sd["running_mean"].dtype == torch.float64
    assert sd["num_batches_tracked"].dtype == torch.int64
    sd["running_mean"][0] = 5.0
    assert bn.running_mean.data[0] == 0.0
    arrays = to_numpy_state_dict(bn)
    arrays["weight"][0] = 7.0
    assert bn.weight.data[0] == 1.0


LAYERS = [
    (lambda lib: lib.Linear(4, 3), (3, 4)),
    (lambda lib: lib.Conv1d(2, 4, 3, stride=2, padding=1, padding_mode="reflect"), (2, 2, 9)),
    (lambda lib: lib.Conv2d(4, 6, (3, 2), groups=2, bias=False, dilation=(1, 2)), (2, 4, 6, 7)),
    (lambda lib: lib.ConvTranspose2d(2, 3, 3, stride=2, output_padding=1), (2, 2, 4, 5)),
    (lambda lib: lib.BatchNorm2d(2, momentum=None, eps=1e-3), (2, 2, 4, 5)),
    (lambda lib: lib.Sequential(OrderedDict(
        conv=lib.Conv1d(1, 4, 3), bn=lib.BatchNorm1d(4), act=lib.LeakyReLU(0.2),
        pool=lib.MaxPool1d(2, ceil_mode=True), avg=lib.AvgPool1d(2, count_include_pad=False),
        gap=lib.AdaptiveAvgPool1d(2), flat=lib.Flatten(), drop=lib.Dropout(0.1),
        fc=lib.Linear(8, 3), out=lib.LogSoftmax(dim=1))), (2, 1, 22)),
    (lambda lib: lib.ModuleList([lib.GELU("tanh"), lib.Sigmoid(), lib.Tanh(), lib.Identity(),
                                 lib.Softmax(dim=0), lib.AvgPool2d(2, divisor_override=3),
                                 lib.AdaptiveAvgPool2d((2, 1)), lib.MaxPool2d(2, padding=1)]),
     (2, 3, 6, 6)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_standard_layers_translate_both_ways(make, shape):
    cg.manual_seed(1)
    mine = make(nn).double()
    theirs = to_torch(mine)
    back = from_torch(theirs)
    assert repr(theirs) == repr(mine) == repr(back)
    for key, value in mine.state_dict().items():
        np.testing.assert_array_equal(theirs.state_dict()[key].numpy(), value.numpy())
        np.testing.assert_array_equal(back.state_dict()[key].numpy(), value.numpy())
    mine.eval(), theirs.eval()
    x = np.random.default_rng(2).standard_normal(shape)
    pairs = zip(mine, theirs) if isinstance(mine, nn.ModuleList) else [(mine, theirs)]
    for layer_mine, layer_theirs in pairs:
        np.testing.assert_allclose(layer_mine(cg.tensor(x)).data,
                                   layer_theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-10, atol=1e-12)


def test_custom_modules_are_refused_with_a_pointer_to_state_dicts():
    with pytest.raises(TypeError, match="ConvBase.*state dict"):
        to_torch(get_model("cnn"))
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        torch_model("vgg")


def test_tensors_cross_over_by_value():
    t = cg.tensor(np.arange(6.0).reshape(2, 3))
    tt = tensor_to_torch(t)
    assert tt.dtype == torch.float64 and tt.shape == (2, 3)
    tt[0, 0] = 9.0
    assert t.data[0, 0] == 0.0
    assert tensor_from_torch(tt).data[0, 0] == 9.0


@pytest.mark.parametrize("convert, lib", [(to_torch, nn), (from_torch, torch.nn)])
def test_a_layer_used_twice_converts_once_and_stays_shared(convert, lib):
    """A Sequential reusing one ReLU instance (named_children lists it once) keeps all four
    steps, and a Linear tied at two ModuleList indices stays one layer with one weight."""
    cg.manual_seed(3), torch.manual_seed(3)
    relu = lib.ReLU()
    model = lib.Sequential(lib.Linear(3, 4), relu, lib.Linear(4, 2), relu).double()
    model[2].eval()                                   # modes are copied layer by layer
    converted = convert(model)
    assert len(converted) == 4 and converted[1] is converted[3]
    assert [m.training for m in converted.modules()] == [m.training for m in model.modules()]
    assert repr(converted) == repr(model)
    x = np.random.default_rng(4).standard_normal((5, 3))
    ours = model if lib is nn else converted
    theirs = converted if lib is nn else model
    np.testing.assert_allclose(ours(cg.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)
    tied = lib.Linear(2, 2)
    converted = convert(lib.ModuleList([tied, lib.Tanh(), tied]))
    assert len(converted) == 3 and converted[0] is converted[2]
    assert len(list(converted.parameters())) == 2                 # one weight, one bias


def test_registry_models_built_with_arguments_move_to_torch():
    cg.manual_seed(0)
    model = get_model("resnet20", num_classes=100).eval()
    twin = to_torch_model(model, "resnet20", num_classes=100)
    assert twin.fc.weight.shape == (100, 64) and not twin.training
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(model(cg.tensor(x)).data, twin(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
