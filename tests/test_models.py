"""Models: parameter counts, and parity with their PyTorch twins (``torch_model(name)``, the
same structure and key names written in torch.nn) — the state dict loads into the twin,
outputs and every parameter's gradient agree in float64."""
import numpy as np
import pytest

import convgrad as cg
from convgrad.interop.torch import torch_model
from convgrad.models import MODELS, get_model
from parity import check_model, torch_twin

TOL = dict(rtol=1e-9, atol=1e-11)


# The torch twins are convgrad.interop.torch_models' classes (the same layers under the same
# attribute names), so the state dict loads into them unchanged.
TWINS = [
    ("logistic", (5, 40)),
    ("mlp", (5, 40)),
    ("cnn", (5, 40)),
    ("cnn", (5, 1, 40)),
    ("lenet5", (2, 1, 28, 28)),
    ("lenet5-small", (3, 1, 8, 8)),
    ("resnet1d", (4, 40)),
    ("plain1d", (4, 1, 40)),
    ("resnet20", (2, 3, 32, 32)),
    ("plain20", (2, 3, 32, 32)),
]


@pytest.mark.parametrize("name, shape", TWINS)
@pytest.mark.parametrize("training", [True, False])
def test_models_match_their_torch_twins(name, shape, training):
    mine, theirs = torch_twin(name)
    mine.train(training)
    theirs.train(training)
    rng = np.random.default_rng(1)
    out_mine, out_theirs = check_model(mine, theirs, rng.standard_normal(shape), rng, TOL)
    assert out_mine.shape == tuple(out_theirs.shape) == (shape[0], 10)
    for key, value in theirs.state_dict().items():   # running statistics after the step
        np.testing.assert_allclose(mine.state_dict()[key].numpy(), value.numpy(), err_msg=key,
                                   **TOL)


@pytest.mark.parametrize("name, expected", [
    ("logistic", 410), ("mlp", 15_210), ("cnn", 5_210), ("lenet5", 61_706),
    ("lenet5-small", 19_754), ("resnet1d", 58_458), ("plain1d", 58_458),
    ("resnet20", 269_722), ("plain20", 269_722), ("resnet32", 464_154),
    ("resnet44", 658_586), ("resnet56", 853_018), ("resnet110", 1_727_962),
    ("plain110", 1_727_962)])
def test_parameter_counts(name, expected):
    assert sum(p.numel() for p in get_model(name).parameters()) == expected


def test_resnet20_count_by_hand():
    # conv1 3·16·9 + bn 2·16; each block 2 convs (9·c_in·c + 9·c·c) + 2 BN (4c); fc 64·10 + 10.
    stem = 3 * 16 * 9 + 32
    layer1 = 3 * (2 * 9 * 16 * 16 + 64)
    layer2 = (9 * 16 * 32 + 9 * 32 * 32 + 128) + 2 * (2 * 9 * 32 * 32 + 128)
    layer3 = (9 * 32 * 64 + 9 * 64 * 64 + 256) + 2 * (2 * 9 * 64 * 64 + 256)
    assert stem + layer1 + layer2 + layer3 + 650 == 269_722 == \
        sum(p.numel() for p in get_model("resnet20").parameters())


def test_plain_twin_has_the_same_parameters_but_no_shortcuts():
    cg.manual_seed(0)
    residual = get_model("resnet20")
    plain = get_model("plain20")
    assert [(k, v.shape) for k, v in residual.state_dict().items()] == \
        [(k, v.shape) for k, v in plain.state_dict().items()]
    plain.load_state_dict(residual.state_dict())
    x = cg.randn(2, 3, 32, 32)
    assert not np.allclose(residual(x).data, plain(x).data)
    assert all(block.shortcut is None for block in plain.layer2)
    assert (residual.depth, residual.plain, plain.plain) == (20, False, True)
    assert plain.layer1[0].plain and not residual.layer1[0].plain
    assert sum(isinstance(m, type(residual.layer2[0].shortcut)) for m in residual.modules()) == 2


def test_option_a_shortcut_subsamples_and_pads_zero_channels():
    from convgrad.models import ZeroPadShortcut
    x = cg.tensor(np.arange(2 * 4 * 4 * 4, dtype=np.float64).reshape(2, 4, 4, 4))
    y = ZeroPadShortcut(4, 8, 2)(x).data
    assert y.shape == (2, 8, 2, 2) and list(ZeroPadShortcut(4, 8, 2).parameters()) == []
    np.testing.assert_array_equal(y[:, 2:6], x.data[:, :, ::2, ::2])
    assert np.all(y[:, :2] == 0) and np.all(y[:, 6:] == 0)


def test_conv_base_accepts_flat_and_channel_inputs_and_every_model_runs_on_its_shape():
    cg.manual_seed(0)
    cnn = get_model("cnn")
    x = cg.randn(3, 40)
    np.testing.assert_array_equal(cnn(x).data, cnn(x.view(3, 1, 40)).data)
    for name, spec in MODELS.items():
        if name in ("resnet110", "plain110", "resnet56", "plain56", "resnet44", "plain44"):
            continue   # same code as resnet20/32, only deeper; counted above
        model = get_model(name).eval()
        assert model(cg.zeros(2, *spec.input_shape)).shape == (2, 10), name


def test_registry_errors_and_kwargs():
    with pytest.raises(ValueError, match="unknown model 'vgg'.*resnet20"):
        get_model("vgg")
    assert get_model("resnet20", num_classes=100).fc.out_features == 100
    with pytest.raises(ValueError, match="6n \\+ 2"):
        get_model("resnet20").__class__(depth=21)
    assert MODELS["cnn"].input_shape == (1, 40) and MODELS["resnet20"].dataset == "cifar10"


def test_models_are_reproducible_from_the_seed():
    cg.manual_seed(3)
    a = get_model("cnn").state_dict()
    cg.manual_seed(3)
    b = get_model("cnn").state_dict()
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_repr_lists_the_layers_like_torch():
    cg.manual_seed(0)
    assert repr(get_model("lenet5")) == repr(torch_model("lenet5"))
    assert repr(get_model("cnn")) == repr(torch_model("cnn"))
    assert "(conv1): Conv1d(1, 25, kernel_size=(5,), stride=(2,), padding=(1,))" in \
        repr(get_model("cnn"))
