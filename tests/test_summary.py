"""convgrad.summary: every number checked against values computed by hand from the layer
shapes (MNIST-1D's ConvBase and ResNet-20), the model left untouched, the table's text."""
import numpy as np

import convgrad as cg
import convgrad.nn as nn
from convgrad.models import get_model


def test_conv_base_by_hand():
    s = cg.summary(get_model("cnn"), (40,))
    assert [(r.name, r.type, r.output_shape) for r in s.rows] == [
        ("conv1", "Conv1d", (25, 19)),    # ⌊(40 + 2 − 5)/2⌋ + 1 = 19
        ("conv2", "Conv1d", (25, 10)),    # ⌊(19 + 2 − 3)/2⌋ + 1 = 10
        ("conv3", "Conv1d", (25, 5)),     # ⌊(10 + 2 − 3)/2⌋ + 1 = 5
        ("linear", "Linear", (10,)),
    ]
    # params: 25·1·5 + 25, 25·25·3 + 25 (twice), 125·10 + 10
    assert [r.params for r in s.rows] == [150, 1900, 1900, 1260]
    # mult-adds: outputs · (C_in · k); linear: 10 · 125
    assert [r.macs for r in s.rows] == [25 * 19 * 5, 25 * 10 * 75, 25 * 5 * 75, 1250]
    # a dense layer from the same input to the same output: d_in · d_out + d_out
    assert [r.dense_params for r in s.rows] == [40 * 475 + 475, 475 * 250 + 250,
                                                250 * 125 + 125, 1260]
    assert s.total_params == s.trainable_params == 5210
    assert s.total_macs == 2375 + 18750 + 9375 + 1250 == 31_750
    assert s.dense_equivalent_params == 19_475 + 119_000 + 31_375 + 1260


def test_resnet20_by_hand():
    s = cg.summary(get_model("resnet20"), (3, 32, 32))
    convs = [r for r in s.rows if r.type == "Conv2d"]
    assert len(convs) == 19 and sum(r.type == "Linear" for r in s.rows) == 1   # 6·3 + 2 = 20
    assert [r.output_shape for r in convs] == [(16, 32, 32)] * 7 + [(32, 16, 16)] * 6 + \
        [(64, 8, 8)] * 6
    stem = 16 * 32 * 32 * 27
    layer1 = 6 * (16 * 32 * 32 * 16 * 9)
    layer2 = 32 * 16 * 16 * 16 * 9 + 5 * (32 * 16 * 16 * 32 * 9)
    layer3 = 64 * 8 * 8 * 32 * 9 + 5 * (64 * 8 * 8 * 64 * 9)
    assert s.total_macs == stem + layer1 + layer2 + layer3 + 640 == 40_551_040
    assert s.total_params == 269_722
    shortcuts = [r for r in s.rows if r.type == "ZeroPadShortcut"]
    assert [(r.name, r.input_shape, r.output_shape, r.params) for r in shortcuts] == [
        ("layer2.0.shortcut", (16, 32, 32), (32, 16, 16), 0),
        ("layer3.0.shortcut", (32, 16, 16), (64, 8, 8), 0)]
    assert s.rows[-1].name == "fc" and s.rows[-2].output_shape == (64, 1, 1)
    assert sum(r.params for r in s.rows) == s.total_params


def test_the_model_is_left_exactly_as_it_was():
    model = get_model("resnet1d").train()
    model.layer1[0].bn1.eval()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    cg.summary(model, (40,))
    assert model.training and not model.layer1[0].bn1.training and model.layer2[0].bn1.training
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key], err_msg=key)
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_transposed_conv_padding_modes_shared_layers_and_float64():
    shared = nn.Linear(6, 6)
    model = nn.Sequential(
        nn.Conv1d(2, 4, 3, padding=1, padding_mode="circular", bias=False),   # 4 × 8
        nn.ConvTranspose1d(4, 3, 3, stride=2),                                 # 3 × 17
        nn.AdaptiveAvgPool1d(6), nn.Flatten(), nn.Linear(18, 6), shared, nn.ReLU(), shared,
    ).double()
    s = cg.summary(model, (2, 8))
    rows = {r.name: r for r in s.rows}
    # the circular padding is inside the layer: dense equivalent maps the 2·8 inputs to 4·8
    assert rows["0"].macs == 32 * 2 * 3 and rows["0"].dense_params == 16 * 32
    # transposed: each of the 4·8 inputs meets C_out · k = 9 weights
    assert rows["1"].output_shape == (3, 17) and rows["1"].macs == 32 * 9
    assert rows["1"].dense_params == 32 * 51 + 51
    assert [r.name for r in s.rows].count("5") == 2
    assert [r.params for r in s.rows if r.name == "5"] == [42, 0]
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.total_macs == 192 + 288 + 18 * 6 + 2 * 36


def test_table_text_and_dict():
    s = cg.summary(get_model("cnn"), (40,))
    text = str(s)
    assert text == repr(s)
    lines = text.splitlines()
    assert lines[0] == "ConvBase: input 40"
    conv1 = next(line for line in lines if line.startswith("conv1"))
    assert conv1.split() == ["conv1", "Conv1d", "25", "×", "19", "150", "2,375", "19,475"]
    total = next(line for line in lines if line.startswith("Total"))
    assert total.split() == ["Total", "5,210", "31,750", "171,110"]
    assert s.to_dict()["rows"][0]["name"] == "conv1"
