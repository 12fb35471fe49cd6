"""Models: parameter counts, and parity with PyTorch twins built here from torch.nn with the
same structure and key names — the state dict loads into the twin, outputs and every
parameter's gradient agree in float64."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import convgrad as cg
import convgrad.nn as nn
from convgrad.models import MODELS, get_model

TOL = dict(rtol=1e-9, atol=1e-11)


# ----------------------------------------------------------------------------- torch twins
class TorchLinearBase(tnn.Module):
    def __init__(self):
        super().__init__()
        self.linear = tnn.Linear(40, 10)

    def forward(self, x):
        return self.linear(x)


class TorchMLPBase(tnn.Module):
    def __init__(self):
        super().__init__()
        self.linear1, self.linear2, self.linear3 = (tnn.Linear(40, 100), tnn.Linear(100, 100),
                                                    tnn.Linear(100, 10))

    def forward(self, x):
        h = self.linear1(x).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


class TorchConvBase(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv1d(1, 25, 5, stride=2, padding=1)
        self.conv2 = tnn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.conv3 = tnn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.linear = tnn.Linear(125, 10)

    def forward(self, x):
        x = x.view(-1, 1, x.shape[-1])
        h = self.conv3(self.conv2(self.conv1(x).relu()).relu()).relu()
        return self.linear(h.view(h.shape[0], -1))


class TorchLeNet5(tnn.Module):
    def __init__(self, k=5, p=2, p2=0, flat=400):
        super().__init__()
        self.features = tnn.Sequential(OrderedDict([
            ("conv1", tnn.Conv2d(1, 6, k, padding=p)), ("relu1", tnn.ReLU()),
            ("pool1", tnn.MaxPool2d(2)), ("conv2", tnn.Conv2d(6, 16, k, padding=p2)),
            ("relu2", tnn.ReLU()), ("pool2", tnn.MaxPool2d(2))]))
        self.classifier = tnn.Sequential(OrderedDict([
            ("flatten", tnn.Flatten()), ("fc1", tnn.Linear(flat, 120)), ("relu3", tnn.ReLU()),
            ("fc2", tnn.Linear(120, 84)), ("relu4", tnn.ReLU()), ("fc3", tnn.Linear(84, 10))]))

    def forward(self, x):
        return self.classifier(self.features(x))


class TorchZeroPad(tnn.Module):
    def __init__(self, cin, cout, stride, spatial):
        super().__init__()
        extra = cout - cin
        self.index = (slice(None), slice(None)) + (slice(None, None, stride),) * spatial
        self.pad = (0, 0) * spatial + (extra // 2, extra - extra // 2)

    def forward(self, x):
        return TF.pad(x[self.index], self.pad)


class TorchBlock(tnn.Module):
    def __init__(self, cin, cout, stride, plain, spatial):
        super().__init__()
        conv, bn = (tnn.Conv2d, tnn.BatchNorm2d) if spatial == 2 else (tnn.Conv1d, tnn.BatchNorm1d)
        self.conv1 = conv(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = bn(cout)
        self.conv2 = conv(cout, cout, 3, padding=1, bias=False)
        self.bn2 = bn(cout)
        self.shortcut = None if plain else (
            tnn.Identity() if stride == 1 and cin == cout else TorchZeroPad(cin, cout, stride,
                                                                            spatial))

    def forward(self, x):
        out = self.bn2(self.conv2(TF.relu(self.bn1(self.conv1(x)))))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return TF.relu(out)


class TorchResNet(tnn.Module):
    """He et al.'s CIFAR ResNet (spatial=2) or the 1-D ResNet (spatial=1)."""

    def __init__(self, n, plain=False, spatial=2, in_channels=3):
        super().__init__()
        conv, bn = (tnn.Conv2d, tnn.BatchNorm2d) if spatial == 2 else (tnn.Conv1d, tnn.BatchNorm1d)
        self.spatial, self.in_channels = spatial, in_channels
        self.conv1 = conv(in_channels, 16, 3, padding=1, bias=False)
        self.bn1 = bn(16)
        stages, cin = [], 16
        for stage, width in enumerate((16, 32, 64)):
            blocks = []
            for i in range(n):
                blocks.append(TorchBlock(cin, width, 2 if stage and not i else 1, plain, spatial))
                cin = width
            stages.append(tnn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = tnn.AdaptiveAvgPool2d(1) if spatial == 2 else tnn.AdaptiveAvgPool1d(1)
        self.fc = tnn.Linear(64, 10)

    def forward(self, x):
        if self.spatial == 1:
            x = x.view(-1, self.in_channels, x.shape[-1])
        out = TF.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.fc(self.avgpool(out).flatten(1))


TWINS = [
    ("logistic", TorchLinearBase, (5, 40)),
    ("mlp", TorchMLPBase, (5, 40)),
    ("cnn", TorchConvBase, (5, 40)),
    ("cnn", TorchConvBase, (5, 1, 40)),
    ("lenet5", TorchLeNet5, (2, 1, 28, 28)),
    ("lenet5-small", lambda: TorchLeNet5(3, 1, 1, 64), (3, 1, 8, 8)),
    ("resnet1d", lambda: TorchResNet(2, spatial=1, in_channels=1), (4, 40)),
    ("plain1d", lambda: TorchResNet(2, plain=True, spatial=1, in_channels=1), (4, 1, 40)),
    ("resnet20", lambda: TorchResNet(3), (2, 3, 32, 32)),
    ("plain20", lambda: TorchResNet(3, plain=True), (2, 3, 32, 32)),
]


def _load_twin(name, make_twin):
    """Our model by name and its torch twin, with our (seeded) weights copied into torch."""
    cg.manual_seed(0)
    mine = get_model(name).double()
    theirs = make_twin().double()
    assert list(mine.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in mine.state_dict().items()})
    return mine, theirs


@pytest.mark.parametrize("name, make_twin, shape", TWINS)
@pytest.mark.parametrize("training", [True, False])
def test_models_match_their_torch_twins(name, make_twin, shape, training):
    mine, theirs = _load_twin(name, make_twin)
    mine.train(training)
    theirs.train(training)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    out_mine, out_theirs = mine(cg.tensor(x)), theirs(torch.tensor(x))
    assert out_mine.shape == tuple(out_theirs.shape) == (shape[0], 10)
    np.testing.assert_allclose(out_mine.data, out_theirs.detach().numpy(), **TOL)
    upstream = rng.standard_normal(out_mine.shape)
    (out_mine * cg.tensor(upstream)).sum().backward()
    (out_theirs * torch.tensor(upstream)).sum().backward()
    for (key, p_mine), (_, p_theirs) in zip(mine.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p_mine.grad.data, p_theirs.grad.numpy(), err_msg=key, **TOL)
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
    assert repr(get_model("lenet5")) == repr(TorchLeNet5()).replace("TorchLeNet5", "LeNet5")
    assert repr(get_model("cnn")) == repr(TorchConvBase()).replace("TorchConvBase", "ConvBase")
    assert "(conv1): Conv1d(1, 25, kernel_size=(5,), stride=(2,), padding=(1,))" in \
        repr(get_model("cnn"))
